"""End-to-end: Interpol-style notices and document checks through the real broker (mTLS)."""

from __future__ import annotations

import grpc
import pytest
from g2g_sdk import pki
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as pb

from agency_adapters.common import calendar
from agency_adapters.interpol.service import seeded_data
from broker.audit.subjects import document_key, name_dob_key
from tests.e2e.conftest import POLRI, Fed, expect_error

pytestmark = pytest.mark.asyncio

IMIGRASI = "ID/GOV/IMIGRASI"
SEARCH = "g2g.interpol.v1.Notices/Search"
GET = "g2g.interpol.v1.Notices/Get"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"
CHECK_BATCH = "g2g.interpol.v1.TravelDocuments/CheckBatch"


def _red_notice_with_document() -> tuple[str, str, str, str, str]:
    notice = next(n for n in seeded_data().notices
                  if n.category == "RED" and n.documents and n.date_of_birth
                  and n.standing(calendar.today()) == "IN_FORCE")
    doc = notice.documents[0]
    return notice.notice_id, notice.full_name, notice.date_of_birth, doc.number, \
        doc.issuing_country


async def test_police_find_a_red_notice_by_a_name_variant_and_read_it(fed: Fed) -> None:
    notice_id, name, dob, _, _ = _red_notice_with_document()
    async with fed.client(POLRI) as client:
        answer = await client.call(
            SEARCH, pb.NoticeSearchRequest(full_name=name.upper(), date_of_birth=dob,
                                           categories=[pb.NOTICE_CATEGORY_RED]),
            purpose="criminal_investigation")
        assert answer.header.sender == "INT/IO/INTERPOL"
        assert isinstance(answer.payload, pb.NoticeSearchResponse)
        hit = next(h for h in answer.payload.hits if h.notice_id == notice_id)
        assert "date_of_birth" in hit.matched_fields
        assert hit.notice.category == pb.NOTICE_CATEGORY_RED
        assert list(hit.notice.charges)
        got = await client.call(GET, pb.GetNoticeRequest(notice_id=notice_id),
                                purpose="criminal_investigation")
    assert isinstance(got.payload, pb.Notice)
    assert got.payload == hit.notice
    secret = pki.load_log_secret(fed.pki_dir)
    (request_record, _) = await fed.records_for(answer.header.in_reply_to)
    assert request_record["subject_keys"] == [name_dob_key(secret, name.upper(), dob)]


async def test_unknown_notice_is_not_found(fed: Fed) -> None:
    async with fed.client("ID/GOV/BIN") as client:
        await expect_error(client.call(GET, pb.GetNoticeRequest(notice_id="1999/1"),
                                       purpose="border_control"),
                           grpc.StatusCode.NOT_FOUND, "NOTICE_NOT_FOUND")


async def test_immigration_batch_check_keeps_order_and_flags_the_linked_notice(fed: Fed) -> None:
    notice_id, _, _, number, country = _red_notice_with_document()
    listed = seeded_data().sltd[-1]
    docs = [(listed.number, listed.issuing_country), ("ZZ0000000", "IDN"), (number, country)]
    async with fed.client(IMIGRASI) as client:
        answer = await client.call(
            CHECK_BATCH, pb.DocumentBatchRequest(documents=[
                pb.DocumentCheckRequest(number=n, issuing_country=c) for n, c in docs]),
            purpose="border_control")
    assert isinstance(answer.payload, pb.DocumentBatchResponse)
    results = answer.payload.results
    assert [(r.number, r.issuing_country) for r in results] == docs
    assert results[0].listed
    assert results[0].date_reported == listed.date_reported
    assert not results[1].listed
    assert results[1].linked_notice_id == ""
    assert results[2].linked_notice_id == notice_id


async def test_document_check_subject_hash_matches_the_watchlist_document_kind(fed: Fed) -> None:
    listed = seeded_data().sltd[0]
    async with fed.client(IMIGRASI) as client:
        answer = await client.call(
            CHECK, pb.DocumentCheckRequest(number=listed.number,
                                           issuing_country=listed.issuing_country),
            purpose="border_control")
    assert isinstance(answer.payload, pb.DocumentCheckResponse)
    assert answer.payload.listed
    secret = pki.load_log_secret(fed.pki_dir)
    (request_record, _) = await fed.records_for(answer.header.in_reply_to)
    assert request_record["subject_keys"] == [document_key(secret, listed.number)]


async def test_immigration_may_not_search_notices_for_an_investigation(fed: Fed) -> None:
    async with fed.client(IMIGRASI) as client:
        err = await expect_error(
            client.call(SEARCH, pb.NoticeSearchRequest(full_name="Budi Santoso"),
                        purpose="criminal_investigation"),
            grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    assert err.metadata["rule_id"] == "none"


async def test_empty_or_oversized_batch_is_refused_by_the_schema(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        empty = await expect_error(
            client.call(CHECK_BATCH, pb.DocumentBatchRequest(), purpose="criminal_investigation"),
            grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
        too_many = pb.DocumentBatchRequest(documents=[
            pb.DocumentCheckRequest(number=f"A{i:07d}", issuing_country="IDN")
            for i in range(1001)])
        oversized = await expect_error(
            client.call(CHECK_BATCH, too_many, purpose="criminal_investigation"),
            grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert empty.metadata == {"field": "documents", "rule": "repeated.min_items"}
    assert oversized.metadata == {"field": "documents", "rule": "repeated.max_items"}


async def test_a_cancelled_red_notice_is_history_for_investigators_only(fed: Fed) -> None:
    today = calendar.today()
    names = [n.full_name for n in seeded_data().notices]
    notice = next(n for n in seeded_data().notices
                  if n.category == "RED" and n.date_of_birth and n.standing(today) == "CANCELLED"
                  and names.count(n.full_name) == 1)
    request = pb.NoticeSearchRequest(full_name=notice.full_name, date_of_birth=notice.date_of_birth)
    async with fed.client(POLRI) as client:
        plain = await client.call(SEARCH, request, purpose="criminal_investigation")
        request.include_history = True
        history = await client.call(SEARCH, request, purpose="criminal_investigation")
    assert isinstance(plain.payload, pb.NoticeSearchResponse)
    assert notice.notice_id not in [h.notice_id for h in plain.payload.hits]
    assert plain.payload.checked_on in {today.isoformat(), calendar.today().isoformat()}
    assert isinstance(history.payload, pb.NoticeSearchResponse)
    (hit,) = [h for h in history.payload.hits if h.notice_id == notice.notice_id]
    assert (hit.standing, hit.in_force, hit.notice.status, hit.notice.status_date) == (
        pb.NOTICE_STANDING_CANCELLED, False, pb.NOTICE_STATUS_CANCELLED, notice.status_date)
    records = await fed.records_for(history.header.in_reply_to)
    assert {r["rule_id"] for r in records} == {"interpol-notices-history-investigation"}

    async with fed.client(IMIGRASI) as client:
        err = await expect_error(client.call(SEARCH, request, purpose="border_control"),
                                 grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    assert err.metadata["rule_id"] == "interpol-notices-border-in-force-only"
