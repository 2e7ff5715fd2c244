"""Forwarding to provider adapters over mTLS, one channel per provider, reused.

Each channel accepts only a server whose certificate names the registry's
provider (tls.pinned_channel_options): gRPC checks it in every handshake,
before any request byte leaves. A refused handshake to a server certified as
someone else is `IdentityMismatch`; other transport failures are
`ProviderUnavailable` / `ProviderTimeout`; a status the provider chose is
passed through as the same `G2GError` it encodes.
"""

from __future__ import annotations

import grpc
import structlog
from g2g_sdk import status, tls
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from g2g_sdk.errors import G2GError, IdentityMismatch, ProviderTimeout, ProviderUnavailable
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry

log = structlog.get_logger("g2g.broker")

class ProviderClients:
    """Lazily opened, long-lived channels to every provider in the registry."""

    def __init__(self, registry: Registry, identity: Identity,
                 max_message_bytes: int) -> None:
        self._registry = registry
        self._ca_pem = identity.ca_pem
        self._credentials = tls.channel_credentials(identity)
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes)]
        self._stubs: dict[str, provider_pb2_grpc.ProviderStub] = {}
        self._channels: list[grpc.aio.Channel] = []

    def _stub(self, provider: str) -> provider_pb2_grpc.ProviderStub:
        stub = self._stubs.get(provider)
        if stub is None:
            agency = self._registry.agency(provider)
            if agency is None or agency.endpoint is None:
                raise ProviderUnavailable(f"{provider} has no endpoint in the registry")
            channel = grpc.aio.secure_channel(
                agency.endpoint, self._credentials,
                options=self._options + tls.pinned_channel_options("agency", provider))
            self._channels.append(channel)
            stub = self._stubs[provider] = provider_pb2_grpc.ProviderStub(channel)
        return stub

    async def __call__(self, provider: str, request: provider_pb2.ProviderRequest,
                       timeout: float) -> envelope_pb2.Envelope:
        try:
            response: envelope_pb2.Envelope = await self._stub(provider).Handle(
                request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and await self._impostor(provider):
                raise IdentityMismatch(
                    f"the server at {provider}'s endpoint is not certified as {provider}; "
                    "nothing was sent", metadata={"provider": provider}) from None
            raise _translate(exc, provider) from None
        return response

    async def _impostor(self, provider: str) -> bool:
        agency = self._registry.agency(provider)
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


def _translate(exc: grpc.aio.AioRpcError, provider: str) -> G2GError:
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ProviderTimeout(f"{provider} did not answer in time")
    if code == grpc.StatusCode.UNAVAILABLE:
        return ProviderUnavailable(f"{provider} is unavailable")
    return status.error_from_rpc(exc)
