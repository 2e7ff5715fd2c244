"""Notice search recall on spelling variants, document flags, and batch order (no transport)."""

from __future__ import annotations

from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as pb

from agency_adapters.common.datasets import Fixed
from agency_adapters.interpol import service, synthetic
from agency_adapters.interpol.records import IdentityDocument, NoticeRecord, SltdRecord
from agency_adapters.interpol.search import InterpolIndex, NoticeQuery


def _notice(notice_id: str, name: str, *, category: str = "RED", dob: str = "1975-04-12",
            nationalities: tuple[str, ...] = ("IDN",), documents: tuple[IdentityDocument, ...] = (),
            aliases: tuple[str, ...] = ()) -> NoticeRecord:
    return NoticeRecord(
        notice_id=notice_id, category=category, full_name=name,  # type: ignore[arg-type]
        aliases=aliases, sex="M", date_of_birth=dob, nationalities=nationalities,
        documents=documents, issuing_country="IDN",
        charges=("Fraud",) if category == "RED" else (), issued_on=f"{notice_id[:4]}-03-01",
        valid_until="2030-01-01")


PASSPORT = IdentityDocument("PASSPORT", "B1234567", "IDN")
NOTICES = (
    _notice("2021/101", "Muhammad Yusuf Soeharto", documents=(PASSPORT,)),
    _notice("2022/202", "Siti Aisyah binti Hassan", category="YELLOW", dob="1988",
            nationalities=("MYS",)),
    _notice("2020/303", "Djoko Santoso", category="BLUE", aliases=("Joko Wijaya",)),
    _notice("2019/404", "Jan de Vries", category="GREEN", nationalities=("NLD",)),
)
SLTD = (
    SltdRecord("B1234567", "IDN", "PASSPORT", "STOLEN", "2022-05-01", "IDN"),
    SltdRecord("X7654321", "NLD", "PASSPORT", "LOST", "2023-01-10", "NLD"),
    SltdRecord("X7654321", "NLD", "TRAVEL_DOCUMENT", "REVOKED", "2021-01-10", "NLD"),
)
INDEX = InterpolIndex(NOTICES, SLTD)


def _ids(query: NoticeQuery) -> list[str]:
    return [m.notice_id for m in INDEX.search(query)]


def test_name_variants_find_the_notice() -> None:
    variants = {
        "2021/101": ["Mohammed Yusof Suharto", "MUHAMMAD YUSUF SUHARTO", "Muhamad Yousef Soeharto",
                     "H. Muhammad Yusuf Soeharto, S.H.", "Soeharto Muhammad Yusuf"],
        "2022/202": ["Siti Aishah binti Hasan", "Siti Aisyah Hassan", "siti aisyah"],
        "2020/303": ["Joko Santoso", "Djoko Santosa", "Joko Wijaya"],
        "2019/404": ["Jan De Vries", "Jan Vries", "Ján de Vriës"],
    }
    for notice_id, names in variants.items():
        for name in names:
            assert _ids(NoticeQuery(name))[:1] == [notice_id], name


def test_date_of_birth_and_nationality_raise_the_score_and_are_reported() -> None:
    plain = INDEX.search(NoticeQuery("Muhammad Yusuf Soeharto"))[0]
    full = INDEX.search(NoticeQuery("Muhammad Yusuf Soeharto", "1975-04-12", "IDN"))[0]
    assert full.score > plain.score
    assert full.matched_fields == ("full_name", "date_of_birth", "nationality")
    alias = INDEX.search(NoticeQuery("Joko Wijaya"))[0]
    assert alias.matched_fields[0] == "aliases"


def test_category_filter_and_unrelated_names() -> None:
    assert _ids(NoticeQuery("Djoko Santoso", categories=frozenset({"RED"}))) == []
    assert _ids(NoticeQuery("Djoko Santoso", categories=frozenset({"BLUE", "RED"}))) == [
        "2020/303"]
    assert _ids(NoticeQuery("Hendra Gunawan")) == []


def test_document_linked_to_a_notice_is_flagged_with_its_sltd_status() -> None:
    result = INDEX.check("B1234567", "IDN")
    assert result.linked_notice_id == "2021/101"
    assert result.sltd is not None
    assert result.sltd.status == "STOLEN"
    other_country = INDEX.check("B1234567", "MYS")
    assert (other_country.sltd, other_country.linked_notice_id) == (None, "")


def test_document_type_narrows_the_sltd_match() -> None:
    newest = INDEX.check("X7654321", "NLD")
    assert newest.sltd is not None
    assert newest.sltd.status == "LOST"
    typed = INDEX.check("X7654321", "NLD", "TRAVEL_DOCUMENT")
    assert typed.sltd is not None
    assert typed.sltd.status == "REVOKED"
    assert INDEX.check("X7654321", "NLD", "VISA").sltd is None


