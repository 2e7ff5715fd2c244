"""Property-based: checkpoint notes, log keys and export bundles under hostile input.

A verifier either accepts or refuses with an `AuditProofError` (`CheckpointError`,
`BundleError`) or a failing report; nothing raises anything else, and a changed
bundle never verifies against the real key.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk.errors import AuditProofError
from hypothesis import assume, given
from hypothesis import strategies as st

from broker.audit import checkpoint, open_store
from broker.audit.bundle import Bundle, export, verify_bundle
from broker.audit.config import AuditConfig
from broker.audit.log import Filters
from tests.broker.audit.test_store import Db, fill

pytestmark = pytest.mark.fuzz

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
ORIGIN = "g2g-test/audit"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """Records [2, 9) of a 12-record log with checkpoints every 5."""
    path = tmp_path_factory.mktemp("fuzz-audit") / "audit.db"
    config = AuditConfig(backend="sqlite", path=path, checkpoint_every=5,
                         checkpoint_seconds=60, origin=ORIGIN)

    async def build() -> Bundle:
        store = await open_store(config, log_key=KEY, instance_id="fuzz")
        await fill(store, 12)
        await store.close()
        return export(Db(config).reader(), Filters(), log_key=KEY.public_key(),
                      origin=ORIGIN, first_seq=2, end_seq=9).bundle

    bundle = asyncio.run(build())
    assert verify_bundle(bundle, KEY.public_key()).ok
    return bundle


_NOTE_LINES = st.one_of(st.text(max_size=60), st.sampled_from([
    ORIGIN, "0", "12", "007", "-1", "AAAA", "=" * 44, "", "\u2014 g2g-test/audit AAAA",
    "\u2014 g2g-test/audit !!!!", "\u2014 x y z"]))


@given(st.lists(_NOTE_LINES, max_size=8), st.booleans())
def test_any_note_parses_or_is_refused(lines: list[str], blank: bool) -> None:
    note = "\n".join(lines[:3]) + ("\n\n" if blank else "\n") + "\n".join(lines[3:])
    try:
        checkpoint.verify(note, ORIGIN, KEY.public_key())
    except AuditProofError:
        return


@given(st.text(max_size=200))
def test_any_log_key_text_parses_or_is_refused(text: str) -> None:
    try:
        name, _ = checkpoint.parse_vkey(text)
    except AuditProofError:
        return
    assert name


@given(st.integers(min_value=0), st.characters(codec="utf-8"))
def test_a_changed_checkpoint_note_never_verifies_as_another_checkpoint(
        sealed: Bundle, where: int, char: str) -> None:
    note = sealed.checkpoint
    i = where % len(note)
    changed = note[:i] + char + note[i + 1:]
    assume(changed != note)
    original = checkpoint.verify(note, ORIGIN, KEY.public_key())
    try:
        got = checkpoint.verify(changed, ORIGIN, KEY.public_key())
    except AuditProofError:
        return
    assert got == original  # only a change outside what is signed may pass


@given(st.binary(max_size=1024))
def test_any_bytes_read_as_a_bundle_or_are_refused(data: bytes) -> None:
    try:
        Bundle.from_json(data)
    except AuditProofError:
        return


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=8)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


@given(st.integers(min_value=0), _JSON)
def test_a_bundle_with_any_value_replaced_never_verifies_unless_unchanged(
        sealed: Bundle, which: int, value: Any) -> None:
    doc = json.loads(sealed.to_json())
    paths = _paths(doc)
    path = paths[which % len(paths)]
    _set(doc, path, value)
    changed = json.dumps(doc).encode()
    try:
        bundle = Bundle.from_json(changed)
    except AuditProofError:
        return
    report = verify_bundle(bundle, KEY.public_key())
    if report.ok:
        # Accepted only if what it proves is what was sealed (e.g. the same value, or
        # an unused selection key equal to none).
        assert [(r.seq, r.record) for r in bundle.records] == [
            (r.seq, r.record) for r in sealed.records]
        assert (bundle.first_seq, bundle.end_seq) == (sealed.first_seq, sealed.end_seq)


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_changed_record_byte_never_verifies(sealed: Bundle, which: int, xor: int) -> None:
    assume(xor)
    records = list(sealed.records)
    i = which % len(records)
    data = bytearray(records[i].record)
    data[which % len(data)] ^= xor
    records[i] = replace(records[i], record=bytes(data))
    report = verify_bundle(replace(sealed, records=tuple(records)), KEY.public_key())
    assert not report.ok


def test_the_sealed_bundle_does_not_verify_with_another_key(sealed: Bundle) -> None:
    assert not verify_bundle(sealed, Ed25519PrivateKey.generate().public_key()).ok


# Found by `make fuzz`, kept as fixed examples.
def test_a_non_ascii_digit_tree_size_is_refused() -> None:
    note = f"{ORIGIN}\n\u00b22\n{'A' * 43}=\n\n\u2014 {ORIGIN} AAAA\n"
    with pytest.raises(checkpoint.CheckpointError, match="tree size is not a decimal number"):
        checkpoint.parse(note)


def test_a_non_ascii_base64_value_in_a_bundle_is_refused(sealed: Bundle) -> None:
    doc = json.loads(sealed.to_json())
    doc["records"][0]["record"] = "\x80"
    with pytest.raises(AuditProofError, match=r"records\[0\]\.record: not base64"):
        Bundle.from_json(json.dumps(doc).encode())
