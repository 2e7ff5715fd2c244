"""RFC 6962 / RFC 9162 Merkle tree math: hashes, roots, proofs. Pure, no I/O.

Leaves are SHA-256(0x00 || data), interior nodes SHA-256(0x01 || left || right);
the tree over n leaves splits at the largest power of two below n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


SubtreeRoot = Callable[[int, int], bytes]
"""Root of the complete-or-not subtree over leaves [start, end)."""


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (iterative, O(n))."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing left to right and promoting an odd last node gives the RFC 6962 tree.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof(index: int, size: int, subtree: SubtreeRoot) -> list[bytes]:
    """PATH(m, D[0:n]) from RFC 6962 section 2.1.1, using `subtree` for node hashes."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, subtree: SubtreeRoot) -> list[bytes]:
    """PROOF(m, D[0:n]) from RFC 6962 section 2.1.2."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to {new}")
    if old == new:
        return []
    proof: list[bytes] = []

    def sub(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree(start, end))
            return
        k = split(n)
        if m <= k:
            sub(m, start, start + k, complete)
            proof.append(subtree(start + k, end))
        else:
            sub(m - k, start + k, end, False)
            proof.append(subtree(start, start + k))

    sub(old, 0, new, True)
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError("index out of range")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ValueError:
        return False


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old == new:
        return old_root == new_root and not proof
    if old == 0:
        return not proof
    if not 0 < old < new or not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


NodeLookup = Callable[[int, int], bytes]
"""Hash of the stored complete subtree (level, index): leaves [index<<level, (index+1)<<level)."""


def subtree_from_nodes(node: NodeLookup, start: int, end: int) -> bytes:
    """Root of leaves [start, end) from stored complete-subtree nodes, O(log n) lookups."""
    n = end - start
    if n <= 0:
        raise ValueError("empty range")
    if n & (n - 1) == 0 and start % n == 0:
        return node(n.bit_length() - 1, start // n)
    k = split(n)
    return node_hash(subtree_from_nodes(node, start, start + k),
                     subtree_from_nodes(node, start + k, end))


def completed_nodes(index: int, leaf: bytes, node: NodeLookup) -> list[tuple[int, int, bytes]]:
    """The (level, index, hash) nodes that appending leaf `index` completes, leaf included."""
    out = [(0, index, leaf)]
    level, idx, h = 0, index, leaf
    while idx & 1:
        h = node_hash(node(level, idx - 1), h)
        level, idx = level + 1, idx >> 1
        out.append((level, idx, h))
    return out
