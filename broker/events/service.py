"""The Events service: publish, subscribe, acknowledge (docs/PROTOCOL.md §9).

Publish, in this order:

    authenticate (mTLS) → size → parse header → publisher = certificate →
    signature → freshness → event type in the catalog → disclosures complete
    and matching → JetStream reachable → route (subscription policy) →
    audit event (claims the event id) → audit each routing decision →
    store each delivery in JetStream (Nats-Msg-Id) → audit outcome → OK

The event record claims the event id in the audit store. A second publication
of the same signed event (a publisher retrying after a broker crash between the
audit record and the JetStream publish, or a replay) finds the claim taken and
the same digest: it is stored again under the same message ids, which
JetStream de-duplicates, so nothing is lost and nothing is delivered twice.
The same event id with another digest is a replay attack: REPLAYED.

Every failure is audited and becomes a G2GError; the server's boundary
interceptor (g2g_sdk.boundary) maps it to a status through g2g_sdk.status
(Subscribe, a stream, maps its own). A Publish or Acknowledge call, once
admitted, runs to its end even when its caller leaves (`_to_the_end`). Never
logs payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import grpc
import nats
import structlog
from g2g_sdk import events, logs, schema, status, tls
from g2g_sdk._gen.g2g.v1 import events_pb2, events_pb2_grpc
from g2g_sdk.catalog import Catalog, EventSpec
from g2g_sdk.envelope import from_timestamp
from g2g_sdk.errors import (
    AuthenticationError,
    EnvelopeError,
    EventsUnavailable,
    G2GError,
    InternalError,
    PolicyDenied,
    ReplayError,
    SchemaError,
    SignatureError,
    UnknownServiceError,
)
from g2g_sdk.registry import Agency, Registry
from g2g_sdk.signer import Signer
from google.protobuf.message import DecodeError

from broker.admission import Gate
from broker.audit import AuditEvent, AuditStore, subject_keys
from broker.audit.log import Filters
from broker.audit.store import Admission
from broker.config import Limits
from broker.events import routing
from broker.events.config import EventsConfig
from broker.events.jetstream import Exhausted, JetStreamBus, consumer_name
from broker.policy import PolicySet, RequestContext
from broker.replay import Claim
from broker.trust import Trust
from broker.typing import NO_EVENTS_OBSERVER, Clock, EventsObserver

log = structlog.get_logger("g2g.events")

T = TypeVar("T")

FETCH_BATCH = 32
FETCH_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class EventsBroker:
    """Everything the Events service needs, built once at start-up."""

    broker_id: str
    trust: Callable[[], Trust]
    policies: Callable[[], PolicySet]
    audit: AuditStore
    bus: JetStreamBus
    signer: Callable[[], Signer]  # the broker's key now (broker/identity.py)
    log_secret: bytes
    limits: Limits
    config: EventsConfig
    clock: Clock
    gate: Gate  # the Exchange service's admission gate: one bound for both services
    observe: EventsObserver = NO_EVENTS_OBSERVER
    # Publish and Acknowledge calls running (`_to_the_end`), awaited on close.
    running: set[asyncio.Task[Any]] = field(default_factory=set, compare=False)

    @property
    def registry(self) -> Registry:
        """The registry serving now (a call uses one snapshot, `trust()`)."""
        return self.trust().registry


@dataclass
class _Trace:
    """What is known about one event so far; becomes its audit records."""

    started: float = field(default_factory=time.perf_counter)
    peer: str = ""
    header: events_pb2.EventHeader | None = None
    digest: str = ""
    subjects: tuple[str, ...] = ()
    recorded: bool = False
    registry_version: str = ""

    def record(self, kind: str, now: datetime, *, subscriber: str = "", decision: str = "",
               rule_id: str = "", policy_version: str = "", status: str = "",
               reason: str = "") -> AuditEvent:
        h = self.header
        return AuditEvent(
            kind=kind,  # type: ignore[arg-type]
            time=now, message_id=h.event_id if h else "",
            correlation_id=h.correlation_id if h else "", consumer=subscriber,
            provider=h.publisher if h else self.peer, service=h.event_type if h else "",
            purpose=h.purpose if h else "", legal_basis=h.legal_basis if h else "",
            decision=decision, rule_id=rule_id, policy_version=policy_version,
            status_code=status, reason=reason, request_digest=self.digest,
            latency_ms=None if kind in ("event", "route") else
            round((time.perf_counter() - self.started) * 1000, 3),
            subject_keys=self.subjects, registry_version=self.registry_version)


def _authenticate(peer: str | None, registry: Registry) -> Agency:
    if not peer:
        raise AuthenticationError("no verified client certificate", reason="NO_CLIENT_CERT")
    agency = registry.agency(peer)
    if agency is None:
        raise AuthenticationError(f"{peer} is not a registered agency", reason="UNKNOWN_SENDER")
    return agency


def _check_size(signed: events_pb2.SignedEvent, limit: int) -> None:
    size = signed.ByteSize()
    if size > limit:
        raise EnvelopeError(f"event is {size} bytes, over the {limit}-byte limit",
                            reason="EVENT_TOO_LARGE",
                            metadata={"size": str(size), "limit": str(limit)})


def _check_publisher(header: events_pb2.EventHeader, agency: Agency) -> None:
    if header.publisher != agency.id:
        raise AuthenticationError(
            f"header publisher {header.publisher} does not match the TLS identity "
            f"{agency.id}", reason="SENDER_MISMATCH")


def _event_spec(header: events_pb2.EventHeader, catalog: Catalog) -> EventSpec:
    spec = catalog.event(header.event_type)
    if spec is None or header.publisher not in spec.offers:
        raise UnknownServiceError(
            f"{header.publisher} publishes no event type {header.event_type}",
            reason="UNKNOWN_EVENT_TYPE", metadata={"event_type": header.event_type[:256]})
    return spec


def _claim(header: events_pb2.EventHeader, keep_until: datetime) -> Claim:
    # Two spaces: never equal to a request's "sender message_id" claim.
    return Claim(f"{header.publisher} event {header.event_id}",
                 int(keep_until.timestamp()) + 1, header.event_id)


async def _admitted(broker: EventsBroker, peer: str | None, work: Awaitable[T]) -> T:
    """`work` holding an admission slot (so a drain waits for it) until it is done."""
    with broker.gate.admit(peer or ""):
        return await work


async def _to_the_end(broker: EventsBroker, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` in its own task, which the caller's leaving does not stop.

    A publication or a receipt is several steps (audit records, JetStream
    publishes or the ack); cut at an `await` by a client that cancels or whose
    deadline passes, it would be half done: a `receipt` record for a delivery
    JetStream then hands out again (and audits a second receipt for), an `event`
    record without its outcome. Run to the end, it counts, recorded once, or is
    refused and recorded as such. The handler itself still ends with the
    cancellation, so no status is sent on the finished call. `close` waits for
    these tasks before JetStream and the audit log close under them.
    """
    task = asyncio.ensure_future(work)
    broker.running.add(task)
    task.add_done_callback(broker.running.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_unattended)
        raise


