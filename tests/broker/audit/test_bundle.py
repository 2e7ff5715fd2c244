"""Export bundles from a real store (both backends), verified with no database."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.audit import AuditConfig, checkpoint, open_store
from broker.audit.bundle import (
    Bundle,
    BundleError,
    export,
    matches,
    unsafe_embedded_key,
    verify_bundle,
)
from broker.audit.log import Filters
from tests.broker.audit.test_store import Db, event, fill


async def _log(audit_config: AuditConfig, log_key: Ed25519PrivateKey, n: int = 30) -> Db:
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    for i in range(n):  # one at a time: a checkpoint at every 10th record
        await store.append(event(i))
    await store.close()
    return Db(audit_config)


async def test_range_export_verifies_offline_and_survives_a_json_round_trip(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    db = await _log(audit_config, log_key, 25)
    done = export(db.reader(), Filters(), log_key=log_key.public_key(),
                  origin=audit_config.origin, first_seq=5, end_seq=15)
    bundle = Bundle.from_json(done.bundle.to_json())
    assert bundle == done.bundle
    assert [r.seq for r in bundle.records] == list(range(5, 15))
    assert bundle.records[0].record == (db.reader().record(5) or (b"", b""))[0]
    report = verify_bundle(bundle, log_key.public_key())
    assert report.ok, report.problems
    assert (report.verified, report.tree_size, report.notes) == (10, 25, [])
    assert done.uncovered == 0


async def test_filtered_export_against_an_older_checkpoint_counts_what_it_cannot_prove(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    db = await _log(audit_config, log_key, 25)  # checkpoints at 10, 20, 25
    done = export(db.reader(), Filters(subject="subject-1"), log_key=log_key.public_key(),
                  origin=audit_config.origin, at_size=20)
    assert [r.seq for r in done.bundle.records] == [1, 4, 7, 10, 13, 16, 19]
    assert done.uncovered == 1  # record 22: after the checkpoint at 20
    assert dict(done.bundle.selection) == {"subject": "subject-1"}
    report = verify_bundle(done.bundle, log_key.public_key())
    assert report.ok, report.problems
    assert report.tree_size == 20
    assert "cannot be detected" in report.notes[0]
    with pytest.raises(BundleError, match="no checkpoint at tree size 21"):
        export(db.reader(), Filters(), log_key=log_key.public_key(),
               origin=audit_config.origin, at_size=21)


async def test_an_empty_log_has_nothing_to_export(audit_config: AuditConfig,
                                                  log_key: Ed25519PrivateKey) -> None:
    with pytest.raises(BundleError, match="no signed checkpoint"):
        export(Db(audit_config).reader(), Filters(), log_key=log_key.public_key(),
               origin=audit_config.origin)


def _flip(data: bytes, at: int = -1) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


@pytest.fixture
async def sealed(tmp_path: Path, log_key: Ed25519PrivateKey) -> Bundle:
    """A bundle of records [4, 12) of 20; verification is pure, so one backend will do."""
    audit_config = AuditConfig(backend="sqlite", path=tmp_path / "audit.db",
                               checkpoint_every=10, checkpoint_seconds=60)
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    await fill(store, 20)
    await store.close()
    return export(Db(audit_config).reader(), Filters(), log_key=log_key.public_key(),
                  origin=audit_config.origin, first_seq=4, end_seq=12).bundle


def _edit_record(bundle: Bundle, i: int, old: bytes, new: bytes) -> Bundle:
    records = list(bundle.records)
    records[i] = replace(records[i], record=records[i].record.replace(old, new))
    return replace(bundle, records=tuple(records))


def _bad_signature(bundle: Bundle) -> Bundle:
    body, _, sig = bundle.checkpoint.rstrip("\n").rpartition(" ")
    c = "A" if sig[20] != "A" else "B"  # past the 4-byte key hash, inside the signature
    return replace(bundle, checkpoint=f"{body} {sig[:20]}{c}{sig[21:]}\n")


def _rogue_signed(bundle: Bundle) -> Bundle:
    rogue = Ed25519PrivateKey.generate()
    cp, _ = checkpoint.parse(bundle.checkpoint)
    return replace(bundle, log_key=checkpoint.vkey(bundle.origin, rogue.public_key()),
                   checkpoint=checkpoint.sign(cp, bundle.origin, rogue))


TAMPERING = {
    "a record byte": (lambda b: _edit_record(b, 3, b"POLRI", b"POLRJ"),
                      "record 7: its inclusion proof does not reach the signed root"),
    "a record's sequence number": (lambda b: _edit_record(b, 3, b'"seq":7', b'"seq":8'),
                                   "record 7: carries sequence number 8"),
    "a record's JSON": (lambda b: _edit_record(b, 3, b'"seq":7', b'"seq": 7'),
                        "record 7: its bytes are not a canonical JSON record"),
    "a proof hash": (lambda b: replace(b, records=(
        *b.records[:2], replace(b.records[2], proof=(_flip(b.records[2].proof[0]),
                                                     *b.records[2].proof[1:])),
        *b.records[3:])), "record 6: its inclusion proof does not reach the signed root"),
    "a proof cut short": (lambda b: replace(b, records=(
        replace(b.records[0], proof=b.records[0].proof[:-1]), *b.records[1:])),
        "record 4: its inclusion proof has 4 hashes, the wrong number for a tree of 20"),
    "the checkpoint signature": (_bad_signature,
                                 "checkpoint: checkpoint signature is invalid"),
    "a record dropped from the middle": (lambda b: replace(
        b, records=b.records[:3] + b.records[4:]), "range: 1 record(s) missing from [4, 12): 7"),
    "the range widened past the records": (lambda b: replace(b, end_seq=13),
                                           "range: 1 record(s) missing from [4, 13): 12"),
    "the log key swapped": (lambda b: replace(b, log_key=checkpoint.vkey(
        b.origin, Ed25519PrivateKey.generate().public_key())), "log_key: the bundle's key"),
    "the whole bundle re-signed by another key": (_rogue_signed, "is not the key you trust"),
    "records reordered": (lambda b: replace(b, records=(b.records[1], b.records[0],
                                                        *b.records[2:])),
                          "record 4: out of order"),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_verify_bundle_names_what_was_tampered(name: str, sealed: Bundle,
                                               log_key: Ed25519PrivateKey) -> None:
    assert verify_bundle(sealed, log_key.public_key()).ok
    tamper, message = TAMPERING[name]
    report = verify_bundle(tamper(sealed), log_key.public_key())
    assert not report.ok
    assert any(p.startswith(message) or message in p for p in report.problems), report.problems


def test_only_the_unsafe_embedded_key_accepts_a_re_signed_bundle(
        sealed: Bundle, log_key: Ed25519PrivateKey) -> None:
    forged = _rogue_signed(sealed)
    # Self-consistent: only a key the verifier already trusts catches a re-signed bundle.
    assert verify_bundle(forged, unsafe_embedded_key(forged)).ok
    report = verify_bundle(forged, log_key.public_key())
    assert not report.ok
    assert report.problems[0].startswith("log_key: the bundle's key (hash ")


def test_the_trusted_key_is_a_required_argument() -> None:
    import inspect

    parameter = inspect.signature(verify_bundle).parameters["trusted"]
    assert parameter.default is inspect.Parameter.empty


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(format="other/v9"), "format: expected 'g2g-audit-bundle/v1'"),
    (lambda d: d["records"][0].update(record="***"), "records[0].record: not base64"),
    (lambda d: d["records"][1].update(seq=-1), "records[1].seq: expected a non-negative"),
    (lambda d: d["selection"].update(colour="red"), "selection.colour: not a filter"),
    (lambda d: d.pop("range"), "range: expected an object"),
    (lambda d: d.update(consistency={"old_size": 1, "proof": "x"}),
     "consistency.proof: expected a list"),
])
def test_malformed_bundles_name_the_field(sealed: Bundle, edit: object, message: str) -> None:
    doc = json.loads(sealed.to_json())
    edit(doc)  # type: ignore[operator]
    with pytest.raises(BundleError) as info:
        Bundle.from_json(json.dumps(doc).encode())
    assert str(info.value).startswith(message)


def test_a_record_outside_the_selection_is_named(sealed: Bundle,
                                                 log_key: Ed25519PrivateKey) -> None:
    narrowed = replace(sealed, selection={"consumer": "ID/GOV/BIN"})
    report = verify_bundle(narrowed, log_key.public_key())
    assert report.problems[0] == "record 4: outside the bundle's selection (consumer=ID/GOV/BIN)"


def test_selection_matches_as_the_query_does() -> None:
    record = {"time": "2026-11-24T10:00:05.000000Z", "consumer": "ID/GOV/POLRI",
              "provider": "ID/GOV/IMIGRASI", "kind": "request", "subject_keys": ["k1", "k2"]}
    assert matches(record, {"agency": "ID/GOV/IMIGRASI", "since": "2026-11-24T10:00:05",
                            "until": "2026-11-24T10:00:06", "subject": "k2"}) is None
    assert matches(record, {"kind": "request", "until": "2026-11-24T10:00:05"}) \
        == "until=2026-11-24T10:00:05"
    assert matches(record, {"since": "2026-11-25"}) == "since=2026-11-25"
    assert matches(record, {"agency": "ID/GOV/BIN"}) == "agency=ID/GOV/BIN"
    assert matches(record, {"subject": "k3"}) == "subject=k3"


async def test_a_bundle_proves_it_extends_the_checkpoint_its_recipient_already_holds(
        tmp_path: Path, log_key: Ed25519PrivateKey) -> None:
    config = AuditConfig(backend="sqlite", path=tmp_path / "audit.db", checkpoint_every=10,
                         checkpoint_seconds=60)
    db = await _log(config, log_key, 25)  # checkpoints at 10, 20, 25
    held = {size: note for size, _, note in db.reader().checkpoints()}
    key = log_key.public_key()
    done = export(db.reader(), Filters(), log_key=key, origin=config.origin, first_seq=20,
                  consistent_with=10)
    bundle = Bundle.from_json(done.bundle.to_json())
    assert bundle.consistency is not None
    assert bundle.consistency[0] == 10
    assert verify_bundle(bundle, key, [held[10]]).ok
    assert verify_bundle(bundle, key, [held[25]]).ok  # the very checkpoint it proves against

    no_proof = verify_bundle(replace(bundle, consistency=None), key, [held[10]])
    assert no_proof.problems == ["consistency: the bundle has no consistency proof from your "
                                 "checkpoint's size 10 (export with --consistent-with 10)"]
    # A split view: the same key signed another tree of size 10 for this recipient.
    forked = checkpoint.sign(checkpoint.Checkpoint(config.origin, 10, bytes(32)),
                             config.origin, log_key)
    assert verify_bundle(bundle, key, [forked]).problems == [
        "consistency: the bundle's checkpoint (size 25) does not extend yours (size 10): "
        "the log was forked or rewritten"]
    rogue = checkpoint.sign(checkpoint.Checkpoint(config.origin, 10, bytes(32)),
                            config.origin, Ed25519PrivateKey.generate())
    assert verify_bundle(bundle, key, [rogue]).problems[0].startswith("your checkpoint: ")
    with pytest.raises(BundleError, match="--consistent-with 26"):
        export(db.reader(), Filters(), log_key=key, origin=config.origin, consistent_with=26)
