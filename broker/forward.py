"""Forwarding to provider adapters over mTLS, one channel per provider, reused.

Transport failures become `ProviderUnavailable` / `ProviderTimeout`; a status
the provider chose is passed through as the same `G2GError` it encodes.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from g2g_sdk import status
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from g2g_sdk.errors import G2GError, ProviderTimeout, ProviderUnavailable
from g2g_sdk.registry import Registry


class ProviderClients:
    """Lazily opened, long-lived channels to every provider in the registry.

    `registry` returns the live registry: a provider whose endpoint a reloaded
    registry changed gets a new channel (the old one closes with the others).
    """

    def __init__(self, registry: Callable[[], Registry], credentials: grpc.ChannelCredentials,
                 max_message_bytes: int) -> None:
        self._registry = registry
        self._credentials = credentials
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes)]
        self._stubs: dict[tuple[str, str], provider_pb2_grpc.ProviderStub] = {}
        self._channels: list[grpc.aio.Channel] = []

    def _stub(self, provider: str) -> provider_pb2_grpc.ProviderStub:
        agency = self._registry().agency(provider)
        if agency is None or agency.endpoint is None:
            raise ProviderUnavailable(f"{provider} has no endpoint in the registry")
        stub = self._stubs.get((provider, agency.endpoint))
        if stub is None:
            channel = grpc.aio.secure_channel(agency.endpoint, self._credentials,
                                              options=self._options)
            self._channels.append(channel)
            stub = self._stubs[provider, agency.endpoint] = provider_pb2_grpc.ProviderStub(
                channel)
        return stub

    async def __call__(self, provider: str, request: provider_pb2.ProviderRequest,
                       timeout: float) -> envelope_pb2.Envelope:
        try:
            response: envelope_pb2.Envelope = await self._stub(provider).Handle(
                request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, provider) from None
        return response

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
