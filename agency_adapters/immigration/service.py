"""The immigration adapter (ID/GOV/IMIGRASI): watchlist screening over gRPC via the toolkit.

Translates between the wire messages (g2g.immigration.v1) and the screening
index; never logs names, dates of birth or document numbers. `DATA` declares
the one data set (``watchlist``); `build(data)` takes where the current index
is read from, once per request, so a new watchlist can be swapped in while serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as pb
from g2g_sdk.provider import Call, Handler
from google.protobuf import message as pb_message

from agency_adapters.common.countries import require_assigned
from agency_adapters.common.datasets import AdapterData, Current, Dataset
from agency_adapters.immigration import records as rec
from agency_adapters.immigration import screening, synthetic

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


@cache
def seeded_records() -> tuple[rec.WatchlistRecord, ...]:
    """The default synthetic watchlist (fixed seed), used when no data file is given."""
    return synthetic.generate(DEFAULT_SIZE)


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
        case_reference=record.case_reference)


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


def screen_handler(data: Current[Watchlist]) -> Handler:
    """The Watchlist/Screen handler; reads `data.current` once per request."""

    async def screen(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.ScreenRequest)
        watchlist = data.current
        # max_hits is bounded on the wire (<= 100); 0 means the default.
        found = watchlist.index.search(_query(request), request.max_hits or screening.MAX_HITS)
        return pb.ScreenResponse(
            hits=[pb.Hit(entry_id=h.entry_id, score=round(h.score, 4),
                         matched_fields=list(h.matched_fields), entry=to_entry(h.record))
                  for h in found.hits],
            threshold=watchlist.index.threshold, listed_entries=watchlist.listed,
            total_matches=found.total, truncated=found.truncated)

    return screen


def build(data: Current[Watchlist]) -> Mapping[str, Mapping[str, Handler]]:
    """Handlers of every service ID/GOV/IMIGRASI offers."""
    return {AGENCY_ID: {SCREEN: screen_handler(data)}}
