"""The immigration adapter (ID/GOV/IMIGRASI): watchlist screening over gRPC via the toolkit.

Translates between the wire messages (g2g.immigration.v1) and the screening
index; never logs names, dates of birth or document numbers. `DATA` declares
the one data set (``watchlist``); `build(data)` takes where the current index
is read from, once per request, so a new watchlist can be swapped in while serving.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

import grpc
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as pb
from g2g_sdk.errors import ProviderRejected
from g2g_sdk.provider import Call, Handler
from google.protobuf import message as pb_message

from agency_adapters.common import calendar
from agency_adapters.common.countries import require_assigned
from agency_adapters.common.datasets import AdapterData, Current, Dataset
from agency_adapters.immigration import orders, screening, synthetic
from agency_adapters.immigration import records as rec

AGENCY_ID = "ID/GOV/IMIGRASI"
SCREEN = "g2g.immigration.v1.Watchlist/Screen"
DEFAULT_SIZE = 5_000

_DOC_TYPES = {
    "PASSPORT": pb.DOCUMENT_TYPE_PASSPORT,
    "NATIONAL_ID": pb.DOCUMENT_TYPE_NATIONAL_ID,
    "TRAVEL_DOCUMENT": pb.DOCUMENT_TYPE_TRAVEL_DOCUMENT,
}
_DOC_NAMES = {v: k for k, v in _DOC_TYPES.items()}
_BAN_TYPES = {"EXIT_PREVENTION": pb.BAN_TYPE_EXIT_PREVENTION,
              "ENTRY_REFUSAL": pb.BAN_TYPE_ENTRY_REFUSAL}
_STATUSES = {"IN_FORCE": pb.ORDER_STATUS_IN_FORCE, "EXPIRED": pb.ORDER_STATUS_EXPIRED,
             "LIFTED": pb.ORDER_STATUS_LIFTED,
             "NOT_YET_IN_FORCE": pb.ORDER_STATUS_NOT_YET_IN_FORCE}
_KINDS = {"ISSUED": pb.DECISION_KIND_ISSUED, "EXTENDED": pb.DECISION_KIND_EXTENDED,
          "LIFTED": pb.DECISION_KIND_LIFTED}


@cache
def seeded_records() -> tuple[rec.WatchlistRecord, ...]:
    """The default synthetic watchlist (fixed seed, dated relative to the reference day:
    `calendar.reference_date()`), used when no data file is given."""
    return synthetic.generate(DEFAULT_SIZE)


def seeded_example(status: str, on: date | None = None) -> rec.WatchlistRecord:
    """The first seeded entry whose order has `status` on day `on` (default: the seed's
    reference day) and whose name and date of birth no other entry shares (so a screen
    by both finds exactly it): the demo's, README's and tests' examples.

    The seeded statuses depend only on the seed, not on the reference day.
    """
    day = on or calendar.reference_date()
    listed = seeded_records()
    counts = Counter((r.full_name, r.date_of_birth) for r in listed)
    return next(r for r in listed if counts[(r.full_name, r.date_of_birth)] == 1
                and r.standing(day).status == status)


@dataclass(frozen=True)
class Watchlist:
    """The screening index over one watchlist and how many entries it holds."""

    index: screening.ScreeningIndex
    listed: int


DATA: AdapterData[Watchlist] = AdapterData(
    datasets=(Dataset("watchlist", rec.WATCHLIST, seeded_records),),
    index=lambda records: Watchlist(screening.ScreeningIndex.build(records["watchlist"]),
                                    len(records["watchlist"])),
    generate=lambda size, seed: {"watchlist": synthetic.generate(size, seed)},
    default_size=DEFAULT_SIZE, default_seed=synthetic.SEED)
"""The cekal watchlist; see docs/DATA.md."""


def to_entry(record: rec.WatchlistRecord) -> pb.WatchlistEntry:
    return pb.WatchlistEntry(
        entry_id=record.entry_id, full_name=record.full_name, aliases=list(record.aliases),
        date_of_birth=record.date_of_birth, sex=record.sex, nationality=record.nationality,
        documents=[pb.IdentityDocument(type=_DOC_TYPES[d.type], number=d.number,
                                       issuing_country=d.issuing_country)
                   for d in record.documents],
        national_id=record.national_id, ban_type=_BAN_TYPES[record.ban_type],
        legal_basis=record.legal_basis, issuing_authority=record.issuing_authority,
        valid_from=record.valid_from, valid_until=record.valid_until,
        case_reference=record.case_reference, lifted_on=record.lifted_on,
        decisions=[pb.Decision(kind=_KINDS[d.kind], reference=d.reference,
                               decided_on=d.decided_on, valid_from=d.valid_from,
                               valid_until=d.valid_until) for d in record.decisions])


def _checked_on(request: pb.ScreenRequest, clock: Callable[[], datetime]) -> date:
    """The day orders are judged on: the request's as_of (history only), else today."""
    if not request.as_of:
        return orders.local_day(clock())
    if not request.include_history:
        raise ProviderRejected("as_of needs include_history: judging orders on another day "
                               "is a history question", code=grpc.StatusCode.INVALID_ARGUMENT,
                               reason="AS_OF_NEEDS_HISTORY", metadata={"field": "as_of"})
    try:
        return date.fromisoformat(request.as_of)
    except ValueError:
        raise ProviderRejected("as_of is not a calendar date",
                               code=grpc.StatusCode.INVALID_ARGUMENT, reason="INVALID_DATE",
                               metadata={"field": "as_of"}) from None


