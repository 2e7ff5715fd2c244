"""Watchlist screening: listed persons by name (fuzzy) or by document (exact).

Name matching is `agency_adapters.common.matching`; this module binds it to
watchlist records. `ScreeningIndex.search` returns the best hits up to a cap
and how many reached the threshold, so a cut answer can say so.
Pure computation: never logs a name.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

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


# The document lookup: one sorted 64-bit value per document number, the number's hash
# above `_RECORD_BITS` bits of its record's index. A dict of number -> record held a
# key string and an int object per number (about 100 bytes; 8 here); a hash that two
# numbers share only costs a look at one more record, which `_by_document` checks.
_RECORD_BITS: Final = 28
_RECORD_MASK: Final = (1 << _RECORD_BITS) - 1
_HASH_MASK: Final = (1 << 64) - 1 - _RECORD_MASK


def _document_index(records: Sequence[WatchlistRecord]) -> array[int]:
    if len(records) > _RECORD_MASK:
        raise ValueError(f"at most {_RECORD_MASK} records can be indexed")
    values = [hash(number) & _HASH_MASK | ri for ri, record in enumerate(records)
              for number in (*record.document_numbers(), record.national_id) if number]
    values.sort()
    return array("Q", values)


def _holders(index: array[int], number: str) -> list[int]:
    """Indexes of the records that may hold document `number`, ascending, each once."""
    key = hash(number) & _HASH_MASK
    out: list[int] = []
    at = bisect_left(index, key)
    while at < len(index) and index[at] & _HASH_MASK == key:
        ri = index[at] & _RECORD_MASK
        if not out or out[-1] != ri:
            out.append(ri)
        at += 1
    return out


class ScreeningIndex:
    """An immutable index over one watchlist; build once, screen many times."""

    def __init__(self, records: tuple[WatchlistRecord, ...], threshold: float) -> None:
        self.records = records
        self.threshold = threshold
        # Documents first: their sorting garbage is gone before the name index grows.
        self._documents = _document_index(records)
        self._names = NameIndex(
            (ri, "aliases" if k else "full_name", name, record.date_of_birth)
            for ri, record in enumerate(records) for k, name in enumerate(record.names()))

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
        for ri in _holders(self._documents, q.number):
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