def _unattended(task: asyncio.Task[Any]) -> None:
    """How a call ended whose caller had left: refusals are audited already; a fault
    is logged here, where it would otherwise go unseen."""
    if task.cancelled():
        return
    exc = task.exception()  # retrieved either way: no "never retrieved" warning
    if exc is not None and not isinstance(exc, G2GError):
        log.error("events_fault", **logs.fault_fields(exc))


async def finish_running(broker: EventsBroker, timeout: float) -> bool:
    """Wait up to `timeout` s for calls still running; True if none is left."""
    pending = set(broker.running)
    if pending:
        _, pending = await asyncio.wait(pending, timeout=timeout)
    if pending:
        log.error("events_calls_unfinished", calls=len(pending), seconds=timeout)
    return not pending


async def publish(signed: events_pb2.SignedEvent, peer: str | None,
                  broker: EventsBroker) -> events_pb2.PublishResponse:
    """Admit the publication (broker/admission.py) and run it; audit whatever happens.

    Beyond the per-process or per-agency bound of calls in flight (shared with
    Exchange calls) it is refused at once with RESOURCE_EXHAUSTED / OVERLOADED,
    and UNAVAILABLE / DRAINING once the broker drains; the refusal is an
    `event_rejected` record.
    """
    try:
        broker.gate.check(peer or "")
    except G2GError as exc:
        await _record_failure(_Trace(peer=peer or "", registry_version=broker.trust().version),
                              exc, broker, signed)
        raise
    return await _to_the_end(broker, _admitted(broker, peer, _publish(signed, peer, broker)))


