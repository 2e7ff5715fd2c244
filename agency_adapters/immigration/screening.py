"""Watchlist screening: listed persons by name (fuzzy) or by document (exact).

Name matching is `agency_adapters.common.matching`; this module binds it to
watchlist records. `ScreeningIndex.search` returns the best hits up to a cap
and how many reached the threshold, so a cut answer can say so.
Pure computation: never logs a name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agency_adapters.common.matching import (
    DEFAULT_THRESHOLD,
    MAX_HITS,
    MAX_HITS_LIMIT,
    NameIndex,
    nationality_score,
)
from agency_adapters.immigration.records import WatchlistRecord

__all__ = [
    "DEFAULT_THRESHOLD", "MAX_HITS", "MAX_HITS_LIMIT", "DocumentQuery", "NameQuery",
    "Screening", "ScreeningHit", "ScreeningIndex",
]


@dataclass(frozen=True, slots=True)
class NameQuery:
    full_name: str
    date_of_birth: str = ""
    nationality: str = ""


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    type: str
    number: str
    issuing_country: str


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    entry_id: str
    score: float
    matched_fields: tuple[str, ...]
    record: WatchlistRecord


@dataclass(frozen=True, slots=True)
class Screening:
    """The best hits (at most the number asked for) and how many reached the threshold."""

    hits: tuple[ScreeningHit, ...]
    total: int

    @property
    def truncated(self) -> bool:
        """More listed persons reached the threshold than are shown (add a date of birth)."""
        return self.total > len(self.hits)


class ScreeningIndex:
    """An immutable index over one watchlist; build once, screen many times."""

    def __init__(self, records: tuple[WatchlistRecord, ...], threshold: float) -> None:
        self.records = records
        self.threshold = threshold
        self._names = NameIndex(
            (ri, field, name, record.date_of_birth) for ri, record in enumerate(records)
            for field, name in (("full_name", record.full_name),
                                *(("aliases", a) for a in record.aliases)))
        # Document number -> its record, or all of them (numbers are nearly unique: an int
        # costs a third of a one-element list).
        self._documents: dict[str, int | list[int]] = {}
        for ri, record in enumerate(records):
            for number in (*(doc.number for doc in record.documents), record.national_id):
                if not number:
                    continue
                held = self._documents.get(number)
                if held is None:
                    self._documents[number] = ri
                elif isinstance(held, int):
                    self._documents[number] = [held, ri]
                else:
                    held.append(ri)

    @classmethod
    def build(cls, records: tuple[WatchlistRecord, ...],
              threshold: float = DEFAULT_THRESHOLD) -> ScreeningIndex:
        return cls(tuple(records), threshold)

    def screen(self, query: NameQuery | DocumentQuery) -> list[ScreeningHit]:
        """Hits at or above the threshold, best first, at most MAX_HITS."""
        return list(self.search(query).hits)

    def search(self, query: NameQuery | DocumentQuery, max_hits: int = MAX_HITS,
               keep: Callable[[WatchlistRecord], bool] | None = None) -> Screening:
        """The best `max_hits` (1..MAX_HITS_LIMIT) hits at or above the threshold, best
        first (ties by entry id), and how many there are in all; only records `keep`
        accepts (e.g. orders in force) are counted and shown."""
        if not 1 <= max_hits <= MAX_HITS_LIMIT:
            raise ValueError(f"max_hits must be 1..{MAX_HITS_LIMIT}, not {max_hits}")
        found = (self._by_document(query) if isinstance(query, DocumentQuery)
                 else self._by_name(query))
        if keep is not None:
            found = [hit for hit in found if keep(hit.record)]
        return Screening(tuple(found[:max_hits]), len(found))

    def _by_document(self, q: DocumentQuery) -> list[ScreeningHit]:
        hits = []
        held = self._documents.get(q.number, ())
        for ri in dict.fromkeys((held,) if isinstance(held, int) else held):
            record = self.records[ri]
            if record.national_id == q.number and q.type == "NATIONAL_ID":
                hits.append(ScreeningHit(record.entry_id, 1.0, ("national_id",), record))
                continue
            for doc in record.documents:
                if doc.number == q.number and doc.issuing_country == q.issuing_country:
                    fields = ["documents.number", "documents.issuing_country"]
                    if doc.type == q.type:
                        fields.append("documents.type")
                    hits.append(ScreeningHit(record.entry_id, 1.0, tuple(fields), record))
                    break
        return hits

    def _by_name(self, q: NameQuery) -> list[ScreeningHit]:
        def facts(ri: int) -> tuple[str, float]:
            record = self.records[ri]
            return record.date_of_birth, nationality_score(q.nationality, (record.nationality,))

        found = self._names.search(q.full_name, q.date_of_birth, self.threshold, facts)
        hits = [ScreeningHit(self.records[ri].entry_id, score, fields, self.records[ri])
                for ri, (score, fields) in found.items()]
        return sorted(hits, key=lambda h: (-h.score, h.entry_id))
