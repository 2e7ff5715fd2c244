"""Bad events and faults: exact status, audit records, nothing lost or delivered twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from g2g_sdk import events, pki
from g2g_sdk._gen.g2g.v1 import events_pb2
from g2g_sdk.errors import G2GError
from g2g_sdk.subscriber import first
from grpc_health.v1 import health_pb2, health_pb2_grpc

from broker.events.embedded import EmbeddedJetStream
from tests.e2e.conftest import expect_error
from tests.e2e.events_fixtures import (
    BIN,
    HIT_BASIS,
    IMIGRASI,
    NL_EMBASSY,
    POLRI,
    EventsFed,
    bus_of,
    counted,
    detention,
    events_fed,
    hit,
    start_events_federation,
)
from tests.jetstream import StreamNames

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
               ) -> AsyncIterator[EventsFed]:
    async for fed in events_fed(tmp_path, pki_dir, stream_names, max_deliver=3,
                                backoff_seconds="[0.3, 0.3]", max_event_bytes=16384):
        yield fed


def signed_hit(fed: EventsFed, *, now: datetime | None = None, event_id: str | None = None,
               **fields: Any) -> events_pb2.SignedEvent:
    key = pki.load_identity(fed.federation.pki_dir, IMIGRASI).signing_key
    payload = hit()
    for name, value in fields.items():
        setattr(payload, name, value)
    return events.build_event(publisher=IMIGRASI, payload=payload, purpose="border_control",
                              legal_basis=HIT_BASIS, key=key, now=now or datetime.now(UTC),
                              event_id=event_id)


async def rejected(fed: EventsFed, event_id: str) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["status_code"], r["reason"])
            for r in await fed.records(message_id=event_id)]


HIT_TYPE = hit().DESCRIPTOR.full_name
DETENTION_TYPE = detention().DESCRIPTOR.full_name


async def marker_is_next(fed: EventsFed, subscriber: str) -> None:
    """Publish a marker event; it must be the subscriber's next (nothing else was queued)."""
    marker = await fed.publisher(IMIGRASI).publish(hit("CKL-MARKER"), purpose="border_control",
                                                   legal_basis=HIT_BASIS)
    client = fed.subscriber(subscriber)
    [got] = await first(client)
    assert got.event_id == marker.event_id
    await client.acknowledge(got)


async def test_unsigned_event_is_refused_and_audited(efed: EventsFed) -> None:
    signed = signed_hit(efed)
    del signed.signatures[:]
    await expect_error(efed.publisher(IMIGRASI).send(signed), grpc.StatusCode.UNAUTHENTICATED,
                       "SIGNATURE_INVALID")
    header = events.parse_header(signed.header)
    assert await rejected(efed, header.event_id) == [
        ("event_rejected", "UNAUTHENTICATED", "SIGNATURE_INVALID")]
    await marker_is_next(efed, BIN)


async def test_tampered_header_and_disclosure_are_refused(efed: EventsFed) -> None:
    publisher = efed.publisher(IMIGRASI)
    signed = signed_hit(efed)
    header = events_pb2.EventHeader.FromString(signed.header)
    header.purpose = "criminal_investigation"
    signed.header = header.SerializeToString(deterministic=True)
    await expect_error(publisher.send(signed), grpc.StatusCode.UNAUTHENTICATED,
                       "SIGNATURE_INVALID")
    signed = signed_hit(efed)
    altered = events_pb2.Disclosure.FromString(signed.disclosures[0])
    altered.salt = bytes(16)
    signed.disclosures[0] = altered.SerializeToString(deterministic=True)
    await expect_error(publisher.send(signed), INVALID, "DISCLOSURE_MISMATCH")
    signed = signed_hit(efed)
    del signed.disclosures[-1]  # a signed field withheld by the publisher itself
    await expect_error(publisher.send(signed), INVALID, "DISCLOSURE_MISMATCH")
    assert await rejected(efed, header.event_id) == [
        ("event_rejected", "UNAUTHENTICATED", "SIGNATURE_INVALID")]
    await marker_is_next(efed, BIN)


