"""Audit records: the exact canonical bytes and leaf hash of a known event (a data vector)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from broker.audit.record import AuditEvent, encode

VECTOR = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "audit_record_v1.json")
                    .read_text())


def test_an_event_encodes_to_the_recorded_bytes_and_leaf_hash() -> None:
    fields = dict(VECTOR["event"])
    event = AuditEvent(**{**fields, "time": datetime.fromisoformat(fields["time"]),
                          "subject_keys": tuple(fields["subject_keys"])})
    data, leaf = encode(event, VECTOR["seq"], VECTOR["instance_id"])
    assert data.decode("utf-8") == VECTOR["record"]
    assert leaf.hex() == VECTOR["leaf_hash"]


OPTIONAL = json.loads((Path(__file__).resolve().parents[2] / "vectors"
                       / "audit_record_v1_optional.json").read_text())


@pytest.mark.parametrize("case", OPTIONAL["cases"], ids=lambda c: c["name"])
def test_optional_keys_encode_to_the_recorded_bytes(case: dict[str, Any]) -> None:
    fields = dict(case["event"])
    event = AuditEvent(**{**fields, "time": datetime.fromisoformat(fields["time"]),
                          "subject_keys": tuple(fields["subject_keys"]),
                          "unverified": tuple(fields.get("unverified", ()))})
    data, leaf = encode(event, case["seq"], case["instance_id"])
    assert data.decode("utf-8") == case["record"]
    assert leaf.hex() == case["leaf_hash"]
