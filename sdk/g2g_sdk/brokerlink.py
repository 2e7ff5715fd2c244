"""The toolkit's channel to the broker, pinned to the broker's identity.

`ConsumerClient`, `Publisher` and `Subscriber` all talk to the broker over one
`BrokerLink`: mutual TLS with the agency's certificate, and gRPC's server-name
check set to the registry's broker (docs/PKI.md "Identity in certificates"), so
any other federation certificate holder at the broker's address gets no byte.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import grpc

from g2g_sdk import status, tls
from g2g_sdk.errors import BrokerUnavailable, CallDeadlineExceeded, G2GError, IdentityMismatch
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry


class BrokerLink:
    """A pinned mutual-TLS channel to the broker; an async context manager."""

    def __init__(self, identity: Identity, registry: Registry, *,
                 broker_endpoint: str | None = None, max_message_bytes: int = 4 << 20) -> None:
        self._identity = identity
        self._registry = registry
        self._endpoint = broker_endpoint or registry.broker_endpoint
        # Only a server certified as the registry's broker gets a byte (docs/PKI.md).
        self._channel = grpc.aio.secure_channel(
            self._endpoint, tls.channel_credentials(identity),
            options=[("grpc.max_receive_message_length", max_message_bytes),
                     ("grpc.max_send_message_length", max_message_bytes),
                     *tls.pinned_channel_options("broker", registry.broker_id)])

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel to the broker (also done by ``async with``)."""
        await self._channel.close()

    async def _error(self, exc: grpc.aio.AioRpcError) -> G2GError:
        """The broker's error, or `BROKER_IDENTITY_MISMATCH` if an impostor answered."""
        if not status.has_error_info(exc):
            # Made by our own gRPC library, not sent by the broker: say so, and
            # never blame a provider for it.
            if exc.code() == grpc.StatusCode.UNAVAILABLE and await tls.presents_other_identity(
                    self._endpoint, self._identity.ca_pem,
                    tls.PartyIdentity("broker", self._registry.broker_id)):
                return IdentityMismatch(
                    f"the server at {self._endpoint} is not certified as the broker "
                    f"{self._registry.broker_id}; nothing was sent",
                    reason="BROKER_IDENTITY_MISMATCH",
                    metadata={"broker": self._registry.broker_id})
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                return BrokerUnavailable(f"the broker at {self._endpoint} could not be reached")
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return CallDeadlineExceeded("this call's deadline passed before the broker "
                                            "answered")
        return status.error_from_rpc(exc)
