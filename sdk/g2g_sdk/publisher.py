"""Publisher side of the toolkit: sign an event and publish it through the broker.

Example (keys and certificates from `g2g pki init`)::

    identity = pki.load_identity(Path("var/pki"), "ID/GOV/IMIGRASI")
    registry = load_registry(Path("config/agencies.yaml"), Path("var/pki"))
    async with Publisher(identity, registry) as publisher:
        result = await publisher.publish(
            events_pb2.WatchlistHit(entry_id="CKL-1", full_name="Budi Santoso", ...),
            purpose="border_control", legal_basis="UU 6/2011 Pasal 91")
        print(result.recipients)

`publish` retries an UNAVAILABLE answer with the same signed event, so a broker
crash between its audit record and the JetStream publish heals without a
duplicate: the broker answers the retry with `duplicate=True`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import message as pb_message

from g2g_sdk import events
from g2g_sdk._gen.g2g.v1 import events_pb2, events_pb2_grpc
from g2g_sdk.brokerlink import BrokerLink
from g2g_sdk.errors import IdentityMismatch
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry


@dataclass(frozen=True)
class Published:
    """The broker's answer: where the event went and whether it had it already."""

    event_id: str
    event_digest: bytes
    recipients: tuple[str, ...]
    duplicate: bool


class Publisher(BrokerLink):
    """An agency's client for `g2g.v1.Events/Publish`."""

    def __init__(self, identity: Identity, registry: Registry, *,
                 broker_endpoint: str | None = None) -> None:
        super().__init__(identity, registry, broker_endpoint=broker_endpoint)
        self._stub = events_pb2_grpc.EventsStub(self._channel)

    def build(self, payload: pb_message.Message, *, purpose: str, legal_basis: str = "",
              correlation_id: str | None = None, event_id: str | None = None,
              lifetime: timedelta = timedelta(seconds=120)) -> events_pb2.SignedEvent:
        """A signed event (exposed for callers that send it themselves)."""
        return events.build_event(
            publisher=self._identity.agency_id, payload=payload, purpose=purpose,
            legal_basis=legal_basis, key=self._identity.signing_key, now=datetime.now(UTC),
            lifetime=lifetime, correlation_id=correlation_id, event_id=event_id)

    async def send(self, signed: events_pb2.SignedEvent, *, timeout: float = 10.0,
                   retries: int = 3, retry_wait: float = 0.5) -> Published:
        """Publish a prepared event; UNAVAILABLE is retried with the same bytes."""
        for attempt in range(retries + 1):
            try:
                reply: events_pb2.PublishResponse = await self._stub.Publish(signed,
                                                                             timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                error = await self._error(exc)
                # An impostor at the broker's address stays one: no retry.
                if (error.code != grpc.StatusCode.UNAVAILABLE or attempt == retries
                        or isinstance(error, IdentityMismatch)):
                    raise error from None
                await asyncio.sleep(retry_wait * (2 ** attempt))
                continue
            return Published(reply.event_id, reply.event_digest, tuple(reply.recipients),
                             reply.duplicate)
        raise AssertionError("unreachable")  # pragma: no cover

    async def publish(self, payload: pb_message.Message, *, purpose: str,
                      legal_basis: str = "", correlation_id: str | None = None,
                      timeout: float = 10.0, retries: int = 3) -> Published:
        """Sign and publish one event."""
        signed = self.build(payload, purpose=purpose, legal_basis=legal_basis,
                            correlation_id=correlation_id)
        return await self.send(signed, timeout=timeout, retries=retries)