async def test_replayed_event_is_delivered_once_and_a_reused_id_is_refused(efed: EventsFed
                                                                          ) -> None:
    publisher = efed.publisher(IMIGRASI)
    signed = signed_hit(efed)
    first_answer = await publisher.send(signed)
    again = await publisher.send(signed)
    assert (first_answer.duplicate, again.duplicate) == (False, True)
    assert again.recipients == first_answer.recipients
    event_id = first_answer.event_id
    other = signed_hit(efed, event_id=event_id, border_post="DPS")
    error = await expect_error(publisher.send(other), grpc.StatusCode.ALREADY_EXISTS,
                               "REPLAYED")
    assert error.metadata == {"event_id": event_id}
    kinds = [(r["kind"], r["status_code"], r["reason"])
             for r in await efed.records(message_id=event_id) if r["kind"] != "route"]
    assert kinds == [("event", "", ""), ("event_outcome", "OK", ""),
                     ("event_outcome", "OK", "DUPLICATE"),
                     ("event_rejected", "ALREADY_EXISTS", "REPLAYED")]
    client = efed.subscriber(BIN)
    [got] = await first(client)
    assert got.event_id == event_id
    await client.acknowledge(got)
    await marker_is_next(efed, BIN)  # the replay left nothing else in the queue


async def test_expired_and_future_events_are_refused(efed: EventsFed) -> None:
    publisher = efed.publisher(IMIGRASI)
    old = signed_hit(efed, now=datetime.now(UTC) - timedelta(hours=1))
    await expect_error(publisher.send(old), grpc.StatusCode.FAILED_PRECONDITION, "EXPIRED")
    future = signed_hit(efed, now=datetime.now(UTC) + timedelta(hours=1))
    await expect_error(publisher.send(future), grpc.StatusCode.FAILED_PRECONDITION,
                       "NOT_YET_VALID")
    assert await rejected(efed, events.parse_header(old.header).event_id) == [
        ("event_rejected", "FAILED_PRECONDITION", "EXPIRED")]
    await marker_is_next(efed, BIN)


async def test_oversized_event_is_refused(efed: EventsFed) -> None:
    big = signed_hit(efed, case_reference="X" * 20000)
    error = await expect_error(efed.publisher(IMIGRASI).send(big), INVALID, "EVENT_TOO_LARGE")
    assert error.metadata == {"size": str(big.ByteSize()), "limit": "16384"}
    assert await rejected(efed, events.parse_header(big.header).event_id) == [
        ("event_rejected", "INVALID_ARGUMENT", "EVENT_TOO_LARGE")]


async def test_event_type_not_in_the_catalog_for_the_publisher(efed: EventsFed) -> None:
    # The police publish detention notifications, not border hits.
    key = pki.load_identity(efed.federation.pki_dir, POLRI).signing_key
    signed = events.build_event(publisher=POLRI, payload=hit(), purpose="border_control",
                                legal_basis=HIT_BASIS, key=key, now=datetime.now(UTC))
    error = await expect_error(efed.publisher(POLRI).send(signed), grpc.StatusCode.NOT_FOUND,
                               "UNKNOWN_EVENT_TYPE")
    assert error.metadata == {"event_type": "g2g.immigration.v1.WatchlistHit"}


async def test_publisher_must_be_the_tls_identity(efed: EventsFed) -> None:
    signed = signed_hit(efed)  # signed by IMIGRASI, sent over POLRI's connection
    await expect_error(efed.publisher(POLRI).send(signed), grpc.StatusCode.UNAUTHENTICATED,
                       "SENDER_MISMATCH")


async def test_forged_receipt_and_receipt_for_another_event(efed: EventsFed) -> None:
    publisher = efed.publisher(IMIGRASI)
    one = await publisher.publish(detention("NLD"), purpose="consular_notification",
                                  legal_basis="VCCR Art. 36")
    two = await publisher.publish(detention("NLD"), purpose="consular_notification",
                                  legal_basis="VCCR Art. 36")
    embassy = efed.subscriber(NL_EMBASSY)
    got_one, got_two = await first(embassy, 2)
    assert (got_one.event_id, got_two.event_id) == (one.event_id, two.event_id)
    identity = pki.load_identity(efed.federation.pki_dir, NL_EMBASSY)
    # Signed by another agency's key (POLRI's), claiming to be the embassy's.
    forged = events.sign_receipt(
        got_one, subscriber=NL_EMBASSY,
        key=pki.load_identity(efed.federation.pki_dir, POLRI).signing_key,
        now=datetime.now(UTC))
    stub = embassy._stub
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Acknowledge(events_pb2.AcknowledgeRequest(receipt=forged,
                                                             ack_token=got_one.ack_token))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A genuine receipt for event two, presented with event one's ack token.
    other = events.sign_receipt(got_two, subscriber=NL_EMBASSY, key=identity.signing_key,
                                now=datetime.now(UTC))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Acknowledge(events_pb2.AcknowledgeRequest(receipt=other,
                                                             ack_token=got_one.ack_token))
    assert info.value.code() == INVALID
    refused = await efed.records(kind="receipt_rejected")
    assert [(r["consumer"], r["status_code"], r["reason"], r["message_id"]) for r in refused] == [
        (NL_EMBASSY, "UNAUTHENTICATED", "RECEIPT_INVALID", ""),
        (NL_EMBASSY, "INVALID_ARGUMENT", "RECEIPT_MISMATCH", one.event_id)]
    assert await efed.records(kind="receipt") == []
    # Neither was acknowledged: the embassy's own receipts still settle both.
    await embassy.acknowledge(got_one)
    await embassy.acknowledge(got_two)
    assert len(await efed.records(kind="receipt")) == 2
    receipts = {(outcome, reason): counted(efed, "g2g_event_receipts", subscriber=NL_EMBASSY,
                                           outcome=outcome, reason=reason)
                for outcome, reason in (("verified", ""), ("refused", "RECEIPT_INVALID"),
                                        ("refused", "RECEIPT_MISMATCH"))}
    assert receipts == {("verified", ""): 2, ("refused", "RECEIPT_INVALID"): 1,
                        ("refused", "RECEIPT_MISMATCH"): 1}
    assert counted(efed, "g2g_event_deliveries", subscriber=NL_EMBASSY,
                   event_type=DETENTION_TYPE, outcome="acknowledged") == 2


