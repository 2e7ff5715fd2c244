"""Provider side of the toolkit: verify what the broker forwards, answer, sign.

An adapter registers one async handler per service it offers and calls
`serve()`. For each call the toolkit checks, in order: the caller is the
broker (mTLS), that the request bytes parse (gRPC hands them over raw, so
bytes that are not a ProviderRequest are a documented refusal, not UNKNOWN),
the broker's attestation signature, the consumer's own
signature (by a key of the consumer the attestation names) over the original
header bytes before they are parsed, that the attestation is about exactly
this request, and the request schema. It then runs the handler, applies the
attested field mask and signs the response. Handlers never see unverified
input and cannot leak fields outside the mask.

Example::

    async def screen(request, call):
        return watchlist_pb2.ScreenResponse(...)

    server = ProviderServer(identity, registry,
                            {"g2g.immigration.v1.Watchlist/Screen": screen})
    port = await server.start("127.0.0.1:7501")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import structlog
from google.protobuf import message as pb_message
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from g2g_sdk import (
    boundary,
    envelope,
    errors,
    fieldmask,
    metrics,
    schema,
    status,
    tls,
    tracing,
)
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2
from g2g_sdk.catalog import find_method, message_class
from g2g_sdk.envelope import TimeRules
from g2g_sdk.errors import (
    AccessDenied,
    AttestationError,
    AuthenticationError,
    EnvelopeError,
    G2GError,
    InternalError,
    SignatureError,
    StartupError,
    UnknownServiceError,
)
from g2g_sdk.identity import OwnIdentity
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry

PROVIDER_SERVICE = "g2g.v1.Provider"
"""The provider's gRPC service name; also its name in the gRPC health service."""

log = structlog.get_logger("g2g.provider")


@dataclass(frozen=True)
class Call:
    """What a handler may know about the verified request it is answering."""

    consumer: str
    service: str
    purpose: str
    legal_basis: str
    message_id: str
    correlation_id: str
    rule_id: str
    policy_version: str
    field_mask: tuple[str, ...]


Handler = Callable[[pb_message.Message, Call], Awaitable[pb_message.Message]]


@dataclass(frozen=True)
class _Route:
    handler: Handler
    request_type: type[pb_message.Message]
    response_type: type[pb_message.Message]


def _now() -> datetime:
    return datetime.now(UTC)


