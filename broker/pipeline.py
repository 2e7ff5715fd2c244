"""The broker's request path, one small function per step, in this order:

    authenticate (mTLS identity) → certificate status (CRL, published) → size →
    parse envelope → sender's keys from the TLS identity → open: signature over
    the raw header bytes, then parse header →
    kind → header sender = TLS identity → key valid → payload digest → freshness →
    replay → service → schema → policy → rate limit → audit request (durable) →
    forward with attestation → verify response → audit outcome

Verify, then parse: nothing reads the header before its signature verified
(envelope.open_envelope, the one function that opens an envelope). A refused
request's record carries what its header claimed, marked `unverified` when its
signature did not verify; the consumer in every record is the TLS identity.

The replay check is this process's memory; the shared replay claim and the
rate-limit counters are taken with the request record, in the same
audit transaction, so they hold across every worker on the store.

Every step either returns what the next needs or raises a `G2GError`; the
`Trace` collects whatever identity was established so that rejected
requests are audited too. The server turns errors into statuses
(g2g_sdk.status); nothing here picks a gRPC code. Never logs payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from cryptography import x509
from g2g_sdk import envelope, fieldmask, logs, revocation, schema, tracing
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2
from g2g_sdk.catalog import Catalog, ServiceSpec
from g2g_sdk.envelope import OpenedEnvelope
from g2g_sdk.errors import (
    AuditUnavailable,
    AuthenticationError,
    CallCancelled,
    CallDeadlineExceeded,
    EnvelopeError,
    FreshnessError,
    G2GError,
    InternalError,
    PolicyDenied,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderTimeout,
    SchemaError,
    SignatureError,
    UnknownServiceError,
)
from g2g_sdk.registry import Agency, Registry
from g2g_sdk.signer import Signer
from google.protobuf import message as pb_message

from broker import replay
from broker.audit import AuditEvent, AuditReceipt, AuditStore, subject_keys
from broker.audit.store import Admission
from broker.config import Limits
from broker.policy import Decision, PolicySet, RequestContext
from broker.policy.ratelimit import windows
from broker.trust import Trust
from broker.typing import NO_OBSERVER, Clock, ExchangeObserver, ReplayGuard

log = structlog.get_logger("g2g.broker")

Forward = Callable[[str, provider_pb2.ProviderRequest, float], Awaitable[envelope_pb2.Envelope]]
"""Sends a ProviderRequest to the provider with this agency id, within a timeout."""

TimeRemaining = Callable[[], float | None]
"""Seconds left of the caller's deadline (None: no deadline); grpc's context.time_remaining."""

# The broker answers OK only with at least this much of the caller's deadline
# left once the answer is verified: enough to commit the outcome record and
# send the answer, so the record says what the caller got (docs/PROTOCOL.md §3.2).
ANSWER_MARGIN_SECONDS = 0.05


def _no_deadline() -> float | None:
    return None


@dataclass(frozen=True)
class Broker:
    """Everything the pipeline needs, built once at start-up.

    `trust` and `policies` return the live (hot-reloaded) values; a request
    reads each once, so it is decided under one registry version throughout.
    """

    broker_id: str
    instance_id: str
    trust: Callable[[], Trust]
    policies: Callable[[], PolicySet]
    audit: AuditStore
    replay: ReplayGuard
    forward: Forward
    # The signing key to use now: a key file's or an HSM's (g2g_sdk.signer), switched
    # after a rotation without a restart (broker/identity.py).
    signer: Callable[[], Signer]
    log_secret: bytes
    limits: Limits
    clock: Clock
    # Exchanges answered, by status code name; `g2g broker serve` reports it
    # periodically so the OK path needs no log line of its own.
    tally: Counter[str] = field(default_factory=Counter)
    # Checks the caller's certificate against the live CRLs and returns it parsed
    # (g2g_sdk.revocation.PeerChecker); None skips the check (unit tests only).
    peer_check: Callable[[bytes | None], x509.Certificate] | None = None
    # Stage timings and outcomes for the metrics (broker/metrics.py); none by default.
    observe: ExchangeObserver = NO_OBSERVER

    @property
    def signing_key(self) -> Signer:
        """The broker's signing key now."""
        return self.signer()

    @property
    def registry(self) -> Registry:
        """The registry serving now (a request uses its own snapshot, `Trust`)."""
        return self.trust().registry

    @property
    def catalog(self) -> Catalog:
        return self.trust().catalog


