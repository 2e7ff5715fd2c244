"""A receipt or a publication whose caller leaves midway: finished once, never a fault.

The bench's subscribers left while receipts were in flight (a cancelled task, a
passed deadline). The broker then either stopped the receipt between its audit
record and the JetStream ack (a `receipt` record for a delivery handed out
again) or, on a refusal, aborted a call that was already over: grpc's
ExecuteBatchError, logged as `server_fault`. Real broker, JetStream and mTLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from g2g_sdk import events
from g2g_sdk.errors import EventsUnavailable
from g2g_sdk.subscriber import first
from structlog.testing import capture_logs

from broker.events.jetstream import JetStreamBus, consumer_name
from broker.events.service import finish_running
from tests.e2e.conftest import expect_error
from tests.e2e.events_fixtures import (
    BIN,
    HIT_BASIS,
    IMIGRASI,
    POLRI,
    EventsFed,
    bus_of,
    counted,
    events_broker,
    events_fed,
    hit,
)
from tests.jetstream import StreamNames

ACKNOWLEDGE = "/g2g.v1.Events/Acknowledge"
PUBLISH = "/g2g.v1.Events/Publish"


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
               ) -> AsyncIterator[EventsFed]:
    # One redelivery 0.3 s after a missed ack, the next only after 30 s: a test
    # sees exactly one, never a dead letter.
    async for fed in events_fed(tmp_path, pki_dir, stream_names, max_deliver=3,
                                backoff_seconds="[0.3, 30]"):
        yield fed


async def until(condition: Any, timeout: float = 10.0) -> bool:
    """Wait (bounded) for state the broker reaches on its own (grpc seeing the caller go)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class HeldAck:
    """The broker's JetStream ack, held until released; then it confirms, or fails.

    With `late_reply`, a cancellation while held does not stop it (noted in
    `interrupted`): like JetStream's reply already on its way, which
    `asyncio.wait_for` (under nats' request) returns on Python 3.11 even when the
    cancellation comes in the same turn of the loop.
    """

    def __init__(self, bus: JetStreamBus, *, fails: bool, late_reply: bool = False) -> None:
        self.reached, self.release = asyncio.Event(), asyncio.Event()
        self.interrupted = asyncio.Event()
        self._ack, self._fails, self._late_reply = bus.ack, fails, late_reply
        bus.ack = self  # type: ignore[method-assign]

    async def __call__(self, token: str) -> None:
        self.reached.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.interrupted.set()
            if not self._late_reply:
                raise
            await self.release.wait()
        if self._fails:
            raise EventsUnavailable("JetStream did not confirm the acknowledgement (test)",
                                    metadata={"cause": "ack_failed"})
        await self._ack(token)


async def leave(fed: EventsFed, how: str, acknowledging: Any, held: HeldAck) -> None:
    """The subscriber leaves while its receipt waits for JetStream; returns once the
    broker has seen it go (the call ended CANCELLED there, or the held step was told)."""
    if how == "deadline":
        await expect_error(acknowledging, grpc.StatusCode.DEADLINE_EXCEEDED,
                           "CALL_DEADLINE_EXCEEDED")
        await asyncio.wait_for(held.reached.wait(), 10)
    else:
        task = asyncio.ensure_future(acknowledging)
        await asyncio.wait_for(held.reached.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await until(lambda: held.interrupted.is_set() or counted(
        fed, "g2g_rpcs", method=ACKNOWLEDGE, code="CANCELLED") == 1)


@pytest.mark.parametrize("how", ["deadline", "cancel"])
async def test_a_receipt_whose_caller_left_is_finished_audited_once_and_acked(
        efed: EventsFed, how: str) -> None:
    published = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                       legal_basis=HIT_BASIS)
    client = efed.subscriber(BIN)
    [got] = await first(client)
    bus = bus_of(efed)
    held = HeldAck(bus, fails=False)
    with capture_logs() as logs:
        await leave(efed, how, client.acknowledge(got, timeout=1.0), held)
        held.release.set()
        assert await finish_running(events_broker(efed), 10)
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    assert not held.interrupted.is_set()  # the receipt's steps ran on, uncut
    # Counted once, audited once, and JetStream has it acknowledged: no redelivery.
    records = await efed.records(message_id=published.event_id, consumer=BIN)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records
            if r["kind"] != "route"] == [("delivered", "OK", "DELIVERED"), ("receipt", "OK", "")]
    assert counted(efed, "g2g_event_receipts", subscriber=BIN, outcome="verified",
                   reason="") == 1
    info = await bus._jetstream().consumer_info(efed.names.stream, consumer_name(BIN))
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
    assert efed.federation.broker.gate.in_flight == 0
    # The subscriber still holds the event (its call failed): acknowledging it again
    # is a second, separately audited receipt, and it is not handed out again.
    await client.acknowledge(got)
    assert len(await efed.records(kind="receipt", message_id=published.event_id)) == 2


