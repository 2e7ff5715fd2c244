"""Regenerate audit_record_v2_optional.json (only when the record format changes)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from broker.audit.record import AuditEvent, encode

BASE = {"kind": "outcome", "time": "2026-11-25T08:30:01.250000+00:00", "message_id": "0b3e",
        "correlation_id": "c-1", "consumer": "ID/GOV/POLRI", "provider": "ID/GOV/IMIGRASI",
        "service": "g2g.immigration.v1.Watchlist/Screen", "purpose": "criminal_investigation",
        "legal_basis": "UU 6/2011 Pasal 91", "decision": "allow", "decision_id": "d-1",
        "rule_id": "r-1", "policy_version": "sha256:ab", "registry_version": "sha256:cd",
        "request_digest": "aa", "latency_ms": 3.25, "subject_keys": ["k1"]}
CASES = {
    "provider_refusal": {**BASE, "status_code": "NOT_FOUND", "reason": "CASE_UNKNOWN",
                         "refused_by": "provider"},
    "rejected_unverified": {
        **{k: v for k, v in BASE.items() if k not in ("decision", "decision_id", "rule_id",
                                                       "policy_version", "request_digest")},
        "kind": "rejected", "subject_keys": [], "status_code": "UNAUTHENTICATED",
        "reason": "SIGNATURE_INVALID",
        "unverified": ["correlation_id", "legal_basis", "message_id", "provider", "purpose",
                       "service"]},
}


def main() -> None:
    cases = []
    for seq, (name, fields) in enumerate(CASES.items(), start=43):
        event = AuditEvent(**{**fields, "time": datetime.fromisoformat(fields["time"]),  # type: ignore[arg-type]
                              "subject_keys": tuple(fields["subject_keys"]),
                              "unverified": tuple(fields.get("unverified", ()))})
        data, leaf = encode(event, seq, "broker-1/w0")
        cases.append({"name": name, "event": fields, "seq": seq, "instance_id": "broker-1/w0",
                      "record": data.decode("utf-8"), "leaf_hash": leaf.hex()})
    out = {"about": "Audit records (v2) with the optional keys of docs/AUDIT.md: each appears "
                    "only when set. Each case: an event, its seq and instance, the exact "
                    "canonical record bytes and RFC 6962 leaf hash. Made by "
                    "make_audit_optional.py.", "cases": cases}
    (Path(__file__).parent / "audit_record_v2_optional.json").write_text(
        json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