@dataclass
class Trace:
    """What is known about a request so far; becomes its audit records."""

    started: float = field(default_factory=time.perf_counter)
    observe: ExchangeObserver = NO_OBSERVER
    _mark: float = field(default_factory=time.perf_counter)
    consumer: str = ""
    header: envelope_pb2.Header | None = None
    request_digest: str = ""
    decision: Decision | None = None
    decision_id: str = ""
    subjects: tuple[str, ...] = ()
    request_recorded: bool = False
    registry_version: str = ""
    # Set when `header` was read from bytes whose signature did not verify (a request
    # refused at or before the signature check): its fields go in the record marked
    # unverified, never as fact.
    unverified: bool = False

    def lap(self, stage: str) -> None:
        """The stage named `stage` ended now (it began when the previous one ended)."""
        now = time.perf_counter()
        self.observe.stage(stage, now - self._mark)
        tracing.stage(stage, now - self._mark)
        self._mark = now

    def finished(self, code: str, reason: str) -> None:
        h = self.header
        if h is not None and not self.unverified:  # ids the signature vouches for
            tracing.annotate(correlation_id=h.correlation_id, message_id=h.message_id)
        self.observe.exchange(consumer=self.consumer, provider=h.recipient if h else "",
                              service=h.service if h else "", code=code, reason=reason,
                              seconds=time.perf_counter() - self.started)

    def event(self, kind: str, now: datetime, *, status: str = "", reason: str = "",
              response_digest: str = "", refused_by: str = "") -> AuditEvent:
        h = self.header
        d = self.decision
        return AuditEvent(
            kind=kind,  # type: ignore[arg-type]
            time=now,
            message_id=h.message_id if h else "",
            correlation_id=h.correlation_id if h else "",
            consumer=self.consumer,  # the TLS identity, never the header's claim
            provider=h.recipient if h else "",
            service=h.service if h else "",
            purpose=h.purpose if h else "",
            legal_basis=h.legal_basis if h else "",
            decision=("allow" if d.allowed else "deny") if d else "",
            decision_id=self.decision_id,
            rule_id=(d.rule_id or "") if d else "",
            policy_version=d.policy_version if d else "",
            registry_version=self.registry_version,
            status_code=status,
            reason=reason,
            request_digest=self.request_digest,
            response_digest=response_digest,
            latency_ms=None if kind == "request" else
            round((time.perf_counter() - self.started) * 1000, 3),
            subject_keys=self.subjects,
            refused_by=refused_by,
            unverified=_header_fields(h) if h and self.unverified else (),
        )


_FROM_HEADER = ("correlation_id", "legal_basis", "message_id", "provider", "purpose", "service")


def _header_fields(h: envelope_pb2.Header) -> tuple[str, ...]:
    """The record fields (sorted) this header fills in."""
    values = {"correlation_id": h.correlation_id, "legal_basis": h.legal_basis,
              "message_id": h.message_id, "provider": h.recipient, "purpose": h.purpose,
              "service": h.service}
    return tuple(name for name in _FROM_HEADER if values[name])


# --- steps -----------------------------------------------------------------

def authenticate(peer: str | None) -> str:
    """The agency id named by the verified client certificate (docs/PKI.md)."""
    if not peer:
        raise AuthenticationError("the client certificate names no agency",
                                  reason="NO_PEER_IDENTITY")
    return peer


def check_peer(broker: Broker, pem: bytes | None, consumer: str, registry: Registry) -> None:
    """The caller's certificate: not expired, not revoked, status known, and published."""
    if broker.peer_check is not None:
        check_certificate(broker.peer_check(pem), consumer, registry)


def check_certificate(cert: x509.Certificate, consumer: str, registry: Registry) -> None:
    """When the CA publishes the agency's certificates, the caller's must be one of them."""
    agency = registry.agency(consumer)
    if agency is None or not agency.certificates:
        return  # not registered (registered_sender says so) or nothing published: CA + CRL decide
    fingerprint = revocation.cert_facts(cert).sha256
    if all(c.sha256 != fingerprint for c in agency.certificates):
        raise AuthenticationError(
            f"the client certificate (serial {cert.serial_number:x}) is not one the "
            f"federation CA published for {consumer}", reason="CERT_UNKNOWN",
            metadata={"serial": f"{cert.serial_number:x}"})


def registered_sender(consumer: str, registry: Registry) -> Agency:
    """The registry entry of the TLS-identified consumer: whose keys must have signed."""
    agency = registry.agency(consumer)
    if agency is None:
        raise AuthenticationError(f"{consumer} is not a registered agency",
                                  reason="UNKNOWN_SENDER")
    return agency