async def _publish(signed: events_pb2.SignedEvent, peer: str | None,
                   broker: EventsBroker) -> events_pb2.PublishResponse:
    trust = broker.trust()
    trace = _Trace(peer=peer or "", registry_version=trust.version)
    try:
        agency = _authenticate(peer, trust.registry)
        _check_size(signed, broker.config.max_event_bytes)
        header = trace.header = events.parse_header(signed.header)
        digest = events.sha256(signed.header)
        trace.digest = digest.hex()
        _check_publisher(header, agency)
        keyid = events.verify_signature(signed.header, signed.signatures, agency.signing_keys)
        agency.check_signer(keyid, from_timestamp(header.created_at))
        now = broker.clock()
        events.check_freshness(header, now, broker.limits.time_rules)
        spec = _event_spec(header, trust.catalog)
        payload, opened = events.check_disclosures(header, signed.disclosures, spec.cls,
                                                   complete=True)
        trace.subjects = subject_keys(broker.log_secret,
                                      spec.offers[agency.id].subject_fields, payload)
        broker.bus.check_available()
        policy = broker.policies()
        decisions = policy.route(RequestContext(
            consumer="", provider=agency.id, service=header.event_type, purpose=header.purpose,
            legal_basis=header.legal_basis, request=payload, now=now))
        keep_until = from_timestamp(header.expires_at) + broker.limits.time_rules.clock_skew
        duplicate = False
        try:
            await broker.audit.append(trace.record("event", now), Admission(
                claim=_claim(header, keep_until), counters=(), now=int(now.timestamp())))
        except ReplayError:
            if not await _published_before(header, trace.digest, broker):
                raise ReplayError("event_id was already used for another event",
                                  reason="REPLAYED",
                                  metadata={"event_id": header.event_id}) from None
            duplicate = True
        trace.recorded = True
        routes = routing.plan(signed, header, opened, decisions, config=broker.config,
                              broker_id=broker.broker_id, key=broker.signer(), now=now)
        await asyncio.gather(*(broker.audit.append(trace.record(
            "route", now, subscriber=subscriber, decision="allow" if d.allowed else "deny",
            rule_id=d.rule_id or d.unmet_rule or "", policy_version=d.policy_version,
            reason="" if d.allowed else "POLICY_DENIED"))
            for subscriber, d in decisions))
        await asyncio.gather(*(broker.bus.publish(r.subject, r.data, r.msg_id) for r in routes))
    except G2GError as exc:
        await _record_failure(trace, exc, broker, signed)
        raise
    except Exception as exc:
        log.error("publish_fault", **logs.fault_fields(exc))
        fault = InternalError("the broker failed to process this event")
        await _record_failure(trace, fault, broker, signed)
        raise fault from None
    await _audit(broker, trace.record("event_outcome", broker.clock(), status="OK",
                                      reason="DUPLICATE" if duplicate else ""))
    return events_pb2.PublishResponse(event_id=header.event_id, event_digest=digest,
                                      recipients=[r.subscriber for r in routes],
                                      duplicate=duplicate)


async def _published_before(header: events_pb2.EventHeader, digest: str,
                            broker: EventsBroker) -> bool:
    """Whether the recorded event with this id has this very digest (a retry, not a forgery)."""
    records = await broker.audit.read(lambda r: r.query(Filters(
        kind="event", message_id=header.event_id, provider=header.publisher, limit=10)))
    return any(rec.get("request_digest") == digest for rec in records)


async def _record_failure(trace: _Trace, exc: G2GError, broker: EventsBroker,
                          signed: events_pb2.SignedEvent) -> None:
    if trace.header is None:  # refused before the header was checked: record what it says
        trace.header = _peek_header(signed.header)
    kind = "event_outcome" if trace.recorded else "event_rejected"
    log.info("event", outcome=exc.code.name, reason=exc.reason,
             event_id=trace.header.event_id if trace.header else None,
             publisher=trace.peer or None)
    record = trace.record(kind, broker.clock(), status=exc.code.name, reason=exc.reason)
    broker.observe.event(record)  # the refusal happened, recorded or not
    try:
        await broker.audit.append(record)
    except G2GError as audit_exc:
        log.error("audit_failed", reason=audit_exc.reason, during=exc.reason)


