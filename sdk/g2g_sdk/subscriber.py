"""Subscriber side of the toolkit: receive, verify, deduplicate and acknowledge events.

Example::

    identity = pki.load_identity(Path("var/pki"), "NL/GOV/EMBASSY-JAKARTA")
    registry = load_registry(Path("config/agencies.yaml"), Path("var/pki"))
    async with Subscriber(identity, registry) as subscriber:
        async for event in subscriber.events():
            print(event.header.event_type, event.payload)
            await subscriber.acknowledge(event)   # a receipt signed by our key

Every delivery is verified before the application sees it
(`g2g_sdk.events.open_delivery`): the publisher's signature over the exact
header bytes, the broker's routing statement, each field's salted digest and
the routed mask. A delivery that fails is never yielded; `rejected` counts it
and it is left unacknowledged, so it ends in the dead-letter subject. Each
event id is yielded once per `Subscriber`: a redelivery of an event already
acknowledged is acknowledged again, and one the application holds but has not
acknowledged yet only refreshes what `acknowledge` will answer (a new
`Subscriber`, e.g. after a crash, gets unacknowledged events again).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from g2g_sdk import events
from g2g_sdk._gen.g2g.v1 import events_pb2, events_pb2_grpc
from g2g_sdk.brokerlink import BrokerLink
from g2g_sdk.catalog import find_message
from g2g_sdk.errors import DeliveryInvalid
from g2g_sdk.events import ReceivedEvent
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry

SEEN_LIMIT = 100_000  # event ids remembered for de-duplication


class Subscriber(BrokerLink):
    """An agency's client for `g2g.v1.Events/Subscribe` and `Acknowledge`."""

    def __init__(self, identity: Identity, registry: Registry, *,
                 broker_endpoint: str | None = None) -> None:
        super().__init__(identity, registry, broker_endpoint=broker_endpoint)
        self._stub = events_pb2_grpc.EventsStub(self._channel)
        self._acked: OrderedDict[str, events_pb2.Receipt] = OrderedDict()
        # Event id -> ack token of its latest delivery, for events handed out unacknowledged.
        self._held: OrderedDict[str, str] = OrderedDict()
        self.rejected: list[DeliveryInvalid] = []

    def _publisher_keys(self, publisher: str) -> Mapping[str, Ed25519PublicKey]:
        agency = self._registry.agency(publisher)
        return agency.signing_keys if agency is not None else {}

    def verify(self, delivery: events_pb2.Delivery) -> ReceivedEvent:
        """Check one delivery; raises DeliveryInvalid naming the failed check."""
        return events.open_delivery(
            delivery, subscriber=self._identity.agency_id,
            publisher_keys=self._publisher_keys, broker_keys=self._registry.broker_keys,
            event_class=find_message)

    async def deliveries(self, event_types: tuple[str, ...] = ()
                         ) -> AsyncIterator[events_pb2.Delivery]:
        """Raw deliveries, unverified (for tools that show what the broker sent)."""
        call = self._stub.Subscribe(events_pb2.SubscribeRequest(event_types=event_types))
        try:
            async for delivery in call:
                yield delivery
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise await self._error(exc) from None
        finally:
            call.cancel()

    async def events(self, event_types: tuple[str, ...] = ()
                     ) -> AsyncIterator[ReceivedEvent]:
        """Verified events, each event id once; resumes where the durable queue stands."""
        async for delivery in self.deliveries(event_types):
            try:
                event = self.verify(delivery)
            except DeliveryInvalid as exc:
                self.rejected.append(exc)
                continue
            receipt = self._acked.get(event.event_id)
            if receipt is not None:
                # Already handed to the application: a redelivery (our receipt was lost).
                await self._send_receipt(receipt, event.ack_token)
                continue
            if event.event_id in self._held:
                # The application has it and has not acknowledged it yet.
                self._held[event.event_id] = event.ack_token
                continue
            self._held[event.event_id] = event.ack_token
            if len(self._held) > SEEN_LIMIT:
                self._held.popitem(last=False)
            yield event

    async def acknowledge(self, event: ReceivedEvent,
                          timeout: float = 10.0) -> events_pb2.AcknowledgeResponse:
        """Sign a receipt bound to the event digest and send it; the broker audits it.

        If the call fails (or is cancelled) the event stays held: a redelivery only
        refreshes its ack token, it is not handed out again, and `acknowledge` may be
        called again. The broker finishes a receipt whose caller left, so the first
        attempt may have counted; a second is then audited as a second receipt.
        """
        receipt = events.sign_receipt(event, subscriber=self._identity.agency_id,
                                      key=self._identity.signing_key, now=datetime.now(UTC))
        token = self._held.get(event.event_id, event.ack_token)  # its latest delivery
        reply = await self._send_receipt(receipt, token, timeout)
        self._held.pop(event.event_id, None)
        self._acked[event.event_id] = receipt
        if len(self._acked) > SEEN_LIMIT:
            self._acked.popitem(last=False)
        return reply

    async def _send_receipt(self, receipt: events_pb2.Receipt, ack_token: str,
                            timeout: float = 10.0) -> events_pb2.AcknowledgeResponse:
        try:
            reply: events_pb2.AcknowledgeResponse = await self._stub.Acknowledge(
                events_pb2.AcknowledgeRequest(receipt=receipt, ack_token=ack_token),
                timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc) from None
        return reply


async def first(subscriber: Subscriber, count: int = 1, *, timeout: float = 10.0,
                event_types: tuple[str, ...] = ()) -> list[ReceivedEvent]:
    """The next `count` verified events, unacknowledged (tests, demo, CLI); bounded wait."""
    got: list[ReceivedEvent] = []

    async def collect() -> None:
        async for event in subscriber.events(event_types):
            got.append(event)
            if len(got) >= count:
                return

    await asyncio.wait_for(collect(), timeout)
    return got

