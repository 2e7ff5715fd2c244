"""Recompute the log and check it: records, leaf hashes, tree nodes, checkpoints.

Detects edited, deleted, reordered and injected rows: every record must hash to
its stored leaf, carry its own sequence number, agree with its indexed columns,
and the tree recomputed from the records must match every signed checkpoint
and the stored interior nodes that proofs are served from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broker.audit import checkpoint, merkle
from broker.audit.log import LogReader

COLUMNS = ("time", "kind", "message_id", "correlation_id", "consumer", "provider", "service",
           "purpose", "decision", "status_code", "instance_id")


@dataclass
class Report:
    size: int = 0
    checkpoints: int = 0
    unsigned_tail: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, seq: int | None = None) -> None:
        self.problems.append(message)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


class Frontier:
    """Incremental RFC 6962 root: O(log n) memory, one pass over the leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def add(self, leaf: bytes) -> None:
        height, h = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = merkle.node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return merkle.EMPTY_ROOT
        r = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            r = merkle.node_hash(h, r)
        return r


def _signed_roots(reader: LogReader, origin: str, log_key: Ed25519PublicKey,
                  pinned: list[str], report: Report) -> dict[int, list[tuple[str, bytes]]]:
    """Tree size -> roots the records must reproduce, from valid signed checkpoints."""
    wanted: dict[int, list[tuple[str, bytes]]] = {}
    notes = [("stored checkpoint", size, root, note) for size, root, note in
             reader.checkpoints()] + [("pinned checkpoint", None, None, n) for n in pinned]
    for what, size, root, note in notes:
        try:
            cp = checkpoint.verify(note, origin, log_key)
        except checkpoint.CheckpointError as exc:
            report.fail(f"{what} at size {size}: {exc}")
            continue
        if size is not None and (cp.size != size or cp.root != root):
            report.fail(f"checkpoint row at size {size} does not match its signed note")
        wanted.setdefault(cp.size, []).append((what, cp.root))
    return wanted


def _check_record(seq: int, data: bytes, stored_leaf: bytes, columns: tuple[object, ...],
                  report: Report) -> bytes:
    """The record's leaf hash, after checking it against everything stored about it."""
    leaf = merkle.leaf_hash(data)
    if leaf != stored_leaf:
        report.fail(f"record {seq}: stored leaf hash does not match its bytes", seq)
    tree_leaf = columns[-1]
    if tree_leaf is None:
        report.fail(f"record {seq}: not in the stored tree (inserted behind the broker)", seq)
    elif bytes(tree_leaf) != leaf:  # type: ignore[call-overload]
        report.fail(f"record {seq}: differs from the leaf committed in the tree", seq)
    try:
        record = json.loads(data)
    except ValueError:
        report.fail(f"record {seq}: not JSON", seq)
        return leaf
    if record.get("seq") != seq:
        report.fail(f"record {seq}: carries sequence number {record.get('seq')}", seq)
    for name, value in zip(COLUMNS, columns[:-1], strict=True):
        if name != "time" and record.get(name) != value:
            report.fail(f"record {seq}: column {name} differs from the record", seq)
            break
    return leaf


def verify_log(reader: LogReader, origin: str, log_key: Ed25519PublicKey,
               pinned: list[str] | None = None) -> Report:
    """Check the whole log; `pinned` are checkpoint notes an auditor saved earlier."""
    report = Report()
    wanted = _signed_roots(reader, origin, log_key, pinned or [], report)
    frontier = Frontier()
    for seq, data, stored_leaf, columns in reader.scan():
        if seq != frontier.size:
            report.fail(f"records {frontier.size}..{seq - 1} are missing", frontier.size)
        frontier.add(_check_record(seq, data, stored_leaf, columns, report))
        for what, root in wanted.pop(frontier.size, []):
            report.checkpoints += 1
            if root != frontier.root():
                report.fail(f"{what} at size {frontier.size}: root does not match the records "
                            "(the log was changed after it was signed)", frontier.size - 1)
    report.size = frontier.size
    for size in sorted(wanted):
        report.fail(f"checkpoint at size {size} is beyond the log's {frontier.size} records "
                    "(records were deleted)", frontier.size)
    if frontier.size:
        try:
            if reader.root(frontier.size) != frontier.root():
                report.fail("stored tree nodes do not match the records (proofs would be wrong)")
        except LookupError as exc:
            report.fail(f"stored tree nodes incomplete: {exc}")
    latest = reader.latest_checkpoint()
    report.unsigned_tail = frontier.size - (latest[0] if latest else 0)
    return report
