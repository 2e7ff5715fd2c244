"""The Watchlist/Screen handler (no transport): hit cap, total matches and truncation."""

from __future__ import annotations

import pytest
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as pb

from agency_adapters.common.datasets import Fixed
from agency_adapters.immigration import screening, service
from tests.agency_adapters.immigration.test_screening import record

# Fifteen namesakes (a common name) born on different days, and one other person.
NAMESAKES = tuple(record(f"CKL-{i:02}", "Budi Santoso", f"19{60 + i}-02-03") for i in range(15))
LISTED = (*NAMESAKES, record("CKL-99", "Jan van der Berg", "1980-07-14"))
WATCHLIST = service.Watchlist(screening.ScreeningIndex.build(LISTED), listed=len(LISTED))


async def _screen(request: pb.ScreenRequest) -> pb.ScreenResponse:
    answer = await service.screen_handler(Fixed(WATCHLIST))(request, None)  # type: ignore[arg-type]
    assert isinstance(answer, pb.ScreenResponse)
    return answer


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