def _query(request: pb.ScreenRequest) -> screening.NameQuery | screening.DocumentQuery:
    if request.HasField("by_document"):
        doc = request.by_document
        require_assigned("by_document.issuing_country", doc.issuing_country)
        return screening.DocumentQuery(type=_DOC_NAMES[doc.type], number=doc.number,
                                       issuing_country=doc.issuing_country)
    name = request.by_name
    require_assigned("by_name.nationality", name.nationality)
    return screening.NameQuery(full_name=name.full_name, date_of_birth=name.date_of_birth,
                               nationality=name.nationality)


def _now() -> datetime:
    return datetime.now(UTC)


def screen_handler(data: Current[Watchlist], clock: Callable[[], datetime] = _now) -> Handler:
    """The Watchlist/Screen handler; reads `data.current` once per request.

    Only orders in force on the day of the check are returned, unless the request
    asks for history (which the broker's policy allowed for this consumer and
    purpose, or the request would not be here).
    """

    async def screen(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.ScreenRequest)
        watchlist = data.current
        on = _checked_on(request, clock)
        query = _query(request)

        def in_force(record: rec.WatchlistRecord) -> bool:
            return record.standing(on).in_force

        # max_hits is bounded on the wire (<= 100); 0 means the default.
        found = watchlist.index.search(query, request.max_hits or screening.MAX_HITS,
                                       keep=None if request.include_history else in_force)
        hits = []
        for h in found.hits:
            status = h.record.standing(on)
            hits.append(pb.Hit(entry_id=h.entry_id, score=round(h.score, 4),
                               matched_fields=list(h.matched_fields), entry=to_entry(h.record),
                               status=_STATUSES[status.status], in_force=status.in_force,
                               decisive_date=status.decisive_date))
        return pb.ScreenResponse(
            hits=hits, threshold=watchlist.index.threshold, listed_entries=watchlist.listed,
            total_matches=found.total, truncated=found.truncated, checked_on=on.isoformat())

    return screen


def build(data: Current[Watchlist]) -> Mapping[str, Mapping[str, Handler]]:
    """Handlers of every service ID/GOV/IMIGRASI offers."""
    return {AGENCY_ID: {SCREEN: screen_handler(data)}}
