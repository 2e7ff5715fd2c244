"""End-to-end over mTLS: a screen answers "in force?", the border never sees an expired
order, and history goes only where the sharing policy allows it, audited as such."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from g2g_sdk import envelope
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as pb

from agency_adapters.immigration import orders
from agency_adapters.immigration.records import WatchlistRecord
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error

pytestmark = pytest.mark.asyncio

CUSTOMS = "ID/GOV/BEA-CUKAI"


def _by_name(subject: WatchlistRecord, **kwargs: object) -> pb.ScreenRequest:
    return pb.ScreenRequest(by_name=pb.NameQuery(full_name=subject.full_name,
                                                 date_of_birth=subject.date_of_birth),
                            **kwargs)  # type: ignore[arg-type]


async def _screen(fed: Fed, consumer: str, purpose: str,
                  request: pb.ScreenRequest) -> tuple[pb.ScreenResponse, list[dict[str, object]]]:
    async with fed.client(consumer) as client:
        answer = await client.call(SCREEN, request, purpose=purpose, legal_basis=LEGAL_BASIS)
    assert isinstance(answer.payload, pb.ScreenResponse)
    return answer.payload, await fed.records_for(answer.header.in_reply_to)


async def test_the_border_sees_an_order_in_force_with_its_status_and_not_an_expired_one(
        fed: Fed) -> None:
    today = orders.local_day(datetime.now(UTC)).isoformat()
    in_force, expired = fed.listed_subject, fed.expired_subject
    answer, records = await _screen(fed, CUSTOMS, "border_control", _by_name(in_force))
    (hit,) = [h for h in answer.hits if h.entry_id == in_force.entry_id]
    assert (hit.status, hit.in_force, hit.decisive_date) == (
        pb.ORDER_STATUS_IN_FORCE, True, in_force.valid_until)
    assert hit.entry.valid_until == in_force.valid_until
    assert not hit.entry.decisions  # customs' allow-list mask: no decision references
    # The Jakarta day of the check (a run may cross midnight there).
    assert answer.checked_on in {today, orders.local_day(datetime.now(UTC)).isoformat()}
    assert records[0]["rule_id"] == "imigrasi-watchlist-customs"

    answer, records = await _screen(fed, CUSTOMS, "border_control", _by_name(expired))
    assert expired.entry_id not in [h.entry_id for h in answer.hits]
    assert all(h.in_force and h.status == pb.ORDER_STATUS_IN_FORCE for h in answer.hits)
    assert answer.checked_on in {today, orders.local_day(datetime.now(UTC)).isoformat()}
    assert answer.total_matches == len(answer.hits)
    assert [(r["kind"], r["status_code"]) for r in records] == [("request", ""),
                                                                ("outcome", "OK")]


@pytest.mark.parametrize("consumer", [CUSTOMS, POLRI])
async def test_history_at_the_border_is_denied_by_rule_and_audited(fed: Fed,
                                                                    consumer: str) -> None:
    async with fed.client(consumer) as client:
        env = client.build(SCREEN, _by_name(fed.expired_subject, include_history=True),
                           purpose="border_control", legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.PERMISSION_DENIED,
                                 "POLICY_DENIED")
    assert err.metadata["rule_id"] == "imigrasi-watchlist-border-in-force-only"
    assert err.message.startswith("denied by rule imigrasi-watchlist-border-in-force-only: "
                                  "At the border only orders in force are shown")
    (record,) = await fed.records_for(envelope.parse_header(env).message_id)
    assert (record["kind"], record["decision"], record["status_code"], record["rule_id"]) == (
        "rejected", "deny", "PERMISSION_DENIED", "imigrasi-watchlist-border-in-force-only")


async def test_an_investigator_gets_the_expired_order_as_history_under_the_history_rule(
        fed: Fed) -> None:
    expired = fed.expired_subject
    # Without asking for history, the expired order is not returned to the police either.
    answer, records = await _screen(fed, POLRI, "criminal_investigation", _by_name(expired))
    assert expired.entry_id not in [h.entry_id for h in answer.hits]
    assert records[0]["rule_id"] == "imigrasi-watchlist-law-enforcement"

    answer, records = await _screen(fed, POLRI, "criminal_investigation",
                                    _by_name(expired, include_history=True))
    (hit,) = [h for h in answer.hits if h.entry_id == expired.entry_id]
    assert (hit.status, hit.in_force, hit.decisive_date) == (
        pb.ORDER_STATUS_EXPIRED, False, expired.valid_until)
    assert [d.reference for d in hit.entry.decisions] == [d.reference for d in expired.decisions]
    assert hit.entry.case_reference == ""  # redacted by the rule's mask
    assert [(r["kind"], r["decision"], r["status_code"], r["rule_id"]) for r in records] == [
        ("request", "allow", "", "imigrasi-watchlist-history-investigation"),
        ("outcome", "allow", "OK", "imigrasi-watchlist-history-investigation")]

    # Judged on a day the order bound, it was in force then.
    answer, _ = await _screen(fed, POLRI, "criminal_investigation",
                              _by_name(expired, include_history=True,
                                       as_of=expired.valid_from))
    (hit,) = [h for h in answer.hits if h.entry_id == expired.entry_id]
    assert (answer.checked_on, hit.status) == (expired.valid_from, pb.ORDER_STATUS_IN_FORCE)


async def test_as_of_without_history_is_refused_by_the_adapter(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, _by_name(fed.expired_subject, as_of="2025-01-01"),
                           purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.INVALID_ARGUMENT,
                                 "AS_OF_NEEDS_HISTORY")
    assert err.metadata == {"field": "as_of"}
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "INVALID_ARGUMENT", "AS_OF_NEEDS_HISTORY")]
