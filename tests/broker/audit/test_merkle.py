"""RFC 6962 Merkle math against the CT reference vectors and by exhaustive proof checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broker.audit import merkle

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "merkle_rfc6962.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves_hex"]]


def _tree(n: int) -> tuple[list[bytes], merkle.SubtreeRoot]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]

    def subtree(a: int, b: int) -> bytes:
        return merkle.root_from_leaves(leaves[a:b])

    return leaves, subtree


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_reference_vectors(size: int) -> None:
    assert merkle.root_from_leaves(LEAVES[:size]).hex() == VECTORS["roots_hex"][str(size)]


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle.root_from_leaves([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_stored_nodes_give_the_same_roots_as_recomputation() -> None:
    leaves, _ = _tree(37)
    nodes: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(leaves):
        for level, idx, h in merkle.completed_nodes(i, leaf, lambda lv, ix: nodes[(lv, ix)]):
            nodes[(level, idx)] = h
    for n in range(1, 38):
        assert merkle.subtree_from_nodes(lambda lv, ix: nodes[(lv, ix)], 0, n) == \
            merkle.root_from_leaves(leaves[:n])


def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not() -> None:
    for size in range(1, 34):
        leaves, subtree = _tree(size)
        root = subtree(0, size)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, subtree)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
            assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), proof, root)
            if size > 1:
                assert not merkle.verify_inclusion((index + 1) % size, size, leaves[index],
                                                   proof, root)


def test_every_consistency_proof_verifies_and_a_forked_tree_does_not() -> None:
    _leaves, subtree = _tree(33)
    for new in range(1, 34):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, new, subtree)
            assert merkle.verify_consistency(old, new, subtree(0, old), subtree(0, new), proof)
            forked = merkle.node_hash(subtree(0, old), b"\x00" * 32)
            if old < new:
                assert not merkle.verify_consistency(old, new, forked, subtree(0, new), proof)


def test_proof_arguments_out_of_range_are_refused() -> None:
    _, subtree = _tree(4)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(4, 4, subtree)
    with pytest.raises(ValueError):
        merkle.consistency_proof(5, 4, subtree)
