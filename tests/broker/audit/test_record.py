"""Audit records: the exact canonical bytes and leaf hash of a known event (data vectors)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from broker.audit.merkle import leaf_hash
from broker.audit.record import (
    RECORD_VERSION,
    AuditEvent,
    canonical,
    decode,
    encode,
    encode_timed,
    to_record,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
V2 = json.loads((VECTORS / "audit_record_v2.json").read_text())
V1 = json.loads((VECTORS / "audit_record_v1.json").read_text())


def test_an_event_encodes_to_the_recorded_bytes_and_leaf_hash() -> None:
    fields = dict(V2["event"])
    event = AuditEvent(**{**fields, "time": datetime.fromisoformat(fields["time"]),
                          "subject_keys": tuple(fields["subject_keys"])})
    data, leaf = encode(event, V2["seq"], V2["instance_id"])
    assert data.decode("utf-8") == V2["record"]
    assert leaf.hex() == V2["leaf_hash"]
    assert decode(data)["v"] == RECORD_VERSION == 2


def test_a_version_1_record_keeps_its_bytes_and_leaf_hash() -> None:
    # The log never rewrites a record: v1 records (no registry_version) stay provable.
    data = V1["record"].encode("utf-8")
    assert leaf_hash(data).hex() == V1["leaf_hash"]
    record = decode(data)
    assert record["v"] == 1
    assert "registry_version" not in record


OPTIONAL = json.loads((VECTORS / "audit_record_v2_optional.json").read_text())


@pytest.mark.parametrize("case", OPTIONAL["cases"], ids=lambda c: c["name"])
def test_optional_keys_encode_to_the_recorded_bytes(case: dict[str, Any]) -> None:
    fields = dict(case["event"])
    event = AuditEvent(**{**fields, "time": datetime.fromisoformat(fields["time"]),
                          "subject_keys": tuple(fields["subject_keys"]),
                          "unverified": tuple(fields.get("unverified", ()))})
    data, leaf = encode(event, case["seq"], case["instance_id"])
    assert data.decode("utf-8") == case["record"]
    assert leaf.hex() == case["leaf_hash"]


@pytest.mark.parametrize("changes", [
    {},
    {"latency_ms": 12.345, "refused_by": "provider", "unverified": ("message_id", "purpose")},
    {"latency_ms": 0.1, "message_id": 'quote " back\\slash \x01\n\t', "purpose": "Überprüfung ✓"},
    {"time": datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=7)))},
    {"time": datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC), "subject_keys": ()},
    {"subject_keys": ("a", "a", "b"), "latency_ms": 1e-7},
])
def test_the_writers_encoding_is_the_canonical_bytes(changes: dict[str, Any]) -> None:
    # The writer's fast path (sorted-order dict, no sort_keys, isoformat time) must
    # write exactly canonical(to_record(...)) with strftime's time text.
    base = AuditEvent(kind="outcome", time=datetime(2026, 12, 2, 2, 20, 1, 123, tzinfo=UTC),
                      message_id="m", consumer="ID/GOV/POLRI", subject_keys=("k1",))
    event = replace(base, **changes)
    data, time_text = encode_timed(event, 42, "inst-1")
    assert data == canonical(to_record(event, 42, "inst-1"))
    assert time_text == event.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert encode(event, 42, "inst-1") == (data, leaf_hash(data))