async def test_a_receipt_refused_after_its_caller_left_is_audited_not_a_fault(
        efed: EventsFed) -> None:
    published = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                       legal_basis=HIT_BASIS)
    client = efed.subscriber(BIN)
    [got] = await first(client)
    held = HeldAck(bus_of(efed), fails=True, late_reply=True)
    with capture_logs() as logs:
        await leave(efed, "deadline", client.acknowledge(got, timeout=1.0), held)
        held.release.set()  # JetStream now fails to confirm: a refusal nobody hears
        assert await finish_running(events_broker(efed), 10)
    # Before: the handler sent the refusal on the finished call, grpc raised
    # ExecuteBatchError inside it, and the boundary logged a `server_fault`.
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    assert not held.interrupted.is_set()
    assert counted(efed, "g2g_rpcs", method=ACKNOWLEDGE, code="CANCELLED") == 1
    records = await efed.records(message_id=published.event_id, consumer=BIN)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records
            if r["kind"] != "route"] == [
        ("delivered", "OK", "DELIVERED"), ("receipt", "OK", ""),
        ("receipt_rejected", "UNAVAILABLE", "EVENTS_UNAVAILABLE")]
    assert counted(efed, "g2g_event_receipts", subscriber=BIN, outcome="refused",
                   reason="EVENTS_UNAVAILABLE") == 1
    assert efed.federation.broker.gate.in_flight == 0


async def test_a_publication_whose_caller_left_is_stored_for_every_recipient(
        efed: EventsFed) -> None:
    bus = bus_of(efed)
    store = bus.publish
    reached, release = asyncio.Event(), asyncio.Event()

    async def held(*args: Any) -> bool:
        reached.set()
        await release.wait()
        return await store(*args)

    bus.publish = held  # type: ignore[method-assign]
    publisher = efed.publisher(IMIGRASI)
    signed = publisher.build(hit(), purpose="border_control", legal_basis=HIT_BASIS)
    event_id = events.parse_header(signed.header).event_id
    with capture_logs() as logs:
        sending = asyncio.ensure_future(publisher.send(signed, retries=0))
        await asyncio.wait_for(reached.wait(), 10)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert await until(lambda: counted(efed, "g2g_rpcs", method=PUBLISH,
                                           code="CANCELLED") == 1)
        release.set()
        assert await finish_running(events_broker(efed), 10)
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    records = await efed.records(message_id=event_id)
    assert [(r["kind"], r["consumer"], r["status_code"], r["reason"]) for r in records] == [
        ("event", "", "", ""), ("route", BIN, "", ""), ("route", POLRI, "", ""),
        ("event_outcome", "", "OK", "")]
    bus.publish = store  # type: ignore[method-assign]
    [at_bin] = await first(efed.subscriber(BIN))
    [at_polri] = await first(efed.subscriber(POLRI))
    assert (at_bin.event_id, at_polri.event_id) == (event_id, event_id)


async def test_a_failed_acknowledge_keeps_the_event_held_not_yielded_again(
        efed: EventsFed) -> None:
    published = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                       legal_basis=HIT_BASIS)
    client = efed.subscriber(BIN)
    yielded: list[Any] = []
    arrived = asyncio.Event()

    async def receive() -> None:
        async for event in client.events():
            yielded.append(event)
            arrived.set()

    receiving = asyncio.ensure_future(receive())
    try:
        await asyncio.wait_for(arrived.wait(), 10)
        held = HeldAck(bus_of(efed), fails=True)
        held.release.set()
        await expect_error(client.acknowledge(yielded[0]), grpc.StatusCode.UNAVAILABLE,
                           "EVENTS_UNAVAILABLE")
        # Not acknowledged in JetStream: handed out again after the ack wait (0.3 s).
        delivered = await efed.wait_records(2, kind="delivered", consumer=BIN)
        assert [r["reason"] for r in delivered] == ["DELIVERED", "REDELIVERED"]
        bus_of(efed).ack = held._ack  # type: ignore[method-assign]
        arrived.clear()
        marker = await efed.publisher(IMIGRASI).publish(
            hit("CKL-MARKER"), purpose="border_control", legal_basis=HIT_BASIS)
        await asyncio.wait_for(arrived.wait(), 10)
        # The redelivery was not yielded again: the application's next event is the marker.
        assert [e.event_id for e in yielded] == [published.event_id, marker.event_id]
        await client.acknowledge(yielded[0])  # settles it by its latest delivery
        await client.acknowledge(yielded[1])
    finally:
        receiving.cancel()
    assert [(r["kind"], r["reason"]) for r in await efed.records(
        message_id=published.event_id, consumer=BIN) if r["kind"].startswith("receipt")] == [
        ("receipt", ""), ("receipt_rejected", "EVENTS_UNAVAILABLE"), ("receipt", "")]
    info = await bus_of(efed)._jetstream().consumer_info(efed.names.stream, consumer_name(BIN))
    assert (info.num_ack_pending, info.num_pending) == (0, 0)
