"""Watchlist screening: find listed persons despite spelling variants, rank by score.

Names are normalised (`names.tokens`: case, diacritics, honorifics, particles,
old spelling, transliteration) and blocked by per-token phonetic keys, so a
query compares against a few candidates, not the whole list. Each candidate is
scored by token alignment with Jaro-Winkler (order-free, tolerant of a missing
middle name or an initial), then date of birth (exact, year-only, swapped
day/month) and nationality (a boost, never a filter) adjust the score.
Document queries are exact lookups. Pure computation: never logs a name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from agency_adapters.immigration.names import NameKey, analyse, is_initial
from agency_adapters.immigration.records import WatchlistRecord

DEFAULT_THRESHOLD: Final = 0.85
MAX_HITS: Final = 10
W_NAME, W_DOB, W_NAT = 0.80, 0.15, 0.05
PREFILTER: Final = 70.0


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


def token_similarity(a: str, b: str) -> float:
    """Jaro-Winkler of two normalised tokens; an initial matches its full name."""
    if a == b:
        return 1.0
    if is_initial(a) or is_initial(b):
        return 0.9 if a[0] == b[0] else 0.0
    return float(JaroWinkler.similarity(a, b))


def name_similarity(query: NameKey, listed: NameKey) -> float:
    """Order-free token alignment; query tokens weigh more than unmatched listed ones."""
    if not query.tokens or not listed.tokens:
        return 0.0

    def best(tok: str, ph: str, other: NameKey) -> float:
        return max(1.0 if ph == p2 and len(tok) > 2 else token_similarity(tok, t2)
                   for t2, p2 in zip(other.tokens, other.phonetic, strict=True))

    forward = sum(best(t, p, listed) for t, p in zip(query.tokens, query.phonetic, strict=True))
    back = sum(best(t, p, query) for t, p in zip(listed.tokens, listed.phonetic, strict=True))
    # A shortened query ("Joko Wijaya" for "Joko Santoso Wijaya") should still score high.
    return 0.75 * forward / len(query.tokens) + 0.25 * back / len(listed.tokens)


def dob_similarity(query: str, listed: str) -> tuple[float, bool]:
    """(score in [0,1], counts as a match). Unknown on either side is neutral."""
    if not query or not listed:
        return 0.5, False
    if query == listed:
        return 1.0, True
    if query[:4] != listed[:4]:
        return 0.0, False
    if len(query) == 4 or len(listed) == 4:
        return 0.8, True
    if query[5:7] == listed[8:10] and query[8:10] == listed[5:7]:
        return 0.8, True  # day and month swapped (US vs ISO ordering mistakes)
    return 0.2, False


def nationality_score(query: str, listed: Collection[str]) -> float:
    """1 if the query's nationality is one of the record's, 0 if not, 0.5 if either is unknown."""
    if not query or not listed:
        return 0.5
    return 1.0 if query in listed else 0.0


PersonFacts = Callable[[int], "tuple[str, float] | None"]
"""Record index -> (its date of birth, nationality score for this query); None skips it."""


class NameIndex:
    """Phonetic blocking over every name (full name and aliases) of a list of records.

    Shared by every adapter that searches people by name; what a record is, and
    how its date of birth and nationality compare, the caller says through `facts`.
    """

    def __init__(self, names: Iterable[tuple[int, str, str]]) -> None:
        """`names`: (record index, field it came from, the name)."""
        self._names: list[tuple[int, str, NameKey]] = []
        self._texts: list[str] = []
        self._blocks: dict[str, list[int]] = defaultdict(list)
        for ri, field, name in names:
            key = analyse(name)
            ni = len(self._names)
            self._names.append((ri, field, key))
            self._texts.append(" ".join(key.tokens))
            for tok, ph in set(zip(key.tokens, key.phonetic, strict=True)):
                if not is_initial(tok):
                    self._blocks[ph].append(ni)

    def search(self, full_name: str, date_of_birth: str, threshold: float,
               facts: PersonFacts) -> dict[int, tuple[float, tuple[str, ...]]]:
        """Record index -> (score, matched fields) for every record at or above `threshold`."""
        key = analyse(full_name)
        hits_per_name: dict[int, int] = defaultdict(int)
        for ph in {ph for tok, ph in zip(key.tokens, key.phonetic, strict=True)
                   if not is_initial(tok)}:
            for ni in self._blocks.get(ph, ()):
                hits_per_name[ni] += 1
        # Names sharing two or more phonetic tokens with the query are scored first;
        # names sharing only one are scored only if that finds nobody, which keeps
        # common given names ("Budi", "Siti") from costing a scan of every Budi.
        strong = [ni for ni, n in hits_per_name.items() if n >= 2]
        best = self._score(key, strong, date_of_birth, threshold, facts)
        if not best:
            weak = [ni for ni, n in hits_per_name.items() if n < 2]
            # A C-speed token-sort prefilter keeps this fallback cheap; its cutoff is
            # well below what the full score needs, so it only drops hopeless names.
            found = process.extract(" ".join(key.tokens), [self._texts[ni] for ni in weak],
                                    scorer=fuzz.token_sort_ratio, score_cutoff=PREFILTER,
                                    limit=None)
            best = self._score(key, [weak[i] for _, _, i in found], date_of_birth, threshold,
                               facts)
        return best

    def _score(self, key: NameKey, candidates: list[int], date_of_birth: str,
               threshold: float, facts: PersonFacts
               ) -> dict[int, tuple[float, tuple[str, ...]]]:
        best: dict[int, tuple[float, tuple[str, ...]]] = {}
        for ni in candidates:
            ri, field, listed = self._names[ni]
            known = facts(ri)
            if known is None:
                continue
            name_score = name_similarity(key, listed)
            if name_score < 0.75:
                continue
            listed_dob, nat = known
            dob_score, dob_match = dob_similarity(date_of_birth, listed_dob)
            score = W_NAME * name_score + W_DOB * dob_score + W_NAT * nat
            if score < threshold:
                continue
            fields = [field]
            if dob_match:
                fields.append("date_of_birth")
            if nat == 1.0:
                fields.append("nationality")
            if ri not in best or best[ri][0] < score:
                best[ri] = (round(score, 4), tuple(fields))
        return best


class ScreeningIndex:
    """An immutable index over one watchlist; build once, screen many times."""

    def __init__(self, records: tuple[WatchlistRecord, ...], threshold: float) -> None:
        self.records = records
        self.threshold = threshold
        self._names = NameIndex(
            (ri, field, name) for ri, record in enumerate(records)
            for field, name in (("full_name", record.full_name),
                                *(("aliases", a) for a in record.aliases)))
        self._documents: dict[str, list[int]] = defaultdict(list)
        for ri, record in enumerate(records):
            for doc in record.documents:
                self._documents[doc.number].append(ri)
            if record.national_id:
                self._documents[record.national_id].append(ri)

    @classmethod
    def build(cls, records: tuple[WatchlistRecord, ...],
              threshold: float = DEFAULT_THRESHOLD) -> ScreeningIndex:
        return cls(tuple(records), threshold)

    def screen(self, query: NameQuery | DocumentQuery) -> list[ScreeningHit]:
        """Hits at or above the threshold, best first, at most MAX_HITS."""
        if isinstance(query, DocumentQuery):
            return self._by_document(query)
        return self._by_name(query)

    def _by_document(self, q: DocumentQuery) -> list[ScreeningHit]:
        hits = []
        for ri in dict.fromkeys(self._documents.get(q.number, ())):
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
        return hits[:MAX_HITS]

    def _by_name(self, q: NameQuery) -> list[ScreeningHit]:
        def facts(ri: int) -> tuple[str, float]:
            record = self.records[ri]
            return record.date_of_birth, nationality_score(q.nationality, (record.nationality,))

        found = self._names.search(q.full_name, q.date_of_birth, self.threshold, facts)
        hits = [ScreeningHit(self.records[ri].entry_id, score, fields, self.records[ri])
                for ri, (score, fields) in found.items()]
        return sorted(hits, key=lambda h: (-h.score, h.entry_id))[:MAX_HITS]
