"""The tamper-evident audit log: RFC 6962 Merkle tree over canonical records.

`open_store` gives the `AuditStore` the broker appends to; `LogReader` answers
auditors' queries and proofs; `merkle` and `checkpoint` are the pure math and
formats a verifier needs.
"""

from broker.audit.config import AuditConfig, parse_audit_config
from broker.audit.record import AuditEvent, AuditReceipt
from broker.audit.store import AuditStore, open_store
from broker.audit.subjects import subject_keys

__all__ = ["AuditConfig", "AuditEvent", "AuditReceipt", "AuditStore", "open_store",
           "parse_audit_config", "subject_keys"]