def _peek_header(header_bytes: bytes) -> events_pb2.EventHeader | None:
    """Best-effort, unverified parse so a refused event's ids can still be audited."""
    header = events_pb2.EventHeader()
    try:
        header.ParseFromString(header_bytes)
    except DecodeError:
        return None
    return header


# --- subscribe ----------------------------------------------------------------

def _check_types(request: events_pb2.SubscribeRequest, catalog: Catalog) -> tuple[str, ...]:
    try:
        schema.reject_unknown_fields(request)
        schema.validate(request)
    except SchemaError as exc:
        raise EnvelopeError(f"subscribe request: {exc.message}", reason=exc.reason,
                            metadata=exc.metadata) from None
    for name in request.event_types:
        if catalog.event(name) is None:
            raise UnknownServiceError(f"no event type {name}", reason="UNKNOWN_EVENT_TYPE",
                                      metadata={"event_type": name[:256]})
    return tuple(sorted(set(request.event_types)))


async def subscribe(request: events_pb2.SubscribeRequest, peer: str | None,
                    broker: EventsBroker) -> AsyncIterator[events_pb2.Delivery]:
    """The subscriber's deliveries from its durable position, until it disconnects."""
    trace = _Trace(peer=peer or "")
    try:
        # Checked, not held: a stream lasts as long as the subscriber stays, and would
        # hold its slot for hours; each delivery's Acknowledge is admitted on its own.
        broker.gate.check(peer or "")
        trust = broker.trust()
        agency = _authenticate(peer, trust.registry)
        types = _check_types(request, trust.catalog)
        policy = broker.policies()
        if not policy.may_subscribe(agency.id, types):
            raise PolicyDenied("no subscription rule names this agency"
                               + (" for these event types" if types else ""),
                               reason="POLICY_DENIED",
                               metadata={"rule_id": "none", "policy_version": policy.version})
        broker.bus.check_available()
        sub = await broker.bus.subscription(agency.id, types)
    except G2GError as exc:
        await _audit(broker, trace.record("subscribe", broker.clock(), subscriber=peer or "",
                                          decision="deny" if isinstance(exc, PolicyDenied)
                                          else "", status=exc.code.name,
                                          reason=exc.reason,
                                          policy_version=exc.metadata.get("policy_version",
                                                                          "")))
        raise
    await _audit(broker, trace.record("subscribe", broker.clock(), subscriber=agency.id,
                                      decision="allow", status="OK",
                                      policy_version=policy.version))
    try:
        while True:
            try:
                msgs = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_SECONDS)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except nats.errors.Error as exc:
                raise EventsUnavailable(f"JetStream stopped serving ({type(exc).__name__})",
                                        metadata={"cause": "fetch_failed"}) from None
            for msg in msgs:
                yield await _delivery(msg, agency.id, broker)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _delivery(msg: Any, subscriber: str, broker: EventsBroker) -> events_pb2.Delivery:
    delivery = events_pb2.Delivery.FromString(msg.data)
    meta = msg.metadata
    delivery.sequence = meta.sequence.stream
    delivery.attempt = meta.num_delivered
    delivery.ack_token = msg.reply
    body = events_pb2.RoutingBody.FromString(delivery.routing)
    await _audit(broker, _routed_record(
        "delivered", body, broker.clock(), status="OK",
        reason="DELIVERED" if meta.num_delivered <= 1 else "REDELIVERED"))
    return delivery


def _routed_record(kind: str, body: events_pb2.RoutingBody, now: datetime, *, status: str,
                   reason: str = "", receipt_digest: str = "") -> AuditEvent:
    return AuditEvent(kind=kind,  # type: ignore[arg-type]
                      time=now, message_id=body.event_id, consumer=body.subscriber,
                      provider=body.publisher, service=body.event_type, rule_id=body.rule_id,
                      policy_version=body.policy_version, status_code=status, reason=reason,
                      request_digest=body.event_digest.hex(), response_digest=receipt_digest)


async def _audit(broker: EventsBroker, record: AuditEvent) -> None:
    """Append `record`; once it is durable, count it (metrics follow the audit trail)."""
    await broker.audit.append(record)
    broker.observe.event(record)


