"""Audit records: the event the pipeline reports, and its canonical bytes.

A record is canonical JSON (sorted keys, no spaces, UTF-8) of the event plus
its sequence number and broker instance; its Merkle leaf hash is
SHA-256(0x00 || record bytes) as in RFC 6962, so the bytes stored are exactly
the bytes proved. Records hold headers, digests and decisions, never payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

from broker.audit.merkle import leaf_hash

Kind = Literal["request", "outcome", "rejected", "audit_read",
               # events (docs/AUDIT.md "Event records")
               "event", "event_rejected", "event_outcome", "route", "subscribe", "delivered",
               "receipt", "receipt_rejected", "delivery_failed"]
# v2 added `registry_version`; the log keeps v1 records as written (their bytes are
# what was hashed), so readers take both (docs/AUDIT.md).
RECORD_VERSION = 2


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened to one exchange (or one auditor read)."""

    kind: Kind
    time: datetime
    message_id: str = ""
    correlation_id: str = ""
    consumer: str = ""
    provider: str = ""
    service: str = ""
    purpose: str = ""
    legal_basis: str = ""
    decision: str = ""
    decision_id: str = ""
    rule_id: str = ""
    policy_version: str = ""
    # The registry (agencies, keys) the exchange was decided under; its files are
    # kept by version beside the log, as policy sets are.
    registry_version: str = ""
    status_code: str = ""
    reason: str = ""
    request_digest: str = ""
    response_digest: str = ""
    latency_ms: float | None = None
    subject_keys: tuple[str, ...] = ()
    # Optional keys, in the record only when set (so every earlier record's
    # bytes, and the v1 vector, are unchanged): who refused, when a provider did;
    # which of the fields above come from header bytes whose signature never verified.
    refused_by: str = ""
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditReceipt:
    """Returned once a record is durable."""

    seq: int
    leaf_hash: bytes


def format_time(t: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, as `strftime("%Y-%m-%dT%H:%M:%S.%fZ")`."""
    u = t if t.tzinfo is UTC else t.astimezone(UTC)
    if u.year < 1000:  # glibc's %Y does not pad years below 1000; isoformat does
        return u.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat is C-fast (strftime builds a struct_time); its "+00:00" becomes "Z".
    return u.isoformat(timespec="microseconds")[:-6] + "Z"


_EVENT_FIELDS = tuple(f.name for f in fields(AuditEvent))
_OPTIONAL = ("refused_by", "unverified")


# The record's keys in sorted order: `to_record` builds its dict in this order, so an
# encoder without sort_keys writes the same bytes as `canonical` without sorting.
_SORTED_KEYS = tuple(sorted((*_EVENT_FIELDS, "seq", "instance_id", "v")))
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def to_record(event: AuditEvent, seq: int, instance_id: str) -> dict[str, Any]:
    """The record as a JSON-ready dict (the shape auditors see), keys in sorted order."""
    # Every field is a str, number, datetime or tuple of str, so a shallow read is
    # enough; dataclasses.asdict's deep copy cost ~20 µs a record on the hot path.
    computed = {"seq": seq, "instance_id": instance_id, "v": RECORD_VERSION,
                "time": format_time(event.time), "subject_keys": list(event.subject_keys),
                "unverified": list(event.unverified)}
    record: dict[str, Any] = {}
    for key in _SORTED_KEYS:
        value = computed[key] if key in computed else getattr(event, key)
        if key in _OPTIONAL and not value:
            continue  # optional keys only when set
        record[key] = value
    return record


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def encode(event: AuditEvent, seq: int, instance_id: str) -> tuple[bytes, bytes]:
    """(record bytes, leaf hash) for the record at `seq`."""
    data = encode_timed(event, seq, instance_id)[0]
    return data, leaf_hash(data)


def encode_timed(event: AuditEvent, seq: int, instance_id: str) -> tuple[bytes, str]:
    """(record bytes, the record's time text): the bytes of `canonical(to_record(...))`.

    The writer's hot path: `to_record`'s keys are already sorted (no sort per
    record), and the time text is formatted once for the record and its indexed column.
    """
    record = to_record(event, seq, instance_id)
    return _ENCODER.encode(record).encode("utf-8"), record["time"]


def decode(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise TypeError("an audit record is a JSON object")
    return value