def open_request(env: envelope_pb2.Envelope, sender: Agency, broker: Broker) -> OpenedEnvelope:
    """Signature over the raw header bytes by a key of `sender`, then header, digest, freshness."""
    return envelope.open_envelope(env, sender, now=broker.clock(),
                                  rules=broker.limits.time_rules, kind=envelope.REQUEST)


def resolve_service(header: envelope_pb2.Header, catalog: Catalog) -> ServiceSpec:
    """The service's schema, provided it exists and the recipient offers it."""
    spec = catalog.get(header.service)
    if spec is None:
        raise UnknownServiceError(f"no service named {header.service}",
                                  reason="UNKNOWN_SERVICE")
    if header.recipient not in spec.offers:
        raise UnknownServiceError(
            f"{header.recipient} does not offer {header.service}", reason="RECIPIENT_MISMATCH",
            metadata={"providers": ",".join(spec.providers)})
    return spec


def decide(opened: OpenedEnvelope, request: pb_message.Message, spec: ServiceSpec,
           policies: PolicySet, now: datetime) -> Decision:
    h = opened.header
    return policies.evaluate(RequestContext(
        consumer=h.sender, provider=h.recipient, service=spec.name, purpose=h.purpose,
        legal_basis=h.legal_basis, request=request, now=now))


def require_allowed(decision: Decision) -> None:
    """Default deny: anything but an allow stops here, naming the rule or none."""
    if not decision.allowed:
        rule = decision.rule_id or "none"
        message = (f"denied by rule {decision.rule_id}: {decision.reason}" if decision.rule_id
                   else decision.reason or "no rule matched")
        metadata = {"rule_id": rule, "policy_version": decision.policy_version}
        if decision.unmet_rule:
            metadata["unmet_rule"] = decision.unmet_rule
        raise PolicyDenied(message, reason="POLICY_DENIED", metadata=metadata)


def attest(opened: OpenedEnvelope, spec: ServiceSpec, decision: Decision, decision_id: str,
           broker: Broker, now: datetime) -> envelope_pb2.Attestation:
    h = opened.header
    body = envelope_pb2.AttestationBody(
        decision_id=decision_id, request_digest=opened.digest, message_id=h.message_id,
        consumer=h.sender, provider=h.recipient, service=spec.name, purpose=h.purpose,
        rule_id=decision.rule_id or "", policy_version=decision.policy_version,
        field_mask=list(decision.field_mask), issued_at=envelope.to_timestamp(now),
        expires_at=h.expires_at, broker_id=broker.broker_id)
    return envelope.sign_attestation(body, broker.signing_key)


def verify_response(response: envelope_pb2.Envelope, request: OpenedEnvelope,
                    spec: ServiceSpec, mask: fieldmask.MaskTree, broker: Broker,
                    registry: Registry) -> None:
    """Fail closed unless the response is the provider's signed, bound, in-mask answer."""
    provider = registry.agency(request.header.recipient)
    assert provider is not None  # resolve_service checked the recipient offers the service
    try:
        answer = envelope.open_envelope(response, provider, now=broker.clock(),
                                        rules=broker.limits.time_rules, kind=envelope.RESPONSE)
    except (SignatureError, EnvelopeError, FreshnessError, AuthenticationError) as exc:
        raise _invalid("signature", f"provider response rejected: {exc.message}") from None
    h = answer.header
    try:
        envelope.check_binding(h, request.header, request.digest)
    except EnvelopeError:
        raise _invalid("binding", "provider response does not answer this request") from None
    try:
        payload = schema.decode(spec.response_type, answer.payload, h.payload_type)
    except SchemaError as exc:
        raise _invalid("payload", f"provider response payload: {exc.message}") from None
    outside = fieldmask.violations(payload, mask)
    if outside:
        raise _invalid("mask", f"provider response has {len(outside)} field(s) outside the "
                       "attested mask", fields=",".join(sorted(set(outside))[:8]))


def _invalid(check: str, message: str, **extra: str) -> ProviderResponseInvalid:
    return ProviderResponseInvalid(message, metadata={"check": check, **extra})


# --- the pipeline ------------------------------------------------------------