# --- acknowledge ---------------------------------------------------------------

def ack_stream_seq(token: str, stream: str, subscriber: str) -> int:
    """The stream sequence an ack subject names, if it is one of `subscriber`'s consumers."""
    parts = token.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or the
    # v2 form with <domain>.<account hash> after ACK and a trailing token.
    if len(parts) == 9:
        at = 2
    elif len(parts) in (11, 12):
        at = 4
    else:
        at = -1
    own = consumer_name(subscriber)
    if (at < 0 or parts[0] != "$JS" or parts[1] != "ACK" or parts[at] != stream
            or not _is_own_consumer(parts[at + 1], own) or not parts[at + 3].isdigit()):
        raise EnvelopeError("ack_token is not one of this subscriber's deliveries",
                            reason="ACK_TOKEN_INVALID")
    return int(parts[at + 3])


def _is_own_consumer(name: str, own: str) -> bool:
    """The subscriber's consumer, or one of its type-filtered ones (own + "-" + 12 hex)."""
    return name == own or (name.startswith(own + "-") and len(name) == len(own) + 13)


async def acknowledge(request: events_pb2.AcknowledgeRequest, peer: str | None,
                      broker: EventsBroker) -> events_pb2.AcknowledgeResponse:
    """Admit the receipt as `publish` does (refusal: a `receipt_rejected` record); check it."""
    try:
        broker.gate.check(peer or "")
    except G2GError as exc:
        await _audit(broker, AuditEvent(
            kind="receipt_rejected", time=broker.clock(), consumer=peer or "",
            status_code=exc.code.name, reason=exc.reason,
            response_digest=events.sha256(request.receipt.body).hex()))
        raise
    return await _to_the_end(broker, _admitted(broker, peer,
                                               _acknowledge(request, peer, broker)))


async def _acknowledge(request: events_pb2.AcknowledgeRequest, peer: str | None,
                       broker: EventsBroker) -> events_pb2.AcknowledgeResponse:
    """Verify a subscriber's signed receipt against the stored delivery; audit; ack it."""
    body: events_pb2.RoutingBody | None = None
    receipt_digest = events.sha256(request.receipt.body).hex()
    try:
        agency = _authenticate(peer, broker.registry)
        receipt, keyid = events.open_receipt(request.receipt, agency.signing_keys)
        agency.check_signer(keyid, from_timestamp(receipt.received_at))
        if receipt.subscriber != agency.id:
            raise SignatureError("the receipt is for another subscriber",
                                 reason="RECEIPT_INVALID")
        seq = ack_stream_seq(request.ack_token, broker.config.stream, agency.id)
        stored = events_pb2.Delivery.FromString(await broker.bus.stored(seq))
        body = events_pb2.RoutingBody.FromString(stored.routing)
        delivered = sorted(events.sha256(d) for d in stored.disclosures)
        if (body.subscriber != agency.id or receipt.event_digest != body.event_digest
                or receipt.event_id != body.event_id or receipt.delivery_id != body.delivery_id
                or list(receipt.disclosure_digests) != delivered):
            raise EnvelopeError("the receipt does not acknowledge this delivery",
                                reason="RECEIPT_MISMATCH")
        await _audit(broker, _routed_record("receipt", body, broker.clock(), status="OK",
                                            receipt_digest=receipt_digest))
        await broker.bus.ack(request.ack_token)
    except G2GError as exc:
        rec = AuditEvent(kind="receipt_rejected", time=broker.clock(), consumer=peer or "",
                         status_code=exc.code.name, reason=exc.reason,
                         response_digest=receipt_digest)
        if body is not None:
            rec = _routed_record("receipt_rejected", body, broker.clock(),
                                 status=exc.code.name, reason=exc.reason,
                                 receipt_digest=receipt_digest)
        await _audit(broker, rec)
        raise
    except DecodeError:
        raise InternalError("a stored delivery does not decode") from None
    return events_pb2.AcknowledgeResponse(event_id=body.event_id,
                                          receipt_digest=bytes.fromhex(receipt_digest))


# --- dead letters ----------------------------------------------------------------