async def test_subscriber_that_never_acknowledges_ends_in_the_dead_letter_subject(
        efed: EventsFed) -> None:
    result = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                    legal_basis=HIT_BASIS)
    client = efed.subscriber(BIN)
    handed: list[str] = []

    async def receive() -> None:
        # Keeps pulling, as a live subscriber does (JetStream gives up on a delivery when
        # it would hand it out a fourth time), but never acknowledges.
        async for event in client.events():
            handed.append(event.event_id)

    receiving = asyncio.ensure_future(receive())
    try:
        [failed] = await efed.wait_records(1, timeout=20, kind="delivery_failed")
    finally:
        receiving.cancel()
    assert handed == [result.event_id]  # three deliveries, one event for the application
    assert (failed["consumer"], failed["message_id"], failed["status_code"],
            failed["reason"]) == (BIN, result.event_id, "DEADLINE_EXCEEDED", "UNACKNOWLEDGED")
    delivered = await efed.records(kind="delivered", consumer=BIN)
    assert [r["reason"] for r in delivered] == ["DELIVERED", "REDELIVERED", "REDELIVERED"]
    assert {outcome: counted(efed, "g2g_event_deliveries", subscriber=BIN,
                             event_type=HIT_TYPE, outcome=outcome)
            for outcome in ("delivered", "redelivered", "acknowledged", "dead_lettered")} == {
        "delivered": 1, "redelivered": 2, "acknowledged": 0, "dead_lettered": 1}
    bus = bus_of(efed)
    dead = await bus._jetstream().get_last_msg(efed.names.stream,
                                               f"{efed.names.prefix}.dead.id-gov-bin")
    assert events.parse_header(events_pb2.Delivery.FromString(dead.data).header).event_id == \
        result.event_id
    await marker_is_next(efed, BIN)  # the given-up delivery is not delivered again


async def test_subscriber_away_a_long_time_resumes_after_its_last_receipt(efed: EventsFed
                                                                         ) -> None:
    publisher = efed.publisher(IMIGRASI)
    first_id = (await publisher.publish(hit("CKL-1"), purpose="border_control",
                                        legal_basis=HIT_BASIS)).event_id
    client = efed.subscriber(POLRI)
    [got] = await first(client)
    await client.acknowledge(got)
    await client.close()
    # While it is away: three more events, and its old connection is gone.
    later = [(await publisher.publish(hit(f"CKL-{i}"), purpose="border_control",
                                      legal_basis=HIT_BASIS)).event_id for i in (2, 3, 4)]
    again = efed.subscriber(POLRI)
    received = await first(again, 3)
    # Each once; not necessarily in order: a pull the old stream still had open may
    # take one, which then comes back after its ack wait.
    assert sorted(e.event_id for e in received) == sorted(later)
    assert first_id not in [e.event_id for e in received]
    for event in received:
        await again.acknowledge(event)
    assert len(await efed.records(kind="receipt", consumer=POLRI)) == 4