async def handle_call(raw: bytes, peer: str | None, broker: Broker,
                      time_remaining: TimeRemaining = _no_deadline,
                      peer_cert: bytes | None = None) -> envelope_pb2.Envelope:
    """Run one Exchange.Call (its request bytes as received) through every step; audit it.

    `peer_cert` is the caller's PEM certificate from the TLS session.
    """
    trust = broker.trust()
    trace = Trace(observe=broker.observe, registry_version=trust.version)
    try:
        trace.consumer = authenticate(peer)
        check_peer(broker, peer_cert, trace.consumer, trust.registry)
        env = envelope.parse_envelope(raw, broker.limits.max_envelope_bytes)
        trace.request_digest = envelope.sha256(env.header).hex()
        sender = registered_sender(trace.consumer, trust.registry)
        opened = open_request(env, sender, broker)
        header = trace.header = opened.header  # from here on, every header field is verified
        trace.lap("verify")
        keep_until = (envelope.from_timestamp(header.expires_at)
                      + broker.limits.time_rules.clock_skew)
        await replay.check_replay(broker.replay, header.sender, header.message_id, keep_until)
        spec = resolve_service(header, trust.catalog)
        request = schema.decode(spec.request_type, opened.payload, header.payload_type)
        offer = spec.offers[header.recipient]
        trace.subjects = subject_keys(broker.log_secret, offer.subject_fields, request)
        trace.lap("validate")
        now = broker.clock()
        decision = trace.decision = decide(opened, request, spec, broker.policies(), now)
        require_allowed(decision)
        trace.lap("policy")
        trace.decision_id = str(uuid.uuid4())
        # Replay claim and rate limits are decided with the record, in one
        # transaction shared by every worker (broker/audit/store.py Admission).
        # Nothing is forwarded until the record is durable.
        await _record_request(trace, broker.audit.submit(trace.event("request", now), Admission(
            claim=replay.claim(header.sender, header.message_id, keep_until),
            counters=windows(header.sender, decision, now), now=int(now.timestamp()))))
        trace.lap("audit_commit")
        attestation = attest(opened, spec, decision, trace.decision_id, broker, now)
        response = await _forward(broker, header.recipient, provider_pb2.ProviderRequest(
            request=env, attestation=attestation), time_remaining)
        trace.lap("provider_call")
        verify_response(response, opened, spec, fieldmask.compiled(decision.field_mask), broker,
                        trust.registry)
        trace.lap("response_verify")
        _require_time_to_answer(time_remaining)
    except G2GError as exc:
        await _record_failure(trace, exc, broker, raw)
        raise
    except asyncio.CancelledError:
        # The caller hung up or its deadline passed: the exchange is still recorded
        # (an outcome once its request is recorded), with the status the caller got;
        # shielded, so a second cancellation cannot cut that write short.
        if trace.consumer:
            await asyncio.shield(_record_failure(trace, _left(time_remaining), broker, raw,
                                                 refuse_unrecorded=False))
        raise
    except Exception as exc:
        # A bug, not a bad request: the caller still gets a status with a reason and
        # the exchange is still audited. The exception's text may quote request
        # data, so only its type and where it was raised are logged.
        log.error("pipeline_fault", **logs.fault_fields(exc))
        fault = InternalError("the broker failed to process this request")
        await _record_failure(trace, fault, broker, raw)
        raise fault from None
    await _record_ok(trace, response, broker, raw, time_remaining)
    trace.lap("audit_outcome")
    # The audit log is the record of every exchange; the OK path stays quiet at INFO.
    broker.tally["OK"] += 1
    trace.finished("OK", "")
    log.debug("exchange", outcome="OK", message_id=header.message_id,
             correlation_id=header.correlation_id, consumer=header.sender,
             service=header.service, rule_id=decision.rule_id)
    return response


async def refuse(raw: bytes, peer: str | None, broker: Broker, exc: G2GError, *,
                 refuse_unrecorded: bool = True) -> None:
    """Count, log and audit a call refused before the pipeline ran (overload, draining)."""
    await _record_failure(Trace(observe=broker.observe, consumer=peer or "",
                                registry_version=broker.trust().version), exc, broker, raw,
                          refuse_unrecorded=refuse_unrecorded)


async def _forward(broker: Broker, provider: str, request: provider_pb2.ProviderRequest,
                   time_remaining: TimeRemaining) -> envelope_pb2.Envelope:
    """Forward within the provider timeout, and within the caller's deadline less the margin."""
    timeout = broker.limits.provider_timeout_seconds
    remaining = time_remaining()
    if remaining is not None and remaining - ANSWER_MARGIN_SECONDS < timeout:
        timeout = remaining - ANSWER_MARGIN_SECONDS
        if timeout <= 0:
            raise _deadline("the caller's deadline leaves no time to ask the provider")
        try:
            return await broker.forward(provider, request, timeout)
        except ProviderTimeout:
            # Cut short by the caller's deadline, not the provider's timeout.
            raise _deadline("the caller's deadline passed before the provider answered") \
                from None
    return await broker.forward(provider, request, timeout)


