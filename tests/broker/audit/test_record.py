"""Audit records: the exact canonical bytes and leaf hash of a known event (data vectors)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from broker.audit.merkle import leaf_hash
from broker.audit.record import RECORD_VERSION, AuditEvent, decode, encode

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
