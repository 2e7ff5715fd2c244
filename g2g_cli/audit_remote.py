"""The audit log of a remote broker, read through its `g2g.v1.Audit` gRPC service.

`g2g audit --as AUDITOR ...` runs on the auditor's own machine with only its
own key and certificate (mutual TLS; the registry role `auditor` or
`federation-auditor` decides what it may see), the registry (for the broker's
address) and the log's public key. It never needs the broker's config,
database or log secret: a person is sent to the broker, which hashes it with
the log secret exactly as the log stores subjects.

`RemoteLog` answers the reads the local commands make of a `LogReader` (size,
records, checkpoints, proofs), each with one Audit call, so both modes print
the same. Every checkpoint it returns is first verified against the log key
the auditor trusts: a broker cannot hand a remote auditor an unsigned tree.
Every call is itself audited by the broker (an `audit_read` record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from g2g_sdk import status, tls
from g2g_sdk._gen.g2g.v1 import audit_pb2, audit_pb2_grpc
from g2g_sdk.errors import BrokerUnavailable, G2GError
from g2g_sdk.pki import Identity

from broker.audit import checkpoint
from broker.audit.log import Filters
from broker.audit.merkle import leaf_hash

PAGE = 10_000
"""Most records one Query returns (the service's bound)."""
TIMEOUT = 30.0
"""Seconds one Audit call may take."""


@dataclass(frozen=True)
class Subject:
    """A person to search for, sent to the broker to hash (the auditor has no log secret)."""

    full_name: str = ""
    date_of_birth: str = ""
    document: str = ""
    national_id: str = ""

    def apply(self, query: audit_pb2.AuditQuery) -> None:
        if self.full_name:
            query.name_dob.full_name = self.full_name
            query.name_dob.date_of_birth = self.date_of_birth
        elif self.document:
            query.document = self.document
        elif self.national_id:
            query.national_id = self.national_id


class RemoteLog:
    """The read side of `broker.audit.log.LogReader`, over one mTLS channel to the broker."""

    def __init__(self, endpoint: str, identity: Identity, log_key: Ed25519PublicKey, *,
                 broker_id: str, subject: Subject | None = None, at_size: int | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.endpoint = endpoint
        # Only a server certified as the registry's broker gets a byte (docs/PKI.md).
        self._channel = grpc.secure_channel(
            endpoint, tls.channel_credentials(identity),
            options=tls.pinned_channel_options("broker", broker_id))
        self._at_size = at_size
        self._stub = audit_pb2_grpc.AuditStub(self._channel)
        self._key = log_key
        self._subject = subject or Subject()
        self._timeout = timeout
        self.origin = ""
        """The log's origin line, from the latest checkpoint (set by `latest_checkpoint`)."""

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and not status.has_error_info(exc):
                # Made by our own gRPC library, not sent by the broker.
                raise BrokerUnavailable(
                    f"the broker at {self.endpoint} could not be reached (check --broker or "
                    "the registry's broker endpoint, and that the broker runs)") from None
            raise status.error_from_rpc(exc) from None

    def size(self) -> int:
        """Records in the log now (the latest checkpoint may cover fewer)."""
        reply: audit_pb2.SignedCheckpoint = self._call(
            "LatestCheckpoint", audit_pb2.CheckpointRequest())
        return int(reply.log_size)

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        """(size, root, note) of the latest checkpoint, its signature verified first."""
        reply: audit_pb2.SignedCheckpoint = self._call(
            "LatestCheckpoint", audit_pb2.CheckpointRequest())
        if not reply.note:
            return None
        return self._verified(reply.note)

    def _verified(self, note: str) -> tuple[int, bytes, str]:
        origin = note.split("\n", 1)[0]
        cp = checkpoint.verify(note, origin, self._key)
        self.origin = cp.origin
        return cp.size, cp.root, note

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        """The latest checkpoint, and the one at `at_size` when asked for (the service
        serves a checkpoint by its tree size, not a list of them)."""
        found = {}
        latest = self.latest_checkpoint()
        if latest is not None:
            found[latest[0]] = latest
        if self._at_size is not None and self._at_size not in found:
            at = self.checkpoint_at(self._at_size)
            if at is not None:
                found[at[0]] = at
        return [found[size] for size in sorted(found)]

    def checkpoint_at(self, size: int) -> tuple[int, bytes, str] | None:
        """The signed checkpoint of tree size `size`, when the broker signed one."""
        reply: audit_pb2.SignedCheckpoint = self._call(
            "LatestCheckpoint", audit_pb2.CheckpointRequest(tree_size=size))
        return self._verified(reply.note) if reply.note else None

    def query_bytes(self, f: Filters) -> list[bytes]:
        """Matching records' exact bytes, fetched a page at a time."""
        out: list[bytes] = []
        start = f.from_seq
        while len(out) < f.limit:
            query = audit_pb2.AuditQuery(
                agency=f.agency, consumer=f.consumer, provider=f.provider, service=f.service,
                purpose=f.purpose, decision=f.decision, status_code=f.status_code,
                kind=f.kind, message_id=f.message_id, since=f.since, until=f.until,
                from_seq=start, to_seq=f.to_seq or 0, limit=min(PAGE, f.limit - len(out)))
            self._subject.apply(query)
            reply: audit_pb2.AuditRecords = self._call("Query", query)
            out.extend(reply.records)
            if len(reply.records) < query.limit:
                break
            start = int(json.loads(reply.records[-1])["seq"]) + 1
        return out

    def query(self, f: Filters) -> list[dict[str, Any]]:
        return [json.loads(data) for data in self.query_bytes(f)]

    def record(self, seq: int) -> tuple[bytes, bytes] | None:
        """(record bytes, leaf hash) of record `seq`."""
        try:
            reply: audit_pb2.InclusionProofResponse = self._call(
                "InclusionProof", audit_pb2.InclusionProofRequest(seq=seq))
        except G2GError as exc:
            if exc.reason == "OUT_OF_RANGE":
                return None
            raise
        return bytes(reply.record), leaf_hash(bytes(reply.record))

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        reply: audit_pb2.InclusionProofResponse = self._call(
            "InclusionProof", audit_pb2.InclusionProofRequest(seq=seq, tree_size=size))
        return [bytes(p) for p in reply.proof]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        reply: audit_pb2.ConsistencyProofResponse = self._call(
            "ConsistencyProof", audit_pb2.ConsistencyProofRequest(old_size=old, new_size=new))
        return [bytes(p) for p in reply.proof]

    def root(self, size: int) -> bytes:
        reply: audit_pb2.ConsistencyProofResponse = self._call(
            "ConsistencyProof", audit_pb2.ConsistencyProofRequest(old_size=size, new_size=size))
        return bytes(reply.new_root)
