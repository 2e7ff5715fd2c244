"""The Interpol-style adapter (INT/IO/INTERPOL): notices and travel-document checks.

Translates between the wire messages (g2g.interpol.v1) and `search.InterpolIndex`;
never logs names, dates of birth or document numbers. `DATA` declares the
data sets (``notices``, ``sltd``); `build(data)` takes where the current index
is read from, once per request, so new data can be swapped in while serving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import cache

import grpc
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as pb
from g2g_sdk.errors import ProviderRejected
from g2g_sdk.provider import Call, Handler
from google.protobuf import message as pb_message

from agency_adapters.common.calendar import local_day
from agency_adapters.common.countries import require_assigned
from agency_adapters.common.datasets import AdapterData, Current, Dataset, Records
from agency_adapters.interpol import records as rec
from agency_adapters.interpol import synthetic
from agency_adapters.interpol.search import InterpolIndex, NoticeQuery

AGENCY_ID = "INT/IO/INTERPOL"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"
CHECK_BATCH = "g2g.interpol.v1.TravelDocuments/CheckBatch"
SEARCH = "g2g.interpol.v1.Notices/Search"
GET = "g2g.interpol.v1.Notices/Get"

# Record enumerations to wire enums by name (the wire adds a prefix, e.g. NOTICE_CATEGORY_).
_DOC_TYPES: dict[str, pb.DocumentType] = {
    name: getattr(pb, f"DOCUMENT_TYPE_{name}") for name in rec.DOCUMENT_TYPES}
_DOC_NAMES = {v: k for k, v in _DOC_TYPES.items()}
_STATUSES: dict[str, pb.DocumentStatus] = {
    name: getattr(pb, f"DOCUMENT_STATUS_{name}") for name in rec.DOCUMENT_STATUSES}
_CATEGORIES: dict[str, pb.NoticeCategory] = {
    name: getattr(pb, f"NOTICE_CATEGORY_{name}") for name in rec.CATEGORIES}
_CATEGORY_NAMES = {v: k for k, v in _CATEGORIES.items()}
_NOTICE_STATUSES = {"ACTIVE": pb.NOTICE_STATUS_ACTIVE, "CANCELLED": pb.NOTICE_STATUS_CANCELLED,
                    "WITHDRAWN": pb.NOTICE_STATUS_WITHDRAWN}
_STANDINGS = {"IN_FORCE": pb.NOTICE_STANDING_IN_FORCE, "EXPIRED": pb.NOTICE_STANDING_EXPIRED,
              "CANCELLED": pb.NOTICE_STANDING_CANCELLED,
              "WITHDRAWN": pb.NOTICE_STANDING_WITHDRAWN,
              "NOT_YET_IN_FORCE": pb.NOTICE_STANDING_NOT_YET_IN_FORCE}


@cache
def seeded_data() -> synthetic.Dataset:
    """The default synthetic data set (fixed seed), used for data sets without a file."""
    return synthetic.generate()


def _generate(size: int, seed: int) -> Records:
    data = synthetic.generate(size, seed)
    return {"notices": data.notices, "sltd": data.sltd}


DATA: AdapterData[InterpolIndex] = AdapterData(
    datasets=(Dataset("notices", rec.NOTICES, lambda: seeded_data().notices),
              Dataset("sltd", rec.SLTD, lambda: seeded_data().sltd)),
    index=lambda records: InterpolIndex(records["notices"], records["sltd"]),
    generate=_generate, default_size=synthetic.DEFAULT_SIZE, default_seed=synthetic.SEED)
"""Notices and SLTD entries; see docs/DATA.md."""


def to_notice(record: rec.NoticeRecord) -> pb.Notice:
    return pb.Notice(
        notice_id=record.notice_id, category=_CATEGORIES[record.category],
        identity=pb.Identity(
            full_name=record.full_name, aliases=list(record.aliases), sex=record.sex,
            date_of_birth=record.date_of_birth, nationalities=list(record.nationalities),
            documents=[pb.IdentityDocument(type=_DOC_TYPES[d.type], number=d.number,
                                           issuing_country=d.issuing_country)
                       for d in record.documents]),
        issuing_country=record.issuing_country, charges=list(record.charges),
        issued_on=record.issued_on, valid_until=record.valid_until,
        status=_NOTICE_STATUSES[record.status], status_date=record.status_date)


def check_document(index: InterpolIndex, request: pb.DocumentCheckRequest, on: date,
                   field: str = "issuing_country") -> pb.DocumentCheckResponse:
    require_assigned(field, request.issuing_country)
    result = index.check(request.number, request.issuing_country,
                         _DOC_NAMES.get(request.document_type, ""), on)
    answer = pb.DocumentCheckResponse(number=result.number,
                                      issuing_country=result.issuing_country,
                                      linked_notice_id=result.linked_notice_id,
                                      checked_on=on.isoformat())
    if result.sltd is not None:
        answer.listed = True
        answer.status = _STATUSES[result.sltd.status]
        answer.date_reported = result.sltd.date_reported
        answer.reporting_country = result.sltd.reporting_country
    return answer


def _now() -> datetime:
    return datetime.now(UTC)


def handlers(data: Current[InterpolIndex],
             clock: Callable[[], datetime] = _now) -> dict[str, Handler]:
    """The four handlers of INT/IO/INTERPOL; each reads `data.current` once per request
    and judges dates on the Jakarta day of the check."""

    async def check(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.DocumentCheckRequest)
        return check_document(data.current, request, local_day(clock()))

    async def check_batch(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.DocumentBatchRequest)
        index, on = data.current, local_day(clock())  # one data set and day for the batch
        return pb.DocumentBatchResponse(
            results=[check_document(index, doc, on, f"documents[{i}].issuing_country")
                     for i, doc in enumerate(request.documents)])

    async def search(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.NoticeSearchRequest)
        require_assigned("nationality", request.nationality)
        index = data.current
        query = NoticeQuery(
            full_name=request.full_name, date_of_birth=request.date_of_birth,
            nationality=request.nationality,
            categories=frozenset(_CATEGORY_NAMES[c] for c in request.categories))
        on = local_day(clock())

        def in_force(notice: rec.NoticeRecord) -> bool:
            return notice.standing(on) == "IN_FORCE"

        # A cancelled or withdrawn red notice is no ground to hold anyone: only notices
        # in force, unless history was asked for (and the policy let the request through).
        shown, total = index.find(query, keep=None if request.include_history else in_force)
        hits = []
        for m in shown:
            standing = m.record.standing(on)
            hits.append(pb.NoticeHit(notice_id=m.notice_id, score=m.score,
                                     matched_fields=list(m.matched_fields),
                                     notice=to_notice(m.record),
                                     standing=_STANDINGS[standing],
                                     in_force=standing == "IN_FORCE"))
        return pb.NoticeSearchResponse(
            hits=hits, threshold=index.threshold, total_matches=total,
            truncated=total > len(shown), checked_on=on.isoformat())

    async def get(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.GetNoticeRequest)
        record = data.current.by_id.get(request.notice_id)
        if record is None:
            raise ProviderRejected("no notice with this identifier",
                                   code=grpc.StatusCode.NOT_FOUND, reason="NOTICE_NOT_FOUND")
        return to_notice(record)

    return {CHECK: check, CHECK_BATCH: check_batch, SEARCH: search, GET: get}


def build(data: Current[InterpolIndex]) -> Mapping[str, Mapping[str, Handler]]:
    """Handlers of every service INT/IO/INTERPOL offers."""
    return {AGENCY_ID: handlers(data)}