class ProviderServer:
    """A provider adapter's gRPC server, built from per-service handlers."""

    def __init__(self, identity: Identity | OwnIdentity,
                 registry: Registry | Callable[[], Registry],
                 handlers: Mapping[str, Handler], *, time_rules: TimeRules | None = None,
                 clock: Callable[[], datetime] = _now,
                 peer_check: Callable[[bytes | None], object] | None = None,
                 metrics_listen: str | None = None) -> None:
        """`registry` is a Registry, or a function returning the live one (hot reload:
        `g2g_sdk.reload.Reloader`); each call reads it once. `peer_check` refuses a
        caller certificate that is revoked or of unknown status
        (`g2g_sdk.revocation.PeerChecker.check`). `metrics_listen` ("host:port")
        serves Prometheus metrics over plain HTTP from `start` (needs
        `g2g-sdk[metrics]`; None, the default: no metrics port). An `OwnIdentity`
        identity is re-read while serving (every `interval` s and on
        `own.request_reload()`): after a rotation the server switches its
        certificate and signing key without a restart (g2g_sdk.identity)."""
        self._metrics = metrics.ProviderMetrics(metrics_listen) if metrics_listen else None
        self._peer_check = peer_check
        self.own = identity if isinstance(identity, OwnIdentity) else None
        self._fixed = identity if isinstance(identity, Identity) else identity.current
        self._registry: Callable[[], Registry] = (
            registry if callable(registry) else lambda: registry)
        self._rules = time_rules or TimeRules()
        self._clock = clock
        self._routes: dict[str, _Route] = {}
        for name, handler in handlers.items():
            method = find_method(name)
            if method is None:
                raise UnknownServiceError(f"no compiled schema for {name}")
            self._routes[name] = _Route(handler, message_class(method.input_type),
                                        message_class(method.output_type))
        self._server: grpc.aio.Server | None = None

    async def start(self, listen: str, *, max_message_bytes: int = 4 << 20) -> int:
        """Bind `listen` (port 0 picks a free port) with mTLS and start; returns the port."""
        server = grpc.aio.server(interceptors=[boundary.Boundary(
            party="provider", fault_event="provider_fault", log_refusals=True,
            domain=errors.PROVIDER_DOMAIN, refine=_contract, observe=self._metrics)],
            options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            # gRPC sets SO_REUSEPORT by default: a second process could then bind
            # this live port and take a share of the broker's connections.
            ("grpc.so_reuseport", 0)])
        _add_provider(self, server)
        # The standard gRPC health service, so the broker (`ops.ready_requires_providers`)
        # and load balancers can probe this endpoint without sending a request.
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = tls.bind(server, listen, tls.server_credentials(self._fixed)
                        if self.own is None else self.own.server_credentials())
        await server.start()
        if self.own is not None:
            self.own.start()
        for name in ("", PROVIDER_SERVICE):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        if self._metrics is not None:
            try:
                self._metrics.start()
            except OSError as exc:
                await server.stop(0)
                raise StartupError(f"cannot serve metrics: {exc.strerror}") from None
        return int(port)

    @property
    def metrics_port(self) -> int:
        """The bound metrics port once started (0: no metrics port)."""
        return self._metrics.port if self._metrics is not None else 0

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving; calls in flight get `grace` seconds to finish."""
        if self._server is not None:
            await self._server.stop(grace)
        if self._metrics is not None:
            self._metrics.stop()
        if self.own is not None:
            await self.own.stop()

    @property
    def _identity(self) -> Identity:
        # The identity now: each use reads it once (a switch between uses is harmless:
        # the agency id never changes, and the old and new keys are both published).
        return self._fixed if self.own is None else self.own.current

    async def wait(self) -> None:
        """Return when the server has stopped."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def Handle(  # noqa: N802 (gRPC method name)
        self, request: bytes,
        context: grpc.aio.ServicerContext[bytes, envelope_pb2.Envelope],
    ) -> envelope_pb2.Envelope:
        # Refusals become statuses in the provider domain, restricted to the codes the
        # contract lets a provider use (`_contract`), and an adapter's bug INTERNAL_ERROR
        # (its text may quote the request, so it never reaches the log or the broker),
        # in the boundary interceptor installed by `start`; the broker audits the status.
        if self._peer_check is not None:
            self._peer_check(boundary.caller_certificate())
        return await self.handle(request, boundary.caller())

    async def handle(self, data: bytes, peer: tls.PartyIdentity) -> envelope_pb2.Envelope:
        """Verify, dispatch, mask and sign the raw request bytes (transport-free, so it
        is testable directly). The caller is checked before the bytes are parsed."""
        registry = self._registry()
        if peer != tls.PartyIdentity("broker", registry.broker_id):
            raise AccessDenied("only the broker may call a provider", reason="NOT_BROKER")
        request = parse_request(data)
        now = self._clock()
        try:
            # Attestations are made just before forwarding: a broker key revoked (or
            # retired by not_after) before now signs nothing this provider accepts.
            body = envelope.open_attestation(request.attestation, registry.broker_keys_at(now))
        except AttestationError:
            raise
        except G2GError as exc:
            raise AttestationError(exc.message) from None
        # Verify, then parse: the broker's verified attestation names the consumer,
        # whose registered keys must have signed the request's header bytes.
        consumer = registry.agency(body.consumer)
        if consumer is None:
            raise AuthenticationError(f"{body.consumer or 'the consumer'} is not registered",
                                      reason="UNKNOWN_SENDER")
        try:
            opened = envelope.open_envelope(request.request, consumer, now=now,
                                            rules=self._rules, kind=envelope.REQUEST)
        except SignatureError as exc:
            raise SignatureError(f"consumer signature: {exc.message}", reason=exc.reason,
                                 metadata=exc.metadata) from None
        header = opened.header
        # Each read of a string field makes a new str from the message: read each once.
        service, message_id = header.service, header.message_id
        correlation_id = header.correlation_id
        tracing.annotate(correlation_id=correlation_id, message_id=message_id)
        self._check_attestation(body, opened, now, registry.broker_id)
        route = self._routes.get(service)
        if route is None:
            raise UnknownServiceError(f"{self._identity.agency_id} does not serve "
                                      f"{service}")
        metrics.routed(service)
        payload = schema.decode(route.request_type, opened.payload, header.payload_type)
        mask = tuple(body.field_mask)
        call = Call(consumer=header.sender, service=service, purpose=header.purpose,
                    legal_basis=header.legal_basis, message_id=message_id,
                    correlation_id=correlation_id, rule_id=body.rule_id,
                    policy_version=body.policy_version, field_mask=mask)
        answer = await route.handler(payload, call)
        if not isinstance(answer, route.response_type):
            raise InternalError(f"handler for {service} returned the wrong type",
                                reason="HANDLER_BUG")
        fieldmask.apply(answer, fieldmask.compiled(mask))
        return envelope.build_response(opened, payload=answer, key=self._identity.signing_key,
                                       now=self._clock())

    def _check_attestation(self, body: envelope_pb2.AttestationBody,
                           opened: envelope.OpenedEnvelope, now: datetime,
                           broker_id: str) -> None:
        h = opened.header
        own = self._identity.agency_id
        if (body.request_digest != opened.digest or body.message_id != h.message_id
                or body.consumer != h.sender or body.service != h.service
                or body.provider != own or h.recipient != own
                or body.broker_id != broker_id):
            raise AttestationError("the attestation is not about this request")
        try:
            envelope.check_timestamp(body.expires_at, "expires_at")
        except G2GError:
            raise AttestationError("the attestation's expires_at is not a valid timestamp") \
                from None
        # now - skew, not expires + skew: the latter overflows for a date in year 9999.
        if envelope.from_timestamp(body.expires_at) < now - self._rules.clock_skew:
            raise AttestationError("the attestation has expired")
        if not body.field_mask:
            raise AttestationError("the attestation carries no field mask")


