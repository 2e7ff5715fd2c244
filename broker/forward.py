"""Forwarding to provider adapters over mTLS, one channel per provider, reused.

Each channel accepts only a server whose certificate names the registry's
provider (tls.pinned_channel_options): gRPC checks it in every handshake,
before any request byte leaves. A refused handshake to a server certified as
someone else is `IdentityMismatch`; other transport failures are
`ProviderUnavailable` / `ProviderTimeout`; a status the provider chose is
passed through as the provider's (status.provider_refusal, docs/PROTOCOL.md
§5.1), never turned into a broker reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import structlog
from g2g_sdk import status, tls, tracing
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from g2g_sdk.errors import G2GError, IdentityMismatch, ProviderTimeout, ProviderUnavailable
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry

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
    """

    def __init__(self, registry: Callable[[], Registry], identity: Identity,
                 max_message_bytes: int) -> None:
        self._registry = registry
        self._ca_pem = identity.ca_pem
        self._credentials = tls.channel_credentials(identity)
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes),
                         *RECONNECT_OPTIONS]
        self._stubs: dict[tuple[str, str], provider_pb2_grpc.ProviderStub] = {}
        self._channels: list[grpc.aio.Channel] = []

    def _stub(self, provider: str) -> provider_pb2_grpc.ProviderStub:
        agency = self._registry().agency(provider)
        if agency is None or agency.endpoint is None:
            raise ProviderUnavailable(f"{provider} has no endpoint in the registry")
        stub = self._stubs.get((provider, agency.endpoint))
        if stub is None:
            channel = grpc.aio.secure_channel(
                agency.endpoint, self._credentials,
                options=self._options + tls.pinned_channel_options("agency", provider))
            self._channels.append(channel)
            stub = self._stubs[provider, agency.endpoint] = provider_pb2_grpc.ProviderStub(
                channel)
        return stub

    async def __call__(self, provider: str, request: provider_pb2.ProviderRequest,
                       timeout: float) -> envelope_pb2.Envelope:
        try:
            response: envelope_pb2.Envelope = await self._stub(provider).Handle(
                request, timeout=timeout, metadata=tracing.outgoing())
        except grpc.aio.AioRpcError as exc:
            trailing = tuple(exc.trailing_metadata() or ())
            transport = not any(key == "grpc-status-details-bin" for key, _ in trailing)
            if (exc.code() == grpc.StatusCode.UNAVAILABLE and transport
                    and await self._impostor(provider)):
                raise IdentityMismatch(
                    f"the server at {provider}'s endpoint is not certified as {provider}; "
                    "nothing was sent", metadata={"provider": provider}) from None
            raise _translate(exc.code(), exc.details() or "", trailing, transport,
                             provider) from None
        return response

    async def _impostor(self, provider: str) -> bool:
        agency = self._registry().agency(provider)
        if agency is None or agency.endpoint is None:
            return False
        other = await tls.presents_other_identity(
            agency.endpoint, self._ca_pem, tls.PartyIdentity("agency", provider))
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