async def test_batch_results_follow_request_order() -> None:
    handlers = service.handlers(Fixed(INDEX))
    docs = [("X7654321", "NLD"), ("CLEAN0001", "IDN"), ("B1234567", "IDN"),
            ("CLEAN0001", "IDN")]
    request = pb.DocumentBatchRequest(documents=[
        pb.DocumentCheckRequest(number=n, issuing_country=c) for n, c in docs])
    answer = await handlers[service.CHECK_BATCH](request, None)  # type: ignore[arg-type]
    assert isinstance(answer, pb.DocumentBatchResponse)
    assert [(r.number, r.issuing_country) for r in answer.results] == docs
    assert [r.listed for r in answer.results] == [True, False, True, False]
    assert [r.status for r in answer.results] == [
        pb.DOCUMENT_STATUS_LOST, pb.DOCUMENT_STATUS_UNSPECIFIED, pb.DOCUMENT_STATUS_STOLEN,
        pb.DOCUMENT_STATUS_UNSPECIFIED]
    assert answer.results[2].linked_notice_id == "2021/101"
    assert answer.results[2].date_reported == "2022-05-01"


def test_recall_on_the_seeded_data_set() -> None:
    data = synthetic.generate(600)
    index = InterpolIndex(data.notices, data.sltd)
    found = 0
    for notice in data.notices[:200]:
        upper = notice.full_name.upper()
        hits = index.search(NoticeQuery(upper, notice.date_of_birth))
        found += notice.notice_id in {h.notice_id for h in hits}
    assert found == 200
    linked = [n for n in data.notices if n.documents]
    for notice in linked[:50]:
        doc = notice.documents[0]
        assert index.check(doc.number, doc.issuing_country).linked_notice_id != ""


async def test_a_search_cut_to_the_hit_limit_says_how_many_matched() -> None:
    namesakes = tuple(_notice(f"2023/{500 + i}", "Budi Santoso", dob=f"19{50 + i}-01-01")
                      for i in range(12))
    search = service.handlers(Fixed(InterpolIndex(NOTICES + namesakes, SLTD)))[
        service.SEARCH]
    cut = await search(pb.NoticeSearchRequest(full_name="Budi Santoso"), None)  # type: ignore[arg-type]
    assert isinstance(cut, pb.NoticeSearchResponse)
    assert (len(cut.hits), cut.total_matches, cut.truncated) == (10, 12, True)
    one = await search(pb.NoticeSearchRequest(full_name="Budi Santoso",  # type: ignore[arg-type]
                                              date_of_birth="1953-01-01"), None)
    assert isinstance(one, pb.NoticeSearchResponse)
    assert ([h.notice_id for h in one.hits], one.total_matches, one.truncated) == (
        ["2023/503"], 1, False)


def test_a_cancelled_notice_is_not_found_unless_history_is_asked() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from g2g_sdk.provider import Call

    cancelled = replace(NOTICES[0], status="CANCELLED", status_date="2026-06-01")
    index = InterpolIndex((cancelled, *NOTICES[1:]), SLTD)
    handler = service.handlers(Fixed(index), clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))[
        service.SEARCH]

    async def search(**kwargs: object) -> pb.NoticeSearchResponse:
        request = pb.NoticeSearchRequest(full_name="Muhammad Yusuf Soeharto",
                                         date_of_birth="1975-04-12", **kwargs)  # type: ignore[arg-type]
        answer = await handler(request, Call.__new__(Call))
        assert isinstance(answer, pb.NoticeSearchResponse)
        return answer

    import asyncio
    plain = asyncio.run(search())
    assert (list(plain.hits), plain.total_matches, plain.checked_on) == ([], 0, "2026-12-01")
    history = asyncio.run(search(include_history=True))
    (hit,) = history.hits
    assert (hit.notice_id, hit.standing, hit.in_force) == (
        "2021/101", pb.NOTICE_STANDING_CANCELLED, False)
    assert (hit.notice.status, hit.notice.status_date) == (pb.NOTICE_STATUS_CANCELLED,
                                                           "2026-06-01")


def test_an_sltd_entry_is_listed_from_its_report_until_it_is_cleared() -> None:
    from dataclasses import replace
    from datetime import date

    cleared = replace(SLTD[0], cleared_on="2024-02-01")
    index = InterpolIndex(NOTICES, (cleared, *SLTD[1:]))
    assert index.check("B1234567", "IDN", on=date(2024, 1, 31)).sltd == cleared
    assert index.check("B1234567", "IDN", on=date(2024, 2, 1)).sltd is None
    assert index.check("B1234567", "IDN", on=date(2022, 4, 30)).sltd is None  # not yet reported
    assert index.check("B1234567", "IDN", on=date(2024, 2, 1)).linked_notice_id == "2021/101"
