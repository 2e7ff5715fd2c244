"""The `g2g.v1.Audit` gRPC service: queries and proofs for auditors' own systems.

Access by registry role, decided in `scope` (pure): a federation auditor sees
every record, an agency auditor only records where it is consumer or
provider, anyone else nothing. Every read, allowed or refused, is appended to
the log itself as an `audit_read` record.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import grpc
import structlog
from g2g_sdk import boundary, logs, schema
from g2g_sdk._gen.g2g.v1 import audit_pb2, audit_pb2_grpc
from g2g_sdk.errors import AccessDenied, G2GError, InternalError, SchemaError
from g2g_sdk.registry import Registry
from google.protobuf import message as pb_message

from broker.audit import subjects
from broker.audit.log import Filters, LogReader
from broker.audit.record import AuditEvent, decode
from broker.audit.store import AuditStore

log = structlog.get_logger("g2g.audit")

FEDERATION = "federation-auditor"
AGENCY = "auditor"


def scope(registry: Registry, caller: str) -> str | None:
    """None: everything; an agency id: only that agency's records. Raises if neither.

    An `auditor` reads the agency it `audits` in the registry, or else its own.
    """
    agency = registry.agency(caller)
    if agency is None or not agency.roles & {FEDERATION, AGENCY}:
        raise AccessDenied(f"{caller} has no auditor role in the registry")
    if FEDERATION in agency.roles:
        return None
    return agency.audits or caller


def _visible(record: dict[str, Any], limit_to: str | None) -> bool:
    return limit_to is None or limit_to in (record.get("consumer"), record.get("provider"))


class AuditServicer(audit_pb2_grpc.AuditServicer):
    def __init__(self, store: AuditStore, registry: Callable[[], Registry],
                 log_secret: bytes) -> None:
        self._store = store
        self._registry = registry
        self._secret = log_secret

    def _subject_key(self, request: audit_pb2.AuditQuery) -> str:
        """The keyed hash of the person asked about, computed as the log stores it."""
        if not request.WhichOneof("subject"):
            return request.subject_key
        return subjects.query_key(
            self._secret, full_name=request.name_dob.full_name,
            date_of_birth=request.name_dob.date_of_birth, document=request.document,
            national_id=request.national_id)

    def _digest(self, request: pb_message.Message) -> str:
        """SHA-256 of the request, with a person's identifier replaced by its keyed hash:
        a plain hash of a name and birth date could be reversed by guessing."""
        if isinstance(request, audit_pb2.AuditQuery) and request.WhichOneof("subject"):
            redacted = audit_pb2.AuditQuery()
            redacted.CopyFrom(request)
            redacted.ClearField("subject")
            redacted.subject_key = self._subject_key(request)
            request = redacted
        return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()

    async def _run(self, method: str, request: pb_message.Message, fn: Any) -> Any:
        """Scope, validate and answer one read; record it, allowed or refused.

        Refusals are raised for the boundary interceptor (g2g_sdk.boundary) to
        turn into a status once they are recorded.
        """
        started = time.perf_counter()
        read = AuditEvent(kind="audit_read", time=datetime.now(UTC),
                          service=f"g2g.v1.Audit/{method}",
                          request_digest=self._digest(request))
        try:
            read = replace(read, consumer=boundary.agency())
            limit_to = scope(self._registry(), read.consumer)
            # The rule that let the read in: whose records it could see.
            read = replace(read, rule_id=FEDERATION if limit_to is None
                           else f"{AGENCY}:{limit_to}")
            schema.reject_unknown_fields(request)
            schema.validate(request)
            if isinstance(request, audit_pb2.AuditQuery) and self._subject_key(request):
                # An auditor searching for a person is also someone who looked them up.
                read = replace(read, subject_keys=(self._subject_key(request),))
            result = await fn(limit_to)
        except G2GError as exc:
            await self._refuse(read, exc, started)
        except Exception as exc:
            # A bug or a database fault, not a bad request: still audited and answered
            # with a reason. Its text may quote what was read, so only its type and
            # place are logged, and the caller sees neither.
            log.error("audit_read_fault", **logs.fault_fields(exc))
            await self._refuse(read, InternalError(
                "the broker failed to answer this audit request"), started)
        # A read that cannot be recorded is not answered (AuditUnavailable propagates).
        await self._record(read, "OK", "", started)
        return result

    async def _refuse(self, read: AuditEvent, exc: G2GError, started: float) -> NoReturn:
        try:
            await self._record(read, exc.code.name, exc.reason, started)
        except G2GError as audit_exc:
            # The refusal is what the caller must see; the audit outage is logged.
            log.error("audit_failed", reason=audit_exc.reason, during=exc.reason)
        raise exc

    async def _record(self, read: AuditEvent, code: str, reason: str, started: float) -> None:
        await self._store.append(replace(
            read, decision="allow" if code == "OK" else "deny", status_code=code,
            reason=reason, latency_ms=round((time.perf_counter() - started) * 1000, 3)))

    async def Query(self, request: audit_pb2.AuditQuery,  # noqa: N802
                    context: Any) -> audit_pb2.AuditRecords:
        async def query(limit_to: str | None) -> audit_pb2.AuditRecords:
            if limit_to is not None and request.agency and request.agency != limit_to:
                raise AccessDenied(f"an agency auditor sees only {limit_to}'s records")
            if request.subject_key and request.WhichOneof("subject"):
                raise SchemaError("give subject_key or a subject, not both",
                                  reason="CONSTRAINT_VIOLATION")
            filters = Filters(agency=limit_to or request.agency, service=request.service,
                              purpose=request.purpose, decision=request.decision,
                              status_code=request.status_code, since=request.since,
                              until=request.until, subject=self._subject_key(request),
                              consumer=request.consumer, provider=request.provider,
                              kind=request.kind, message_id=request.message_id,
                              from_seq=request.from_seq, to_seq=request.to_seq or None,
                              limit=request.limit or 1000)
            records = await self._store.read(lambda r: r.query_bytes(filters))
            return audit_pb2.AuditRecords(records=[data for data in records
                                                   if _visible(decode(data), limit_to)])
        result: audit_pb2.AuditRecords = await self._run("Query", request, query)
        return result

    async def LatestCheckpoint(self, request: audit_pb2.CheckpointRequest,  # noqa: N802
                               context: Any) -> audit_pb2.SignedCheckpoint:
        async def latest(limit_to: str | None) -> audit_pb2.SignedCheckpoint:
            def work(r: LogReader) -> tuple[tuple[int, bytes, str] | None, int]:
                if not request.tree_size:
                    return r.latest_checkpoint(), r.size()
                at = [c for c in r.checkpoints() if c[0] == request.tree_size]
                return (at[0] if at else None), r.size()
            found, size = await self._store.read(work)
            return audit_pb2.SignedCheckpoint(note=found[2] if found else "", log_size=size)
        result: audit_pb2.SignedCheckpoint = await self._run(
            "LatestCheckpoint", request, latest)
        return result

    async def InclusionProof(self, request: audit_pb2.InclusionProofRequest,  # noqa: N802
                             context: Any) -> audit_pb2.InclusionProofResponse:
        async def prove(limit_to: str | None) -> audit_pb2.InclusionProofResponse:
            def work(r: LogReader) -> audit_pb2.InclusionProofResponse:
                checkpoints = {size: note for size, _, note in r.checkpoints()}
                size = request.tree_size or max(checkpoints, default=0)
                if not request.seq < size <= r.size():
                    raise SchemaError(f"record {request.seq} is not in a tree of size {size}",
                                      reason="OUT_OF_RANGE")
                found = r.record(request.seq)
                assert found is not None
                if not _visible(decode(found[0]), limit_to):
                    raise AccessDenied("that record is not about your agency")
                return audit_pb2.InclusionProofResponse(
                    seq=request.seq, tree_size=size, record=found[0],
                    proof=r.inclusion_proof(request.seq, size),
                    checkpoint=checkpoints.get(size, ""))
            return await self._store.read(work)
        result: audit_pb2.InclusionProofResponse = await self._run("InclusionProof",
                                                                   request, prove)
        return result

    async def ConsistencyProof(self, request: audit_pb2.ConsistencyProofRequest,  # noqa: N802
                               context: Any) -> audit_pb2.ConsistencyProofResponse:
        async def prove(limit_to: str | None) -> audit_pb2.ConsistencyProofResponse:
            def work(r: LogReader) -> audit_pb2.ConsistencyProofResponse:
                if not 0 < request.old_size <= request.new_size <= r.size():
                    raise SchemaError("sizes must satisfy 0 < old <= new <= tree size",
                                      reason="OUT_OF_RANGE")
                return audit_pb2.ConsistencyProofResponse(
                    proof=r.consistency_proof(request.old_size, request.new_size),
                    old_root=r.root(request.old_size), new_root=r.root(request.new_size))
            return await self._store.read(work)
        result: audit_pb2.ConsistencyProofResponse = await self._run(
            "ConsistencyProof", request, prove)
        return result


def add_audit_service(server: grpc.aio.Server, store: AuditStore,
                      registry: Callable[[], Registry], log_secret: bytes) -> None:
    """`registry` returns the live registry (roles follow a reloaded one)."""
    audit_pb2_grpc.add_AuditServicer_to_server(AuditServicer(store, registry, log_secret),
                                               server)
