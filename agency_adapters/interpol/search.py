"""Notice name search and document checks over loaded Interpol-style data.

Name search reuses the immigration watchlist's normalisation (`names.analyse`:
case, diacritics, honorifics, particles, old spelling, transliteration) and
scoring (`screening.name_similarity`, `dob_similarity`, the same weights and
threshold), with the same phonetic blocking; only the record shape differs
(several nationalities, an optional date of birth, a category filter).
Document checks are exact lookups. Pure computation: never logs a name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from agency_adapters.immigration.names import NameKey, analyse, is_initial
from agency_adapters.immigration.screening import (
    DEFAULT_THRESHOLD,
    MAX_HITS,
    PREFILTER,
    W_DOB,
    W_NAME,
    W_NAT,
    dob_similarity,
    name_similarity,
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
        self._names: list[tuple[int, str, NameKey]] = []
        self._texts: list[str] = []
        self._blocks: dict[str, list[int]] = defaultdict(list)
        self._sltd: dict[tuple[str, str], list[SltdRecord]] = defaultdict(list)
        self._linked: dict[tuple[str, str], str] = {}
        for ri, notice in enumerate(notices):
            for field, name in (("full_name", notice.full_name),
                                *(("aliases", a) for a in notice.aliases)):
                key = analyse(name)
                ni = len(self._names)
                self._names.append((ri, field, key))
                self._texts.append(" ".join(key.tokens))
                for tok, ph in set(zip(key.tokens, key.phonetic, strict=True)):
                    if not is_initial(tok):
                        self._blocks[ph].append(ni)
            for doc in notice.documents:
                # The newest notice wins when several name the same document.
                current = self._linked.get((doc.number, doc.issuing_country))
                if current is None or self.by_id[current].issued_on <= notice.issued_on:
                    self._linked[(doc.number, doc.issuing_country)] = notice.notice_id
        for entry in sltd:
            self._sltd[(entry.number, entry.issuing_country)].append(entry)

    # ------------------------------------------------------------ documents

    def check(self, number: str, issuing_country: str, document_type: str = ""
              ) -> DocumentResult:
        """SLTD entry and linked notice of one document; `document_type` "" matches any."""
        key = (number, issuing_country)
        entries = [e for e in self._sltd.get(key, ())
                   if not document_type or e.document_type == document_type]
        # Most recent report first when a number is listed under several types.
        entry = max(entries, key=lambda e: e.date_reported) if entries else None
        return DocumentResult(number, issuing_country, entry, self._linked.get(key, ""))

    # ------------------------------------------------------------ names

    def search(self, query: NoticeQuery) -> list[NoticeMatch]:
        """Matches at or above the threshold, best first, at most MAX_HITS."""
        key = analyse(query.full_name)
        shared: dict[int, int] = defaultdict(int)
        for ph in {ph for tok, ph in zip(key.tokens, key.phonetic, strict=True)
                   if not is_initial(tok)}:
            for ni in self._blocks.get(ph, ()):
                shared[ni] += 1
        strong = [ni for ni, n in shared.items() if n >= 2]
        best = self._score(query, key, strong)
        if not best:
            weak = [ni for ni, n in shared.items() if n < 2]
            found = process.extract(" ".join(key.tokens), [self._texts[ni] for ni in weak],
                                    scorer=fuzz.token_sort_ratio, score_cutoff=PREFILTER,
                                    limit=None)
            best = self._score(query, key, [weak[i] for _, _, i in found])
        return sorted(best.values(), key=lambda m: (-m.score, m.notice_id))[:MAX_HITS]

    def _score(self, q: NoticeQuery, key: NameKey, candidates: Collection[int]
               ) -> dict[int, NoticeMatch]:
        best: dict[int, NoticeMatch] = {}
        for ni in candidates:
            ri, field, listed = self._names[ni]
            record = self.notices[ri]
            if q.categories and record.category not in q.categories:
                continue
            name_score = name_similarity(key, listed)
            if name_score < 0.75:
                continue
            dob_score, dob_match = dob_similarity(q.date_of_birth, record.date_of_birth)
            nat = (0.5 if not q.nationality or not record.nationalities
                   else 1.0 if q.nationality in record.nationalities else 0.0)
            score = W_NAME * name_score + W_DOB * dob_score + W_NAT * nat
            if score < self.threshold:
                continue
            fields = [field]
            if dob_match:
                fields.append("date_of_birth")
            if nat == 1.0:
                fields.append("nationality")
            if ri not in best or best[ri].score < score:
                best[ri] = NoticeMatch(record.notice_id, round(score, 4), tuple(fields), record)
        return best
