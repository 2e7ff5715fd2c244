"""End-to-end: Watchlist/Screen's hit cap through the real broker (mTLS, signed answers).

A name with namesakes on the seeded list, asked with max_hits=1, comes back cut
to one hit with total_matches and truncated set; a cap above 100 is refused by
the broker's schema step and audited.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import grpc
import pytest
from g2g_sdk import envelope
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2

from agency_adapters.immigration import orders, screening
from agency_adapters.immigration.service import seeded_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error

pytestmark = pytest.mark.asyncio


def _common_name() -> tuple[str, int]:
    """The seeded list's most repeated full name and how many listed persons under an
    order in force today it matches (a screen returns only those)."""
    name, _ = Counter(r.full_name for r in seeded_records()).most_common(1)[0]
    today = orders.local_day(datetime.now(UTC))
    total = screening.ScreeningIndex.build(seeded_records()).search(
        screening.NameQuery(name), screening.MAX_HITS_LIMIT,
        keep=lambda r: r.standing(today).in_force).total
    assert total >= 2
    return name, total


async def test_a_cut_answer_says_how_many_matched(fed: Fed) -> None:
    name, total = _common_name()
    request = watchlist_pb2.ScreenRequest(by_name=watchlist_pb2.NameQuery(full_name=name),
                                          max_hits=1)
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, request, purpose="criminal_investigation",
                                   legal_basis=LEGAL_BASIS)
    assert isinstance(answer.payload, watchlist_pb2.ScreenResponse)
    assert len(answer.payload.hits) == 1
    assert (answer.payload.total_matches, answer.payload.truncated) == (total, True)


async def test_a_cap_above_100_is_refused_by_the_schema_and_audited(fed: Fed) -> None:
    request = watchlist_pb2.ScreenRequest(
        by_name=watchlist_pb2.NameQuery(full_name="Budi Santoso"), max_hits=101)
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, request, purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.INVALID_ARGUMENT,
                                 "CONSTRAINT_VIOLATION")
    assert err.metadata == {"field": "max_hits", "rule": "uint32.lte"}
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("rejected", "INVALID_ARGUMENT", "CONSTRAINT_VIOLATION")]