def parse_request(data: bytes) -> provider_pb2.ProviderRequest:
    """The ProviderRequest in `data`, or INVALID_ARGUMENT / ENVELOPE_MALFORMED.

    Only a faulty broker sends bytes that do not parse; gRPC's own deserializer
    would answer them UNKNOWN with a Python exception text and no ErrorInfo. The
    size is bounded by the server's max_receive_message_length. Unknown fields of
    this unsigned wrapper are not refused (PROTOCOL.md §4): what counts is signed.
    """
    request = provider_pb2.ProviderRequest()
    try:
        request.ParseFromString(data)
    except DecodeError:
        raise EnvelopeError("the request bytes are not a g2g.v1.ProviderRequest",
                            reason="ENVELOPE_MALFORMED") from None
    return request


def _add_provider(servicer: ProviderServer, server: grpc.aio.Server) -> None:
    """Register Provider/Handle with no request deserializer of gRPC's own, so
    `handle` checks the caller first and then parses (`parse_request`)."""
    handlers = {"Handle": grpc.unary_unary_rpc_method_handler(
        servicer.Handle, request_deserializer=None,
        response_serializer=envelope_pb2.Envelope.SerializeToString)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        PROVIDER_SERVICE, handlers),))


def _contract(exc: G2GError) -> G2GError:
    """A handler's refusal as the provider contract allows it (status.PROVIDER_CODES)."""
    if exc.code not in status.PROVIDER_CODES:
        return InternalError(f"the handler raised {exc.code.name}", reason="HANDLER_BUG")
    return exc
