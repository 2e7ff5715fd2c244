"""Forwarding to provider adapters over mTLS, one channel per provider, reused.

Each channel accepts only a server whose certificate names the registry's
provider (tls.pinned_channel_options): gRPC checks it in every handshake,
before any request byte leaves. A refused handshake to a server certified as
someone else is `IdentityMismatch`; other transport failures are
`ProviderUnavailable` / `ProviderTimeout`. Before a call, the provider's
server certificate at that endpoint must also have passed the CRLs lately
(provider_cert.py, PROVIDER_CERT_REVOKED ...), or nothing is sent there. A
status the provider chose is
passed through as the provider's (status.provider_refusal, docs/PROTOCOL.md
§5.1), never turned into a broker reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import structlog
from g2g_sdk import envelope, status, tls, tracing
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from g2g_sdk.errors import G2GError, IdentityMismatch, ProviderTimeout, ProviderUnavailable
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry

from broker.provider_cert import ProviderCertificates

log = structlog.get_logger("g2g.broker")

RECONNECT_OPTIONS = [
    # gRPC's defaults (1 s initial, 20 s minimum connect timeout, x1.6 up to 120 s) left
    # a restarted adapter unused for seconds after it listened again. Retry sooner and
    # never wait more than 2 s between attempts: a provider endpoint is a known peer.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
"""Channel options for prompt reconnection to a restarted provider (docs/OPERATIONS.md)."""


class ProviderClients:
    """Lazily opened, long-lived channels to every provider in the registry.

    `registry` returns the live registry: a provider whose endpoint a reloaded
    registry changed gets a new channel (the old one closes with the others).
    `certificates`, when given, must pass the provider's server certificate at an
    endpoint against the CRLs before a call uses it (broker/provider_cert.py).
    `identity` returns the broker's live identity: after it switches (a rotation,
    broker/identity.py) calls open new channels presenting the new certificate;
    the old channels finish their calls and close with the others.
    """

    def __init__(self, registry: Callable[[], Registry], identity: Callable[[], Identity],
                 max_message_bytes: int,
                 certificates: ProviderCertificates | None = None) -> None:
        self._registry = registry
        self._certificates = certificates
        self._identity = identity
        self._using = identity()
        self._credentials = tls.channel_credentials(self._using)
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes),
                         *RECONNECT_OPTIONS]
        self._stubs: dict[tuple[str, str], tuple[grpc.aio.Channel,
                                                 provider_pb2_grpc.ProviderStub]] = {}
        self._channels: list[grpc.aio.Channel] = []

    def _stub(self, provider: str, endpoint: str) -> tuple[grpc.aio.Channel,
                                                          provider_pb2_grpc.ProviderStub]:
        identity = self._identity()
        if identity is not self._using:  # the broker's identity switched: new channels
            self._using, self._credentials = identity, tls.channel_credentials(identity)
            self._stubs.clear()
        found = self._stubs.get((provider, endpoint))
        if found is None:
            channel = grpc.aio.secure_channel(
                endpoint, self._credentials,
                options=self._options + tls.pinned_channel_options("agency", provider))
            self._channels.append(channel)
            found = self._stubs[provider, endpoint] = (
                channel, provider_pb2_grpc.ProviderStub(channel))
        return found

    def channel(self, provider: str, endpoint: str) -> grpc.aio.Channel:
        """The pinned channel to `provider` at `endpoint` (health probes use it too)."""
        return self._stub(provider, endpoint)[0]

    def _route(self, provider: str) -> list[tuple[str, grpc.aio.Channel,
                                                  provider_pb2_grpc.ProviderStub]]:
        """The provider's endpoints in the order to try: registry order, but those whose
        connection is failing now last."""
        agency = self._registry().agency(provider)
        endpoints = agency.all_endpoints if agency is not None else ()
        if not endpoints:
            raise ProviderUnavailable(f"{provider} has no endpoint in the registry")
        route = [(endpoint, *self._stub(provider, endpoint)) for endpoint in endpoints]
        failing = grpc.ChannelConnectivity.TRANSIENT_FAILURE
        return sorted(route, key=lambda r: r[1].get_state() == failing)

    async def __call__(self, provider: str, request: provider_pb2.ProviderRequest,
                       timeout: float) -> envelope_pb2.Envelope:
        """Call the provider; on an endpoint that could not even be connected to, the next.

        A request is only sent on to another endpoint when it cannot have reached the
        first: the call failed in the transport (UNAVAILABLE without a provider status),
        the endpoint had no established connection when the call began, and the
        attempt to connect failed (the channel is in TRANSIENT_FAILURE). A call that
        failed otherwise may have reached the provider and is repeated only for a
        service the provider declared `idempotent`.
        """
        route = self._route(provider)
        for position, (endpoint, channel, stub) in enumerate(route):
            connected = channel.get_state() == grpc.ChannelConnectivity.READY
            if self._certificates is not None:
                try:
                    await self._certificates.check(provider, endpoint, timeout)
                except (ProviderUnavailable, ProviderTimeout) as exc:
                    # Unreachable for the check: nothing was sent, like a failed connect.
                    if exc.reason == "PROVIDER_UNAVAILABLE" and position + 1 < len(route):
                        log.warning("provider_endpoint_unavailable", provider=provider,
                                    endpoint=endpoint, next=route[position + 1][0])
                        continue
                    raise  # a refused certificate (PROVIDER_CERT_REVOKED ...) fails closed
            try:
                response: envelope_pb2.Envelope = await stub.Handle(
                    request, timeout=timeout, metadata=tracing.outgoing())
            except grpc.aio.AioRpcError as exc:
                trailing = tuple(exc.trailing_metadata() or ())
                transport = not any(key == "grpc-status-details-bin" for key, _ in trailing)
                unreached = exc.code() == grpc.StatusCode.UNAVAILABLE and transport
                if unreached and await self._impostor(provider, endpoint):
                    raise IdentityMismatch(
                        f"the server at {provider}'s endpoint is not certified as "
                        f"{provider}; nothing was sent", metadata={"provider": provider}) \
                        from None
                never_connected = not connected and channel.get_state() == \
                    grpc.ChannelConnectivity.TRANSIENT_FAILURE
                # Whether the service is idempotent is only asked after a failure: it
                # re-reads the request header, which the answered path never needs.
                if unreached and position + 1 < len(route) and (
                        never_connected or self._idempotent(provider, request)):
                    log.warning("provider_endpoint_unavailable", provider=provider,
                                endpoint=endpoint, next=route[position + 1][0])
                    continue
                raise _translate(exc.code(), exc.details() or "", trailing, transport,
                                 provider) from None
            return response
        raise AssertionError("unreachable: the last endpoint returns or raises")

    def _idempotent(self, provider: str, request: provider_pb2.ProviderRequest) -> bool:
        header = envelope.peek_header(request.request)  # the broker verified it already
        offer = self._registry().offer(provider, header.service) if header else None
        return offer is not None and offer.idempotent

    async def _impostor(self, provider: str, endpoint: str) -> bool:
        other = await tls.presents_other_identity(
            endpoint, self._using.ca_pem, tls.PartyIdentity("agency", provider))
        if other:
            log.warning("provider_identity_mismatch", provider=provider)
        return other

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


def _translate(code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, Any], ...],
               transport: bool, provider: str) -> G2GError:
    """Transport failures in the broker's words; anything the provider said, as its own."""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ProviderTimeout(f"{provider} did not answer in time")
    if code == grpc.StatusCode.UNAVAILABLE and transport:
        return ProviderUnavailable(f"{provider} is unavailable")
    return status.provider_refusal(code, message, trailing)
