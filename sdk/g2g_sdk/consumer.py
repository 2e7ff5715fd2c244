"""Consumer side of the toolkit: sign a request, call the broker, verify the answer.

Example (the keys and certificates come from `g2g pki init`)::

    identity = pki.load_identity(Path("var/pki"), "ID/GOV/POLRI")
    registry = load_registry(Path("config/agencies.yaml"), Path("var/pki"))
    async with ConsumerClient(identity, registry) as client:
        answer = await client.call(
            "g2g.immigration.v1.Watchlist/Screen",
            watchlist_pb2.ScreenRequest(by_name=watchlist_pb2.NameQuery(full_name="Budi Santoso")),
            purpose="criminal_investigation", legal_basis="UU 6/2011 Pasal 91")
        print(answer.payload)

Every response is checked before it is returned: the provider's signature,
that it answers this request, and that its payload is exactly the declared
response type. Failures raise the `G2GError` the broker sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import message as pb_message

from g2g_sdk import envelope, schema, tracing
from g2g_sdk._gen.g2g.v1 import broker_pb2, broker_pb2_grpc, envelope_pb2
from g2g_sdk.brokerlink import BrokerLink
from g2g_sdk.catalog import find_method, message_class
from g2g_sdk.envelope import TimeRules
from g2g_sdk.errors import (
    AuthenticationError,
    EnvelopeError,
    FreshnessError,
    ProviderResponseInvalid,
    SchemaError,
    SignatureError,
    UnknownServiceError,
)
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry


@dataclass(frozen=True)
class Answer:
    """A verified response: its header, decoded payload and the raw envelope."""

    header: envelope_pb2.Header
    payload: pb_message.Message
    envelope: envelope_pb2.Envelope


_RESPONSE_TYPES: dict[str, type[pb_message.Message]] = {}


def _response_type(service: str) -> type[pb_message.Message] | None:
    """The response class of `service` (None: no compiled schema). Found ones are kept:
    a compiled method never goes away, and looking it up by name in the descriptor pool
    cost more than the rest of an answer's bookkeeping."""
    cls = _RESPONSE_TYPES.get(service)
    if cls is None:
        method = find_method(service)
        if method is None:
            return None
        cls = _RESPONSE_TYPES.setdefault(service, message_class(method.output_type))
    return cls


class ConsumerClient(BrokerLink):
    """An agency's client for the broker's Exchange and Catalog services."""

    def __init__(self, identity: Identity, registry: Registry, *,
                 broker_endpoint: str | None = None, time_rules: TimeRules | None = None,
                 max_message_bytes: int = 4 << 20) -> None:
        super().__init__(identity, registry, broker_endpoint=broker_endpoint,
                         max_message_bytes=max_message_bytes)
        self._rules = time_rules or TimeRules()
        self._exchange = broker_pb2_grpc.ExchangeStub(self._channel)
        self._catalog = broker_pb2_grpc.CatalogStub(self._channel)

    def build(self, service: str, request: pb_message.Message, *, purpose: str,
              legal_basis: str = "", recipient: str | None = None,
              correlation_id: str | None = None,
              lifetime: timedelta = timedelta(seconds=120)) -> envelope_pb2.Envelope:
        """A signed request envelope (exposed for callers that send it themselves)."""
        if recipient is None:
            providers = [a.id for a in self._registry.providers_of(service)]
            if len(providers) != 1:
                raise UnknownServiceError(
                    f"{service} is offered by {', '.join(providers)}: pass recipient= one of "
                    "them" if providers else f"no provider offers {service} in the registry")
            recipient = providers[0]
        return envelope.build_request(
            sender=self._identity.agency_id, recipient=recipient, service=service,
            payload=request, purpose=purpose, legal_basis=legal_basis,
            key=self._identity.signing_key, now=datetime.now(UTC), lifetime=lifetime,
            correlation_id=correlation_id)

    async def send(self, request_envelope: envelope_pb2.Envelope,
                   timeout: float = 10.0) -> envelope_pb2.Envelope:
        """Send a prepared envelope; a failure raises the broker's `G2GError`."""
        header = envelope.peek_header(request_envelope)
        with tracing.client_span("/g2g.v1.Exchange/Call", **{
                "g2g.correlation_id": header.correlation_id if header else "",
                "g2g.message_id": header.message_id if header else ""}):
            try:
                answer: envelope_pb2.Envelope = await self._exchange.Call(
                    request_envelope, timeout=timeout, metadata=tracing.outgoing())
            except grpc.aio.AioRpcError as exc:
                raise await self._error(exc) from None
        return answer

    async def call(self, service: str, request: pb_message.Message, *, purpose: str,
                   legal_basis: str = "", recipient: str | None = None,
                   correlation_id: str | None = None, timeout: float = 10.0) -> Answer:
        """Sign, send and verify one exchange."""
        request_envelope = self.build(service, request, purpose=purpose,
                                      legal_basis=legal_basis, recipient=recipient,
                                      correlation_id=correlation_id)
        response = await self.send(request_envelope, timeout)
        return self.verify(request_envelope, response)

    def verify(self, request_envelope: envelope_pb2.Envelope,
               response: envelope_pb2.Envelope) -> Answer:
        """Check the provider's signature, the binding to our request, and the payload type."""
        request_header = envelope.parse_header(request_envelope)  # our own request
        provider = self._registry.agency(request_header.recipient)
        response_type = _response_type(request_header.service)
        if provider is None or response_type is None:
            raise UnknownServiceError(f"cannot verify answers from {request_header.recipient}")
        try:
            answer = envelope.open_envelope(response, provider, now=datetime.now(UTC),
                                            rules=self._rules, kind=envelope.RESPONSE)
            envelope.check_binding(answer.header, request_header,
                                   envelope.sha256(request_envelope.header))
            payload = schema.decode(response_type, answer.payload, answer.header.payload_type)
        except (EnvelopeError, SignatureError, FreshnessError, SchemaError,
                AuthenticationError) as exc:
            raise ProviderResponseInvalid(f"response failed verification: {exc.message}",
                                          metadata={"check": exc.reason}) from None
        return Answer(header=answer.header, payload=payload, envelope=response)

    async def list_services(self, provider: str = "", *,
                            callable_only: bool = False) -> list[broker_pb2.ServiceInfo]:
        """The broker's catalog (only `provider`'s services when given).

        `callable_only`: only what this agency may call under the policy in force,
        each service with its `permissions` (purposes, legal basis patterns).
        """
        try:
            reply = await self._catalog.ListServices(
                broker_pb2.ListServicesRequest(provider=provider, callable_only=callable_only),
                timeout=10)
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc) from None
        return list(reply.services)

    async def describe_service(self, name: str) -> broker_pb2.DescribeServiceResponse:
        """One service: its request and response types, provider, and schema files."""
        try:
            reply: broker_pb2.DescribeServiceResponse = await self._catalog.DescribeService(
                broker_pb2.DescribeServiceRequest(name=name), timeout=10)
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc) from None
        return reply