async def dead_letter(exhausted: Exhausted, broker: EventsBroker) -> None:
    """Copy a delivery that ran out of attempts to the dead-letter subject; audit it."""
    delivery = events_pb2.Delivery.FromString(exhausted.data)
    body = events_pb2.RoutingBody.FromString(delivery.routing)
    from g2g_sdk.registry import slug

    await broker.bus.publish(broker.config.dead_subject(slug(body.subscriber)), exhausted.data,
                             f"dead:{exhausted.stream_seq}")
    await _audit(broker, _routed_record("delivery_failed", body, broker.clock(),
                                        status="DEADLINE_EXCEEDED", reason="UNACKNOWLEDGED"))
    log.warning("delivery_failed", event_id=body.event_id, subscriber=body.subscriber,
                attempts=exhausted.deliveries)


# --- gRPC ------------------------------------------------------------------------

class EventsServicer(events_pb2_grpc.EventsServicer):
    def __init__(self, broker: EventsBroker) -> None:
        self._broker = broker

    # Publish and Acknowledge raise their G2GError: the server's boundary interceptor
    # (g2g_sdk.boundary) sends its status, as for every unary method. Aborting here too
    # made a refusal on a call the client had already left (cancelled, or its deadline
    # passed) fail inside the handler with grpc's ExecuteBatchError, which the boundary
    # then logged as a server fault.
    async def Publish(  # noqa: N802 (gRPC method name)
        self, request: events_pb2.SignedEvent,
        context: grpc.aio.ServicerContext[events_pb2.SignedEvent, events_pb2.PublishResponse],
    ) -> events_pb2.PublishResponse:
        return await publish(request, _peer(context), self._broker)

    async def Subscribe(  # noqa: N802
        self, request: events_pb2.SubscribeRequest,
        context: grpc.aio.ServicerContext[events_pb2.SubscribeRequest, events_pb2.Delivery],
    ) -> AsyncIterator[events_pb2.Delivery]:
        try:
            async for delivery in subscribe(request, _peer(context), self._broker):
                yield delivery
        except G2GError as exc:
            await status.abort_with(context, exc)

    async def Acknowledge(  # noqa: N802
        self, request: events_pb2.AcknowledgeRequest,
        context: grpc.aio.ServicerContext[events_pb2.AcknowledgeRequest,
                                          events_pb2.AcknowledgeResponse],
    ) -> events_pb2.AcknowledgeResponse:
        return await acknowledge(request, _peer(context), self._broker)


def _peer(context: Any) -> str | None:
    try:
        return tls.peer_agency(context)
    except AuthenticationError:
        return None


class _Running:
    """Closes the JetStream connection and the dead-letter watcher with the broker."""

    def __init__(self, broker: EventsBroker, watcher: asyncio.Task[None]) -> None:
        self.broker = broker
        self.bus = broker.bus
        self._watcher = watcher

    async def close(self) -> None:
        # Calls whose callers left (or that grpc's stop cancelled) may still be between
        # their audit record and JetStream: they finish before JetStream closes, and the
        # audit log closes after this. A receipt makes two JetStream requests, each
        # bounded by publish_timeout_seconds (a publication one round), plus its audit
        # appends; beyond three timeouts a call is stuck, and is logged as such.
        await finish_running(self.broker, 3 * self.broker.config.publish_timeout_seconds)
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._watcher
        await self.bus.close()


async def add_events_service(server: grpc.aio.Server, config: EventsConfig,
                             core: Any, gate: Gate) -> _Running:
    """Build the EventsBroker from the exchange broker's parts and register the service.

    The broker starts even when JetStream is down: exchanges go on, and Publish
    answers UNAVAILABLE / EVENTS_UNAVAILABLE until the connection is back.
    """
    bus = JetStreamBus(config)
    await bus.start(wait=3.0)
    broker = EventsBroker(
        broker_id=core.broker_id, trust=core.trust, policies=core.policies,
        audit=core.audit, bus=bus, signer=core.signer, log_secret=core.log_secret,
        limits=core.limits, config=config, clock=core.clock, gate=gate,
        observe=core.observe if isinstance(core.observe, EventsObserver)
        else NO_EVENTS_OBSERVER)
    events_pb2_grpc.add_EventsServicer_to_server(EventsServicer(broker), server)

    async def on_exhausted(exhausted: Exhausted) -> None:
        await dead_letter(exhausted, broker)

    return _Running(broker, asyncio.ensure_future(bus.watch_exhausted(on_exhausted)))
