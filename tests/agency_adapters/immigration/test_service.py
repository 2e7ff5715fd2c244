"""The Watchlist/Screen handler (no transport): hit cap, total matches and truncation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import grpc
import pytest
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as pb
from g2g_sdk.errors import ProviderRejected

from agency_adapters.common.datasets import Fixed
from agency_adapters.immigration import screening, service
from tests.agency_adapters.immigration.test_screening import record

# Fifteen namesakes (a common name) born on different days, and one other person.
NAMESAKES = tuple(record(f"CKL-{i:02}", "Budi Santoso", f"19{60 + i}-02-03") for i in range(15))
LISTED = (*NAMESAKES, record("CKL-99", "Jan van der Berg", "1980-07-14"))
WATCHLIST = service.Watchlist(screening.ScreeningIndex.build(LISTED), listed=len(LISTED))


# 2026-12-01 08:00 in Jakarta: the test records' orders run 2025-01-01..2026-12-31.
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


async def _screen(request: pb.ScreenRequest,
                  watchlist: service.Watchlist = WATCHLIST) -> pb.ScreenResponse:
    handler = service.screen_handler(Fixed(watchlist), clock=lambda: NOW)
    answer = await handler(request, None)  # type: ignore[arg-type]
    assert isinstance(answer, pb.ScreenResponse)
    return answer


# The same person under four orders: in force, expired, lifted, decided for next month.
ORDERS = (
    record("CKL-A-IN-FORCE", "Rudi Hartono Siregar", "1970-05-06"),
    replace(record("CKL-B-EXPIRED", "Rudi Hartono Siregar", "1970-05-06"),
            valid_from="2025-01-01", valid_until="2025-06-30"),
    replace(record("CKL-C-LIFTED", "Rudi Hartono Siregar", "1970-05-06"),
            lifted_on="2026-03-01"),
    replace(record("CKL-D-NOT-YET", "Rudi Hartono Siregar", "1970-05-06"),
            valid_from="2026-12-15", valid_until="2027-06-14"),
)
HISTORY = service.Watchlist(screening.ScreeningIndex.build(ORDERS), listed=len(ORDERS))
RUDI = pb.NameQuery(full_name="Rudi Hartono Siregar", date_of_birth="1970-05-06")


async def test_by_default_only_orders_in_force_are_returned_and_counted() -> None:
    answer = await _screen(pb.ScreenRequest(by_name=RUDI), HISTORY)
    assert [(h.entry_id, h.status, h.in_force, h.decisive_date) for h in answer.hits] == [
        ("CKL-A-IN-FORCE", pb.ORDER_STATUS_IN_FORCE, True, "2026-12-31")]
    assert (answer.total_matches, answer.truncated, answer.checked_on) == (1, False, "2026-12-01")


async def test_history_returns_every_order_with_its_status_and_decisive_date() -> None:
    answer = await _screen(pb.ScreenRequest(by_name=RUDI, include_history=True), HISTORY)
    assert [(h.entry_id, h.status, h.in_force, h.decisive_date) for h in answer.hits] == [
        ("CKL-A-IN-FORCE", pb.ORDER_STATUS_IN_FORCE, True, "2026-12-31"),
        ("CKL-B-EXPIRED", pb.ORDER_STATUS_EXPIRED, False, "2025-06-30"),
        ("CKL-C-LIFTED", pb.ORDER_STATUS_LIFTED, False, "2026-03-01"),
        ("CKL-D-NOT-YET", pb.ORDER_STATUS_NOT_YET_IN_FORCE, False, "2026-12-15")]
    assert answer.hits[2].entry.lifted_on == "2026-03-01"
    assert answer.total_matches == 4


async def test_as_of_judges_orders_on_another_day() -> None:
    answer = await _screen(pb.ScreenRequest(by_name=RUDI, include_history=True,
                                            as_of="2025-03-01"), HISTORY)
    assert answer.checked_on == "2025-03-01"
    assert [h.entry_id for h in answer.hits if h.in_force] == [
        "CKL-A-IN-FORCE", "CKL-B-EXPIRED", "CKL-C-LIFTED"]


@pytest.mark.parametrize(("request_", "reason"), [
    (pb.ScreenRequest(by_name=RUDI, as_of="2025-03-01"), "AS_OF_NEEDS_HISTORY"),
    (pb.ScreenRequest(by_name=RUDI, as_of="2025-02-30", include_history=True), "INVALID_DATE"),
])
async def test_as_of_without_history_or_not_a_date_is_refused(request_: pb.ScreenRequest,
                                                               reason: str) -> None:
    with pytest.raises(ProviderRejected) as info:
        await _screen(request_, HISTORY)
    assert (info.value.code, info.value.reason, info.value.metadata) == (
        grpc.StatusCode.INVALID_ARGUMENT, reason, {"field": "as_of"})


async def test_a_common_name_without_birth_date_says_the_answer_is_cut() -> None:
    answer = await _screen(pb.ScreenRequest(by_name=pb.NameQuery(full_name="Budi Santoso")))
    assert [h.entry_id for h in answer.hits] == [f"CKL-{i:02}" for i in range(10)]
    assert (answer.total_matches, answer.truncated, answer.listed_entries) == (15, True, 16)


@pytest.mark.parametrize(("max_hits", "shown", "truncated"), [(20, 15, False), (15, 15, False),
                                                               (3, 3, True), (0, 10, True)])
async def test_max_hits_sets_how_many_are_shown(max_hits: int, shown: int,
                                                truncated: bool) -> None:
    answer = await _screen(pb.ScreenRequest(by_name=pb.NameQuery(full_name="Budi Santoso"),
                                            max_hits=max_hits))
    assert (len(answer.hits), answer.total_matches, answer.truncated) == (shown, 15, truncated)


async def test_a_birth_date_narrows_the_answer_to_one_untruncated_hit() -> None:
    answer = await _screen(pb.ScreenRequest(by_name=pb.NameQuery(
        full_name="Budi Santoso", date_of_birth="1967-02-03")))
    assert [h.entry_id for h in answer.hits] == ["CKL-07"]
    assert (answer.total_matches, answer.truncated) == (1, False)


async def test_a_document_answer_counts_its_matches() -> None:
    answer = await _screen(pb.ScreenRequest(by_document=pb.DocumentQuery(
        type=pb.DOCUMENT_TYPE_PASSPORT, number="B1234567", issuing_country="IDN")))
    assert len(answer.hits) == 10
    assert (answer.total_matches, answer.truncated) == (16, True)


def test_search_refuses_a_cap_outside_its_bounds() -> None:
    query = screening.NameQuery("Budi Santoso")
    for bad in (0, screening.MAX_HITS_LIMIT + 1):
        with pytest.raises(ValueError, match="max_hits"):
            WATCHLIST.index.search(query, bad)
    assert len(WATCHLIST.index.search(query, screening.MAX_HITS_LIMIT).hits) == 15
