"""Notice name search and document checks over loaded Interpol-style data.

Name search is the shared `agency_adapters.common.matching.NameIndex` (same
normalisation, token-pair and birth-year blocking, scoring, weights and
threshold); only the record shape differs (several nationalities, an optional
date of birth, a category filter), which `search` passes in as per-record facts.
Document checks are exact lookups. Pure computation: never logs a name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from agency_adapters.common.matching import (
    DEFAULT_THRESHOLD,
    MAX_HITS,
    NameIndex,
    nationality_score,
)
from agency_adapters.interpol.records import NoticeRecord, SltdRecord


@dataclass(frozen=True, slots=True)
class NoticeQuery:
    full_name: str
    date_of_birth: str = ""
    nationality: str = ""
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NoticeMatch:
    notice_id: str
    score: float
    matched_fields: tuple[str, ...]
    record: NoticeRecord


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """The answer for one document: its SLTD entry (if any) and a linked notice (if any)."""

    number: str
    issuing_country: str
    sltd: SltdRecord | None
    linked_notice_id: str


class InterpolIndex:
    """Immutable indexes over one data set; build once, query many times."""

    def __init__(self, notices: tuple[NoticeRecord, ...], sltd: tuple[SltdRecord, ...],
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.notices = notices
        self.sltd = sltd
        self.threshold = threshold
        self.by_id = {n.notice_id: n for n in notices}
        self._sltd: dict[tuple[str, str], list[SltdRecord]] = defaultdict(list)
        self._linked: dict[tuple[str, str], str] = {}
        self._names = NameIndex(
            (ri, field, name, notice.date_of_birth) for ri, notice in enumerate(notices)
            for field, name in (("full_name", notice.full_name),
                                *(("aliases", a) for a in notice.aliases)))
        for notice in notices:
            for doc in notice.documents:
                # The newest notice wins when several name the same document.
                current = self._linked.get((doc.number, doc.issuing_country))
                if current is None or self.by_id[current].issued_on <= notice.issued_on:
                    self._linked[(doc.number, doc.issuing_country)] = notice.notice_id
        for entry in sltd:
            self._sltd[(entry.number, entry.issuing_country)].append(entry)

    # ------------------------------------------------------------ documents

    def check(self, number: str, issuing_country: str, document_type: str = "",
              on: date | None = None) -> DocumentResult:
        """SLTD entry and linked notice of one document; `document_type` "" matches any;
        with `on`, only an entry listed that day (reported, not yet cleared)."""
        key = (number, issuing_country)
        entries = [e for e in self._sltd.get(key, ())
                   if (not document_type or e.document_type == document_type)
                   and (on is None or e.listed_on(on))]
        # Most recent report first when a number is listed under several types.
        entry = max(entries, key=lambda e: e.date_reported) if entries else None
        return DocumentResult(number, issuing_country, entry, self._linked.get(key, ""))

    # ------------------------------------------------------------ names

    def search(self, query: NoticeQuery) -> list[NoticeMatch]:
        """Matches at or above the threshold, best first, at most MAX_HITS."""
        return self.find(query)[0]

    def find(self, query: NoticeQuery, keep: Callable[[NoticeRecord], bool] | None = None
             ) -> tuple[list[NoticeMatch], int]:
        """(the best MAX_HITS matches, how many reached the threshold in all); only
        notices `keep` accepts (e.g. those in force) are counted and shown."""
        def facts(ri: int) -> tuple[str, float] | None:
            record = self.notices[ri]
            if query.categories and record.category not in query.categories:
                return None
            if keep is not None and not keep(record):
                return None
            return record.date_of_birth, nationality_score(query.nationality,
                                                           record.nationalities)

        found = self._names.search(query.full_name, query.date_of_birth, self.threshold, facts)
        matches = [NoticeMatch(self.notices[ri].notice_id, score, fields, self.notices[ri])
                   for ri, (score, fields) in found.items()]
        return sorted(matches, key=lambda m: (-m.score, m.notice_id))[:MAX_HITS], len(matches)