def _deadline(message: str) -> CallDeadlineExceeded:
    return CallDeadlineExceeded(message)


def _require_time_to_answer(time_remaining: TimeRemaining) -> None:
    remaining = time_remaining()
    if remaining is not None and remaining < ANSWER_MARGIN_SECONDS:
        raise _deadline("the caller's deadline leaves no time to record and return the answer")


def _left(time_remaining: TimeRemaining) -> G2GError:
    """What a caller that left got: DEADLINE_EXCEEDED if its deadline passed, else CANCELLED."""
    remaining = time_remaining()
    if remaining is not None and remaining <= 0:
        return _deadline("the caller's deadline passed before the answer")
    return CallCancelled("the caller left before the answer")


async def _record_ok(trace: Trace, response: envelope_pb2.Envelope, broker: Broker,
                     raw: bytes, time_remaining: TimeRemaining) -> None:
    """Commit the OK outcome; if the caller leaves meanwhile, say it did not get the answer.

    The record commits whether or not anyone waits; a caller whose deadline passes
    during that commit receives DEADLINE_EXCEEDED, not the answer, so a second
    outcome record with that status follows (the last outcome is what the caller got).
    """
    # Queued now (no task): it commits whether or not anyone waits for it.
    recording = broker.audit.submit(trace.event(
        "outcome", broker.clock(), status="OK",
        response_digest=envelope.sha256(response.header).hex()))
    try:
        await asyncio.shield(recording)
    except asyncio.CancelledError:
        async def supersede() -> None:
            with contextlib.suppress(G2GError):
                await recording
            await _record_failure(trace, _left(time_remaining), broker, raw,
                                  refuse_unrecorded=False)
        await asyncio.shield(supersede())
        raise


async def _record_request(trace: Trace, recording: asyncio.Future[AuditReceipt]) -> None:
    """Await the request record; a caller leaving meanwhile does not orphan it.

    The record is already queued and commits whether or not anyone waits, so on
    cancellation this still learns whether it did: if so the exchange is marked
    recorded and `handle_call` closes it with a CANCELLED outcome.
    """
    try:
        await asyncio.shield(recording)
    except asyncio.CancelledError:
        try:
            await recording
        except G2GError:
            pass  # refused (replay, rate limit, store down): there is no record to close
        else:
            trace.request_recorded = True
        raise
    trace.request_recorded = True


async def _record_failure(trace: Trace, exc: G2GError, broker: Broker, raw: bytes, *,
                          refuse_unrecorded: bool = True) -> None:
    """Count, log and audit a failed exchange with whatever identity was established.

    A refusal that cannot be recorded is not answered as if it were: the caller
    gets UNAVAILABLE / AUDIT_UNAVAILABLE instead (`refuse_unrecorded`; off when
    the caller has already left and gets nothing).
    """
    if trace.header is None:  # refused before the envelope opened: what the bytes claim
        trace.header = envelope.peek_header(envelope.peek_envelope(raw))
        # Unverified only if the sender's signature over these header bytes did not
        # verify; refused after it did (expired, wrong sender, ...), they are its own claims.
        trace.unverified = not exc.signature_verified
    kind = "outcome" if trace.request_recorded else "rejected"
    h = trace.header
    log.info("exchange", outcome=exc.code.name, reason=exc.reason,
             message_id=h.message_id if h else None,
             correlation_id=h.correlation_id if h else None,
             consumer=trace.consumer or None, service=h.service if h else None)
    try:
        await broker.audit.append(trace.event(
            kind, broker.clock(), status=exc.code.name, reason=exc.reason,
            refused_by="provider" if isinstance(exc, ProviderRejected) else ""))
    except G2GError as audit_exc:
        log.error("audit_failed", reason=audit_exc.reason, during=exc.reason)
        if refuse_unrecorded:
            broker.tally[AuditUnavailable.code.name] += 1
            trace.finished(AuditUnavailable.code.name, AuditUnavailable.default_reason)
            raise AuditUnavailable("the refusal could not be recorded in the audit log; "
                                   "nothing was forwarded") from None
    broker.tally[exc.code.name] += 1
    trace.finished(exc.code.name, exc.reason)


