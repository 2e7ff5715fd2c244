"""Export bundles: records with inclusion proofs against one signed checkpoint.

A bundle is what an auditor hands to an oversight body: it verifies offline
with only the log's public key, no database and no broker. Verification runs
in a fixed order — key → checkpoint signature → consistency with a checkpoint
the verifier saved earlier → range → each record (canonical bytes, sequence
number, selection, inclusion proof to the signed root) → completeness of an
unfiltered range — and names every failure. `verify_bundle` is pure;
`export` only reads the log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from g2g_sdk.errors import AuditProofError

from broker.audit import checkpoint, merkle
from broker.audit.log import Filters, LogReader
from broker.audit.record import canonical

FORMAT = "g2g-audit-bundle/v1"
# The Filters fields that select records inside the range (the range has its own fields).
SELECTION = tuple(f.name for f in fields(Filters) if f.name not in ("from_seq", "to_seq",
                                                                     "limit"))


class BundleError(AuditProofError, ValueError):
    """The bundle cannot be built or read (not a verification result)."""


@dataclass(frozen=True)
class BundleRecord:
    """One record's exact stored bytes and its inclusion proof (leaf to root)."""

    seq: int
    record: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class Bundle:
    """A selection of the log, provable against the signed checkpoint it carries."""

    origin: str
    log_key: str              # C2SP vkey of the key that signed the checkpoint
    checkpoint: str           # the signed note
    first_seq: int            # the range exported, [first_seq, end_seq)
    end_seq: int
    selection: Mapping[str, str]  # non-empty Filters fields; empty: every record in range
    records: tuple[BundleRecord, ...]
    # (old size, proof): the checkpoint extends the tree the recipient saw at that size.
    consistency: tuple[int, tuple[bytes, ...]] | None = None

    def to_json(self) -> bytes:
        return json.dumps({
            "format": FORMAT, "origin": self.origin, "log_key": self.log_key,
            "checkpoint": self.checkpoint,
            "range": {"first_seq": self.first_seq, "end_seq": self.end_seq},
            "selection": dict(self.selection),
            "records": [{"seq": r.seq, "record": _b64(r.record),
                         "proof": [_b64(h) for h in r.proof]} for r in self.records],
            **({"consistency": {"old_size": self.consistency[0],
                                "proof": [_b64(h) for h in self.consistency[1]]}}
               if self.consistency else {}),
        }, indent=1, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Bundle:
        """Parse a bundle file; a malformed one raises BundleError naming the field."""
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise BundleError(f"not JSON: {exc}") from None
        top = _obj(doc, "bundle")
        if top.get("format") != FORMAT:
            raise BundleError(f"format: expected {FORMAT!r}, got {top.get('format')!r}")
        span = _obj(top.get("range"), "range")
        selection = _obj(top.get("selection"), "selection")
        for name, value in selection.items():
            if name not in SELECTION or not isinstance(value, str):
                raise BundleError(f"selection.{name}: not a filter of {', '.join(SELECTION)}")
        records = []
        items = top.get("records")
        if not isinstance(items, list):
            raise BundleError("records: expected a list")
        for i, item in enumerate(items):
            rec = _obj(item, f"records[{i}]")
            proof = rec.get("proof")
            if not isinstance(proof, list):
                raise BundleError(f"records[{i}].proof: expected a list")
            records.append(BundleRecord(
                seq=_int(rec.get("seq"), f"records[{i}].seq"),
                record=_unb64(rec.get("record"), f"records[{i}].record"),
                proof=tuple(_unb64(h, f"records[{i}].proof[{j}]")
                            for j, h in enumerate(proof))))
        consistency = None
        if "consistency" in top:
            cons = _obj(top["consistency"], "consistency")
            hashes = cons.get("proof")
            if not isinstance(hashes, list):
                raise BundleError("consistency.proof: expected a list")
            consistency = (_int(cons.get("old_size"), "consistency.old_size"),
                           tuple(_unb64(h, f"consistency.proof[{j}]")
                                 for j, h in enumerate(hashes)))
        return cls(origin=_str(top.get("origin"), "origin"),
                   log_key=_str(top.get("log_key"), "log_key"),
                   checkpoint=_str(top.get("checkpoint"), "checkpoint"),
                   first_seq=_int(span.get("first_seq"), "range.first_seq"),
                   end_seq=_int(span.get("end_seq"), "range.end_seq"),
                   selection=selection, records=tuple(records), consistency=consistency)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(f"{where}: expected an object")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BundleError(f"{where}: expected a string")
    return value


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BundleError(f"{where}: expected a non-negative integer")
    return value


def _unb64(value: object, where: str) -> bytes:
    try:
        return base64.b64decode(_str(value, where), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise BundleError(f"{where}: not base64") from None


# --- verification (pure) ------------------------------------------------------

@dataclass
class BundleReport:
    """What `verify_bundle` found; `problems` empty means the bundle proves its records."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tree_size: int = 0
    verified: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def matches(record: Mapping[str, Any], selection: Mapping[str, str]) -> str | None:
    """The first selection filter `record` fails, or None when it matches them all."""
    for name, want in selection.items():
        if name == "agency":
            ok = want in (record.get("consumer"), record.get("provider"))
        elif name == "since":
            ok = str(record.get("time", "")) >= want
        elif name == "until":
            ok = str(record.get("time", "")) < want
        elif name == "subject":
            ok = want in record.get("subject_keys", ())
        else:
            ok = record.get(name) == want
        if not ok:
            return f"{name}={want}"
    return None


def _decoded(rec: BundleRecord) -> dict[str, Any] | str:
    """The record as JSON, or what is wrong with its bytes."""
    try:
        value = json.loads(rec.record)
    except ValueError:
        value = None
    if not isinstance(value, dict) or canonical(value) != rec.record:
        return f"record {rec.seq}: its bytes are not a canonical JSON record"
    if value.get("seq") != rec.seq:
        return f"record {rec.seq}: carries sequence number {value.get('seq')}"
    return value


def _proof_problem(rec: BundleRecord, size: int, root: bytes) -> str | None:
    if rec.seq >= size:
        return f"record {rec.seq}: beyond the checkpoint's tree of {size} records"
    try:
        reached = merkle.root_from_inclusion(rec.seq, size, merkle.leaf_hash(rec.record),
                                             rec.proof)
    except ValueError:
        return (f"record {rec.seq}: its inclusion proof has {len(rec.proof)} hashes, "
                f"the wrong number for a tree of {size}")
    if reached != root:
        return (f"record {rec.seq}: its inclusion proof does not reach the signed root "
                "(the record's bytes or a proof hash were changed)")
    return None


def _record_problem(rec: BundleRecord, size: int, root: bytes,
                    selection: Mapping[str, str]) -> str | None:
    value = _decoded(rec)
    if isinstance(value, str):
        return value
    failed = matches(value, selection)
    if failed:
        return f"record {rec.seq}: outside the bundle's selection ({failed})"
    return _proof_problem(rec, size, root)


def unsafe_embedded_key(bundle: Bundle) -> Ed25519PublicKey:
    """The log key the bundle names for itself. UNSAFE as a trusted key: anyone can
    re-sign a bundle with their own key and name it here; only for a verifier that
    says so (`g2g audit verify --unsafe-trust-embedded-key`)."""
    try:
        return checkpoint.parse_vkey(bundle.log_key)[1]
    except checkpoint.CheckpointError as exc:
        raise BundleError(f"log_key: {exc}") from None


def _key(bundle: Bundle, trusted: Ed25519PublicKey, report: BundleReport) -> Ed25519PublicKey:
    try:
        name, key = checkpoint.parse_vkey(bundle.log_key)
    except checkpoint.CheckpointError as exc:
        report.problems.append(f"log_key: {exc}")
        return trusted
    if name != bundle.origin:
        report.problems.append(f"log_key: names {name!r}, the bundle's origin is "
                               f"{bundle.origin!r}")
    if checkpoint.vkey(bundle.origin, trusted) != checkpoint.vkey(bundle.origin, key):
        report.problems.append(
            f"log_key: the bundle's key (hash {checkpoint.key_hash(bundle.origin, key).hex()}) "
            f"is not the key you trust (hash {checkpoint.key_hash(bundle.origin, trusted).hex()})")
    return trusted


def _check_pinned(bundle: Bundle, cp: checkpoint.Checkpoint, pinned: str,
                  key: Ed25519PublicKey, report: BundleReport) -> None:
    """The bundle's checkpoint must extend the one the recipient saved earlier."""
    try:
        old = checkpoint.verify(pinned, bundle.origin, key)
    except checkpoint.CheckpointError as exc:
        report.problems.append(f"your checkpoint: {exc}")
        return
    if old.size == cp.size:
        ok = old.root == cp.root
    elif bundle.consistency is None or bundle.consistency[0] != old.size:
        report.problems.append(f"consistency: the bundle has no consistency proof from your "
                               f"checkpoint's size {old.size} (export with "
                               f"--consistent-with {old.size})")
        return
    else:
        ok = merkle.verify_consistency(old.size, cp.size, old.root, cp.root,
                                       bundle.consistency[1])
    if not ok:
        report.problems.append(f"consistency: the bundle's checkpoint (size {cp.size}) does not "
                               f"extend yours (size {old.size}): the log was forked or rewritten")


def verify_bundle(bundle: Bundle, trusted: Ed25519PublicKey,
                  pinned: Sequence[str] = ()) -> BundleReport:
    """Check everything the bundle claims against `trusted`, the log key the verifier
    already trusts (required: the key inside a bundle proves nothing about who signed
    it); `pinned` checkpoint notes the verifier saved earlier that the log must extend."""
    report = BundleReport()
    key = _key(bundle, trusted, report)
    try:
        cp, _ = checkpoint.parse(bundle.checkpoint)
    except checkpoint.CheckpointError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return report
    try:
        checkpoint.verify(bundle.checkpoint, bundle.origin, key)
    except checkpoint.CheckpointError as exc:
        report.problems.append(f"checkpoint: {exc}")
    if cp.origin != bundle.origin:
        report.problems.append(f"checkpoint: origin {cp.origin!r} is not the bundle's "
                               f"{bundle.origin!r}")
    report.tree_size = cp.size
    for note in pinned:
        _check_pinned(bundle, cp, note, key, report)
    _check_records(bundle, cp, report)
    return report


def _check_records(bundle: Bundle, cp: checkpoint.Checkpoint, report: BundleReport) -> None:
    """Range, each record against the signed root, and completeness of an unfiltered range."""
    if not bundle.first_seq <= bundle.end_seq <= cp.size:
        report.problems.append(f"range: [{bundle.first_seq}, {bundle.end_seq}) is not inside "
                               f"the checkpoint's tree of {cp.size} records")
    previous = bundle.first_seq - 1
    for rec in bundle.records:
        if not previous < rec.seq < bundle.end_seq:
            report.problems.append(f"record {rec.seq}: out of order or outside the range "
                                   f"[{bundle.first_seq}, {bundle.end_seq})")
        previous = max(previous, rec.seq)
        problem = _record_problem(rec, cp.size, cp.root, bundle.selection)
        if problem:
            report.problems.append(problem)
        else:
            report.verified += 1
    if bundle.selection:
        report.notes.append("a filtered selection: every record is proven to be in the log, "
                            "but records left out of the file cannot be detected")
    else:
        present = {r.seq for r in bundle.records}
        missing = [s for s in range(bundle.first_seq, bundle.end_seq) if s not in present]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            report.problems.append(f"range: {len(missing)} record(s) missing from "
                                   f"[{bundle.first_seq}, {bundle.end_seq}): {shown}")


# --- export (reads the log) ---------------------------------------------------

@dataclass(frozen=True)
class Export:
    """A bundle, and how many matching records it could not cover yet."""

    bundle: Bundle
    uncovered: int  # matching records after the checkpoint, not yet provable


def export(reader: LogReader, selection: Filters, *, log_key: Ed25519PublicKey, origin: str,
           first_seq: int = 0, end_seq: int | None = None, at_size: int | None = None,
           max_records: int = 100_000, consistent_with: int | None = None) -> Export:
    """The matching records in [first_seq, end_seq) covered by a checkpoint, with proofs.

    Proves against the checkpoint at `at_size` (one the recipient already holds)
    or else the latest; records after it are counted in `uncovered`, not exported.
    `consistent_with` adds a consistency proof from that earlier tree size.
    """
    checkpoints = {size: note for size, _, note in reader.checkpoints()}
    if not checkpoints:
        raise BundleError("the log has no signed checkpoint yet")
    size = max(checkpoints) if at_size is None else at_size
    if size not in checkpoints:
        raise BundleError(f"no checkpoint at tree size {size} "
                          f"(latest: {max(checkpoints)})")
    end = size if end_seq is None else min(end_seq, size)
    if not 0 <= first_seq <= end:
        raise BundleError(f"the range [{first_seq}, {end}) is empty or outside the "
                          f"checkpoint's {size} records")
    rows = reader.query_bytes(replace(selection, from_seq=first_seq, to_seq=end,
                                      limit=max_records + 1))
    if len(rows) > max_records:
        raise BundleError(f"more than {max_records} records match; narrow the range")
    records = []
    for data in rows:
        seq = int(json.loads(data)["seq"])
        records.append(BundleRecord(seq, data, tuple(reader.inclusion_proof(seq, size))))
    uncovered = 0
    if end_seq is None or end_seq > size:
        uncovered = len(reader.query_bytes(replace(selection, from_seq=size, to_seq=end_seq,
                                                   limit=max_records)))
    consistency = None
    if consistent_with is not None:
        if not 0 < consistent_with <= size:
            raise BundleError(f"--consistent-with {consistent_with}: not a size in "
                              f"(0, {size}]")
        consistency = (consistent_with,
                       tuple(reader.consistency_proof(consistent_with, size)))
    chosen = {name: str(getattr(selection, name)) for name in SELECTION
              if getattr(selection, name)}
    return Export(Bundle(origin=origin, log_key=checkpoint.vkey(origin, log_key),
                         checkpoint=checkpoints[size], first_seq=first_seq, end_seq=end,
                         selection=chosen, records=tuple(records),
                         consistency=consistency), uncovered)
