"""The three event flows end to end through real NATS JetStream (docs/PROTOCOL.md §9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from g2g_sdk.subscriber import first

from tests.e2e.conftest import expect_error
from tests.e2e.events_fixtures import (
    AU_EMBASSY,
    BIN,
    HIT_BASIS,
    IMIGRASI,
    MY_EMBASSY,
    NL_EMBASSY,
    POLRI,
    EventsFed,
    detention,
    events_fed,
    hit,
)
from tests.jetstream import StreamNames


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
               ) -> AsyncIterator[EventsFed]:
    async for fed in events_fed(tmp_path, pki_dir, stream_names, max_deliver=3,
                                backoff_seconds="[0.5, 0.5, 0.5]"):
        yield fed


async def test_watchlist_hit_reaches_intelligence_and_requesting_police(efed: EventsFed
                                                                        ) -> None:
    result = await efed.publisher(IMIGRASI).publish(hit(), purpose="border_control",
                                                    legal_basis=HIT_BASIS)
    assert result.recipients == (BIN, POLRI)
    assert not result.duplicate
    bin_sub, polri_sub = efed.subscriber(BIN), efed.subscriber(POLRI)
    [at_bin] = await first(bin_sub)
    [at_polri] = await first(polri_sub)
    assert at_bin.event_id == at_polri.event_id == result.event_id
    # Intelligence gets everything but the case reference; the requesting police all of it.
    assert "case_reference" not in at_bin.fields
    assert not at_bin.payload.case_reference
    assert at_bin.payload.full_name == "Maryanto Yudi Wijaya"
    assert at_polri.payload == hit()
    ack = await bin_sub.acknowledge(at_bin)
    await polri_sub.acknowledge(at_polri)
    assert ack.event_id == result.event_id
    records = await efed.records(message_id=result.event_id)
    kinds = [(r["kind"], r["consumer"], r["decision"], r["rule_id"]) for r in records]
    assert kinds[0] == ("event", "", "", "")
    assert sorted(kinds[1:3]) == [("route", BIN, "allow", "events-hit-intelligence"),
                                  ("route", POLRI, "allow", "events-hit-requesting-police")]
    assert kinds[3] == ("event_outcome", "", "", "")
    assert sorted((r["kind"], r["consumer"]) for r in records if r["kind"] in
                  ("delivered", "receipt")) == [
        ("delivered", BIN), ("delivered", POLRI), ("receipt", BIN), ("receipt", POLRI)]
    receipt = next(r for r in records if r["kind"] == "receipt" and r["consumer"] == BIN)
    assert receipt["response_digest"] == ack.receipt_digest.hex()
    assert receipt["request_digest"] == result.event_digest.hex()
    assert all(r["policy_version"] for r in records if r["kind"] == "route")


async def test_detention_notifies_only_the_embassy_of_the_nationality(efed: EventsFed) -> None:
    result = await efed.publisher(IMIGRASI).publish(
        detention("NLD"), purpose="consular_notification", legal_basis="VCCR Art. 36(1)(b)")
    assert result.recipients == (NL_EMBASSY,)
    embassy = efed.subscriber(NL_EMBASSY)
    [event] = await first(embassy)
    assert event.payload.nationality == "NLD"
    assert not event.payload.grounds  # masked until consular access
    await embassy.acknowledge(event)
    routes = await efed.records(message_id=result.event_id, kind="route")
    assert {(r["consumer"], r["decision"], r["rule_id"]) for r in routes} == {
        (NL_EMBASSY, "allow", "events-detention-nl"),
        # The AU embassy's rule exists but its nationality condition does not hold.
        (AU_EMBASSY, "deny", "events-detention-au")}
    [receipt] = await efed.records(message_id=result.event_id, kind="receipt")
    assert (receipt["consumer"], receipt["provider"]) == (NL_EMBASSY, IMIGRASI)


async def test_agency_without_subscription_rule_is_refused(efed: EventsFed) -> None:
    error = await expect_error(first(efed.subscriber(MY_EMBASSY)),
                               grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    assert error.metadata["rule_id"] == "none"
    [record] = await efed.records(kind="subscribe", consumer=MY_EMBASSY)
    assert (record["decision"], record["status_code"], record["reason"]) == (
        "deny", "PERMISSION_DENIED", "POLICY_DENIED")
