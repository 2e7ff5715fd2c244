"""A delivery waiting in a live stream's queue is not redelivered (PROTOCOL.md §9.5).

The events bench found ~95 % of deliveries handed out twice or three times: the
broker fetched 32 ahead (1000 unacknowledged per consumer) while the first ack
wait was 2 s, so deliveries queued in the broker, gRPC and the SDK outlived it
and JetStream redelivered them to subscribers that were alive and working.
Now a stream holds a window, keeps what waits behind the oldest in progress,
and lets the ack wait run only for the delivery the subscriber is at. Real
broker, JetStream and mTLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from g2g_sdk._gen.g2g.v1 import events_pb2
from g2g_sdk.subscriber import first
from nats.js import api

from broker.events.jetstream import consumer_name
from broker.events.service import subscribe
from tests.e2e.events_fixtures import (
    BIN,
    HIT_BASIS,
    IMIGRASI,
    EventsFed,
    bus_of,
    counted,
    events_broker,
    events_fed,
    hit,
)
from tests.jetstream import StreamNames

ACK_WAIT = 1.0
EVENTS = 10
# Deliberately slower than nothing, faster than the ack wait: the subscriber works
# through a queue whose tail waits EVENTS * WORK = 3 s, three ack waits.
WORK = 0.3


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
               ) -> AsyncIterator[EventsFed]:
    async for fed in events_fed(tmp_path, pki_dir, stream_names, max_deliver=3,
                                backoff_seconds=f"[{ACK_WAIT}, {ACK_WAIT}]"):
        yield fed





async def publish_hits(fed: EventsFed, count: int) -> list[str]:
    publisher = fed.publisher(IMIGRASI)
    return [(await publisher.publish(hit(f"CKL-{i:04d}"), purpose="border_control",
                                     legal_basis=HIT_BASIS)).event_id for i in range(count)]


async def test_a_slow_subscriber_that_is_alive_gets_each_event_exactly_once(
        efed: EventsFed) -> None:
    published = await publish_hits(efed, EVENTS)  # all queued before it subscribes
    client = efed.subscriber(BIN)
    handled: list[str] = []

    async def work_through() -> None:
        async for event in client.events():
            await asyncio.sleep(WORK)  # the application's work (the scenario, not a sync)
            await client.acknowledge(event)
            handled.append(event.event_id)
            if len(handled) == EVENTS:
                return

    await asyncio.wait_for(work_through(), 60)
    assert handled == published  # in publication order, each once
    # Before: all ten fetched at once, the later ones waited past the ack wait and were
    # handed out again (REDELIVERED records, second receipts for the re-acknowledged).
    delivered = await efed.records(kind="delivered", consumer=BIN)
    assert [(r["message_id"], r["reason"]) for r in delivered] == [
        (event_id, "DELIVERED") for event_id in published]
    assert len(await efed.records(kind="receipt", consumer=BIN)) == EVENTS
    assert counted(efed, "g2g_event_deliveries", subscriber=BIN,
                   event_type=hit().DESCRIPTOR.full_name, outcome="redelivered") == 0
    info = await bus_of(efed)._jetstream().consumer_info(efed.names.stream, consumer_name(BIN))
    assert (info.delivered.consumer_seq, info.num_ack_pending, info.num_redelivered,
            info.num_pending) == (EVENTS, 0, 0, 0)
    assert events_broker(efed).flows.held() == 0  # the stream is still open: all settled


@pytest.fixture
async def window_fed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
                     ) -> AsyncIterator[EventsFed]:
    # A window of 4 and a long ack wait: nothing in the test waits for one to pass.
    async for fed in events_fed(tmp_path, pki_dir, stream_names, delivery_window=4,
                                backoff_seconds="[30]"):
        yield fed


async def test_a_stream_holds_at_most_its_window_of_unacknowledged_deliveries(
        window_fed: EventsFed) -> None:
    fed = window_fed
    await publish_hits(fed, 6)
    client = fed.subscriber(BIN)
    yielded: list[Any] = []
    arrived = asyncio.Event()

    async def receive() -> None:
        async for event in client.events():  # the stream stays open
            yielded.append(event)
            arrived.set()

    async def pending() -> tuple[int, int]:
        info = await bus_of(fed)._jetstream().consumer_info(fed.names.stream,
                                                            consumer_name(BIN))
        return info.num_ack_pending, info.num_pending

    receiving = asyncio.ensure_future(receive())
    try:
        await asyncio.wait_for(arrived.wait(), 10)
        # Fetched into the window only, not 32 ahead: four handed out, two stored.
        assert await pending() == (4, 2)
        await client.acknowledge(yielded[0])  # a receipt makes room for one more
        while len(yielded) < 5:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
        assert await pending() == (4, 1)
        assert events_broker(fed).flows.held() == 4
    finally:
        receiving.cancel()


async def test_a_subscriber_that_disconnects_gets_its_unacknowledged_deliveries_again(
        efed: EventsFed) -> None:
    published = await publish_hits(efed, 3)
    gone = efed.subscriber(BIN)
    [got] = await first(gone)  # handed to its stream, never acknowledged
    assert got.event_id == published[0]
    await gone.close()  # the stream ends: nothing keeps its deliveries in progress
    again = efed.subscriber(BIN)
    received = await first(again, 3, timeout=20)  # after the ack wait
    assert sorted(e.event_id for e in received) == sorted(published)
    assert [e.attempt for e in received if e.event_id == published[0]] == [2]
    for event in received:
        await again.acknowledge(event)
    info = await bus_of(efed)._jetstream().consumer_info(efed.names.stream, consumer_name(BIN))
    assert (info.num_ack_pending, info.num_pending) == (0, 0)
    reasons = [r["reason"] for r in await efed.records(kind="delivered", consumer=BIN,
                                                       message_id=published[0])]
    assert reasons == ["DELIVERED", "REDELIVERED"]


async def test_a_call_that_ends_while_its_stream_waits_to_write_releases_its_deliveries(
        efed: EventsFed) -> None:
    # The call's end, not the stream generator's own end, releases the stream: a
    # generator suspended at its yield, or one whose cancellation nats-py's waits
    # swallowed (asyncio.wait_for on Python 3.11), kept its deliveries in progress
    # and took their redeliveries in about one run in five of the disconnect test
    # above, until they were dead-lettered.
    published = await publish_hits(efed, 2)
    broker = events_broker(efed)
    ended: list[Callable[[Any], None]] = []
    stream = subscribe(events_pb2.SubscribeRequest(), BIN, broker, ended.append)
    await anext(stream)  # suspended at its yield, as while gRPC writes it
    assert broker.flows.held() >= 1
    ended[0](None)  # what ServicerContext runs when the call ends
    assert broker.flows.held() == 0
    again = efed.subscriber(BIN)
    received = await first(again, 2, timeout=20)  # after the ack wait, to the next stream
    assert sorted(e.event_id for e in received) == sorted(published)
    for event in received:
        await again.acknowledge(event)
    await stream.aclose()


async def test_an_event_the_application_holds_is_redelivered_behind_the_ones_it_acknowledges(
        efed: EventsFed) -> None:
    published = await publish_hits(efed, 3)
    client = efed.subscriber(BIN)
    yielded: list[Any] = []

    async def receive() -> None:
        async for event in client.events():
            yielded.append(event)
            if event.event_id != published[0]:  # the first it keeps, unacknowledged
                await client.acknowledge(event)

    receiving = asyncio.ensure_future(receive())
    try:
        # The held head's ack wait runs while the subscriber has it: JetStream hands it
        # out again (the SDK does not yield it twice) and, after max_deliver (3), gives
        # it up. The two acknowledged behind it were never redelivered.
        [failed] = await efed.wait_records(1, timeout=30, kind="delivery_failed")
    finally:
        receiving.cancel()
    assert failed["message_id"] == published[0]
    assert [e.event_id for e in yielded] == published
    delivered = await efed.records(kind="delivered", consumer=BIN)
    assert [(r["message_id"], r["reason"]) for r in delivered if r["message_id"] !=
            published[0]] == [(published[1], "DELIVERED"), (published[2], "DELIVERED")]
    assert [r["reason"] for r in delivered if r["message_id"] == published[0]] == [
        "DELIVERED", "REDELIVERED", "REDELIVERED"]


async def test_an_existing_consumer_takes_the_brokers_delivery_settings(efed: EventsFed
                                                                       ) -> None:
    # A consumer made before the operator changed events.backoff_seconds / max_deliver
    # (here: JetStream's defaults, 30 s ack wait, unlimited attempts, no backoff).
    nc = await nats.connect(efed.names.url)
    try:
        durable = consumer_name(BIN)
        await nc.jetstream().add_consumer(efed.names.stream, api.ConsumerConfig(
            durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            filter_subject=f"{efed.names.prefix}.deliver.id-gov-bin.>"))
        published = await publish_hits(efed, 1)
        client = efed.subscriber(BIN)
        [got] = await first(client)
        await client.acknowledge(got)
        assert got.event_id == published[0]
        info = await nc.jetstream().consumer_info(efed.names.stream, durable)
    finally:
        await nc.close()
    # Before, it was bound as it was: the new ack waits never reached it.
    assert (info.config.ack_wait, info.config.backoff, info.config.max_deliver,
            info.config.max_ack_pending) == (ACK_WAIT, [ACK_WAIT, ACK_WAIT], 3, 1000)