async def test_jetstream_unavailable_refuses_publish_and_records_nothing_half(
        tmp_path: Path, pki_dir: Path) -> None:
    server = EmbeddedJetStream(tmp_path / "js")
    await server.start()
    names = StreamNames(server.url, "G2G_PRIVATE", "g2g.private")
    fed = await start_events_federation(tmp_path / "fed", pki_dir, names)
    try:
        bus = bus_of(fed)
        assert await bus.wait_ready(10)
        server.stop()
        assert await _until(lambda: not bus.connected)
        signed = signed_hit(fed)
        error = await expect_error(fed.publisher(IMIGRASI).send(signed, retries=0),
                                   grpc.StatusCode.UNAVAILABLE, "EVENTS_UNAVAILABLE")
        assert error.metadata == {"cause": "not_connected"}
        event_id = events.parse_header(signed.header).event_id
        assert await rejected(fed, event_id) == [
            ("event_rejected", "UNAVAILABLE", "EVENTS_UNAVAILABLE")]
        await server.start()  # same port and store: the broker reconnects by itself
        assert await _until(lambda: bus.connected, 15)
        result = await fed.publisher(IMIGRASI).send(signed)
        assert not result.duplicate  # the refused attempt had claimed nothing
        client = fed.subscriber(BIN)
        [got] = await first(client)
        assert got.event_id == event_id
    finally:
        await fed.stop()
        server.stop()


async def test_broker_killed_between_audit_record_and_publish_loses_nothing(
        tmp_path: Path, pki_dir: Path, stream_names: StreamNames) -> None:
    fed = await start_events_federation(tmp_path / "fed", pki_dir, stream_names)
    signed = signed_hit(fed)
    event_id = events.parse_header(signed.header).event_id
    try:
        bus = bus_of(fed)
        reached = asyncio.Event()

        async def die(*_: object) -> bool:
            reached.set()
            await asyncio.Event().wait()  # the broker dies here, before JetStream has it
            return False

        bus.publish = die  # type: ignore[method-assign]
        publishing = asyncio.ensure_future(fed.publisher(IMIGRASI).send(signed, retries=0))
        await asyncio.wait_for(reached.wait(), 10)
        await fed.federation.broker.stop(grace=0)
        with pytest.raises(G2GError) as info:  # the call dies with the broker
            await publishing
        assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    finally:
        await fed.stop()
    assert [r["kind"] for r in await fed.records(message_id=event_id)] == [
        "event", "route", "route"]
    # A new broker on the same audit store and stream; the publisher retries the same bytes.
    fed = await start_events_federation(tmp_path / "fed", pki_dir, stream_names)
    try:
        again = await fed.publisher(IMIGRASI).send(signed)
        assert again.duplicate
        assert again.recipients == (BIN, POLRI)
        for agency in (BIN, POLRI):
            client = fed.subscriber(agency)
            [got] = await first(client)
            assert got.event_id == event_id
            await client.acknowledge(got)
        await marker_is_next(fed, BIN)  # the retry stored nothing twice
    finally:
        await fed.stop()


async def _until(condition: Any, timeout: float = 10.0) -> bool:
    """Wait (bounded) for a condition the broker reaches on its own, e.g. a reconnect."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_two_brokers_share_one_stream_and_one_audit_store(efed: EventsFed) -> None:
    from g2g_sdk.publisher import Publisher
    from g2g_sdk.subscriber import Subscriber

    from broker.server import start_broker

    fed = efed.federation
    other = await start_broker(fed.config, registry=fed.registry, listen="127.0.0.1:0")
    try:
        address = f"127.0.0.1:{other.port}"
        signed = signed_hit(efed)
        first_answer = await efed.publisher(IMIGRASI).send(signed)  # through broker A
        async with Publisher(pki.load_identity(fed.pki_dir, IMIGRASI), fed.registry,
                             broker_endpoint=address) as via_b:
            again = await via_b.send(signed)  # the same event through broker B
        assert (first_answer.duplicate, again.duplicate) == (False, True)
        async with Subscriber(pki.load_identity(fed.pki_dir, BIN), fed.registry,
                              broker_endpoint=address) as at_b:
            [got] = await first(at_b)  # delivered by broker B
            assert got.event_id == first_answer.event_id
            await at_b.acknowledge(got)
        [receipt] = await efed.records(kind="receipt", consumer=BIN)
        assert receipt["message_id"] == first_answer.event_id
        await marker_is_next(efed, BIN)  # through broker A: nothing left, nothing twice
    finally:
        await other.stop(grace=0.5)


async def test_an_event_acknowledged_late_is_settled_by_its_latest_delivery(
        efed: EventsFed) -> None:
    result = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                    legal_basis=HIT_BASIS)
    client = efed.subscriber(BIN)
    held: list[Any] = []
    got_one = asyncio.Event()

    async def receive() -> None:
        async for event in client.events():
            held.append(event)
            got_one.set()

    receiving = asyncio.ensure_future(receive())
    try:
        await asyncio.wait_for(got_one.wait(), 10)
        # The ack wait (0.3 s) passes while the application still holds the event.
        redelivered = await efed.wait_records(2, kind="delivered", consumer=BIN)
        assert [r["reason"] for r in redelivered][:2] == ["DELIVERED", "REDELIVERED"]
        await client.acknowledge(held[0])
    finally:
        receiving.cancel()
    assert [e.event_id for e in held] == [result.event_id]
    assert len(await efed.records(kind="receipt", consumer=BIN)) == 1
    await marker_is_next(efed, BIN)


@pytest.mark.parametrize(("limit", "per_agency", "scope"), [(1, 8, "broker"), (8, 1, "consumer")])
async def test_publish_beyond_the_admission_bound_is_overloaded_and_audited(
        efed: EventsFed, limit: int, per_agency: int, scope: str) -> None:
    gate = efed.federation.broker.gate  # the Exchange service's gate, shared with Events
    gate.limit, gate.per_consumer = limit, per_agency
    bus = bus_of(efed)
    store = bus.publish
    reached, release = asyncio.Event(), asyncio.Event()

    async def held(*args: Any) -> Any:
        reached.set()
        await release.wait()  # the first publication holds its slot here
        return await store(*args)

    bus.publish = held  # type: ignore[method-assign]
    first_signed, second_signed = signed_hit(efed), signed_hit(efed)
    publisher = efed.publisher(IMIGRASI)
    holding = asyncio.ensure_future(publisher.send(first_signed, retries=0))
    try:
        await asyncio.wait_for(reached.wait(), 10)
        assert gate.in_flight == 1
        err = await expect_error(publisher.send(second_signed, retries=0),
                                 grpc.StatusCode.RESOURCE_EXHAUSTED, "OVERLOADED")
        assert err.metadata["scope"] == scope
    finally:
        release.set()
    assert (await holding).recipients == (BIN, POLRI)
    second_id = events.parse_header(second_signed.header).event_id
    assert await rejected(efed, second_id) == [
        ("event_rejected", "RESOURCE_EXHAUSTED", "OVERLOADED")]
    [record] = await efed.records(message_id=second_id)
    assert record["provider"] == IMIGRASI
    assert gate.in_flight == 0
    again = await publisher.send(second_signed, retries=0)  # the slot is free again
    assert again.event_id == second_id
    assert not again.duplicate
    assert {code: counted(efed, "g2g_events_published", publisher=IMIGRASI,
                          event_type=HIT_TYPE, code=code, reason=reason)
            for code, reason in (("OK", ""), ("RESOURCE_EXHAUSTED", "OVERLOADED"))} == {
        "OK": 2, "RESOURCE_EXHAUSTED": 1}


async def test_drain_waits_for_a_receipt_in_flight_and_refuses_new_events_calls(
        efed: EventsFed) -> None:
    published = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                       legal_basis=HIT_BASIS)
    bin_client = efed.subscriber(BIN)
    [got] = await first(bin_client)
    bus = bus_of(efed)
    ack = bus.ack
    reached, release = asyncio.Event(), asyncio.Event()

    async def held(token: str) -> None:
        reached.set()
        await release.wait()  # the receipt holds its admission slot here
        await ack(token)

    bus.ack = held  # type: ignore[method-assign]
    acknowledging = asyncio.ensure_future(bin_client.acknowledge(got))
    broker = efed.federation.broker
    try:
        await asyncio.wait_for(reached.wait(), 10)
        draining = asyncio.ensure_future(broker.drain(10))
        assert await _until(lambda: broker.gate.draining)
        refused = signed_hit(efed)
        await expect_error(efed.publisher(IMIGRASI).send(refused, retries=0),
                           grpc.StatusCode.UNAVAILABLE, "DRAINING")
        stream = efed.subscriber(POLRI)._stub.Subscribe(events_pb2.SubscribeRequest())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stream.read()
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert not draining.done()  # the receipt in flight is still held
    finally:
        release.set()
    assert (await acknowledging).event_id == published.event_id
    assert await asyncio.wait_for(draining, 10)
    health = health_pb2_grpc.HealthStub(bin_client._channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service="g2g.v1.Events"))
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    refused_id = events.parse_header(refused.header).event_id
    assert await rejected(efed, refused_id) == [("event_rejected", "UNAVAILABLE", "DRAINING")]
    [sub] = await efed.records(kind="subscribe", consumer=POLRI)
    assert (sub["status_code"], sub["reason"]) == ("UNAVAILABLE", "DRAINING")
    assert len(await efed.records(kind="receipt", message_id=published.event_id)) == 1
