"""Name matching shared by every screening adapter: find listed names despite spelling variants.

A query goes through three steps, none of which reads every record:

1. Normalise (`names.tokens`: case, diacritics, honorifics, particles, old
   spelling, transliteration, compounds) and look each query token up in the
   list's token vocabulary: the same token, tokens with the same phonetic key,
   and tokens one edit away (insert, delete, substitute, swap two neighbours;
   a single-deletion index finds them without comparing against the vocabulary).
   A query token not on the list is also compared as written, before the
   spelling folds, which a typo can make misfire (Jnoes -> ynus).
2. Block: every listed name is indexed under each pair of its tokens together
   with its birth year. The query looks up the pairs its tokens' neighbours
   form, in its own birth year and among undated records (a different birth
   year is a conflict that keeps any candidate below the threshold, see
   `dob_similarity`), or in every year when the query has no date of birth.
3. Score each candidate: order-free token alignment with Jaro-Winkler (an
   initial matches its name; a shortened query still scores high), then date of
   birth (exact, year-only or swapped day/month agree; another date is strong
   counter-evidence) and nationality (a boost, never a filter). Names with
   opposite Balinese gender markers (I Wayan, Ni Wayan) never match. A name
   written twice (Ahmad bin Ahmad) needs it twice on the list; a whole date the
   record does not confirm (year only, 1st of the month, one slip) adds no
   support to a name that is not as listed (`WEAK_DATE_NAME_MIN`).

`NameIndex` is generic over what is listed (watchlist entries, notices); the
watchlist's own index is `agency_adapters.immigration.screening`. Pure
computation: never logs a name.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date
from itertools import combinations
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from agency_adapters.common.bulk import collector_paused
from agency_adapters.common.names import (
    NameKey,
    analyse,
    chinese_syllables,
    fold,
    given_names,
    is_initial,
    ocr_letters,
    phonetic_key,
    sex_marker,
    short_forms,
    spellings,
    surname_classes,
)

DEFAULT_THRESHOLD: Final = 0.85
# Hits shown when the caller does not ask for a number, and the most it may ask for.
MAX_HITS: Final = 10
MAX_HITS_LIMIT: Final = 100
W_NAME, W_DOB, W_NAT = 0.80, 0.15, 0.05
# A date of birth that contradicts the record's scores this (times W_DOB): strong
# counter-evidence, so a namesake born on another day stays below the threshold.
DOB_CONFLICT: Final = -0.7
# An unknown date of birth (either side) is neutral evidence, weaker than a match.
DOB_UNKNOWN: Final = 0.5
# Only the year agrees (one side has no more): weak, thousands share a birth year on a
# large list, so barely more than no date: a shortened name (2 of 3 names) with it
# needs the nationality to agree too. (0.7 until the held-out 1M run of 2026-12-01:
# at 1M, full-date queries hitting records with only a birth year were half of the
# hits on other persons in the tuning pair; 0.55 moved its strict precision 0.895 ->
# 0.921, recall unchanged.)
DOB_YEAR: Final = 0.55
# A whole date asked about a record that holds only its year: as good as no date (the
# record cannot say whether the day and month are right, and thousands share a year).
# Tuning pairs at 1M: strict precision 0.9165 -> 0.9186 and 0.9081 -> 0.9112, recall
# unchanged; a name variant against such a record needs a name score of 0.94, not 0.93.
DOB_LISTED_YEAR: Final = DOB_UNKNOWN
# A whole date of birth that the record's date confirms only in part (the record holds
# the year, or the 1st of the month; or one slip away) and a name not as listed are two
# partial agreements, not one match: with such a date the name must score this much on
# its own (as listed, or one token in three slightly off). On a million names such hits
# were mostly other persons. Tuning pairs at 1M (with the repeated-name rule of
# `_coverage`): strict precision 0.919 / 0.911 / 0.907 -> 0.945 / 0.940 / 0.933,
# headline recall 0.989 / 0.992 / 0.987 -> 0.993 / 0.993 / 0.989.
WEAK_DATE_NAME_MIN: Final = 0.97
# Day and month swapped: a common way of writing a date wrongly.
DOB_SWAPPED: Final = 0.8
# One slip apart in the same year (a digit of the day or month, one day): not a match,
# but no conflict either; only a near-exact name reaches the threshold with it.
DOB_NEAR: Final = 0.4
# A slip in the year (one digit, one year) with the same day and month: only a name
# scoring 0.96 or more reaches the threshold (on a large list a common name has
# namesakes born on the same day of a near year: about one in 1,100 of them).
YEAR_SLIP: Final = 0.2
# The lowest score a candidate with a conflicting birth date can reach; at any threshold
# above it, records born in another year need not be looked at (year blocking is exact).
CONFLICT_CEILING: Final = W_NAME + W_DOB * DOB_CONFLICT + W_NAT
# Token pairs less similar than this are different names and earn no credit at all
# (Jaro-Winkler gives unrelated names 0.4-0.7, which would otherwise add up).
TOKEN_MATCH_MIN: Final = 0.80
# The same for a query token that is itself a token of the list (a known name).
KNOWN_NAME_MIN: Final = 0.93
# Without a date of birth to weigh against, a query token that is a name on the list
# matches only that name (Purono is not Puryono when nothing else tells them apart).
KNOWN_NAME_MIN_UNDATED: Final = 1.0
# Name starts whose compounds are compared by what follows (Abdul-rahman, Nur-hadi).
_COMPOUND_STARTS: Final = ("abdul", "nur", "abu")
# Tokens shorter than this match only when equal after normalisation.
SHORT: Final = 4
# Two romanisations of one Chinese surname (names.surname_classes) or syllable (Pinyin
# and Wade-Giles, names.chinese_syllables): above KNOWN_NAME_MIN, since both are names
# on the list.
ROMANISATION: Final = 0.95
# A given name and its short form (names.short_forms: William/Bill, Johannes/Jan,
# Petrus/Piet), and a compound and its part (Abdul Rahman/Rahman, Nur/Nurhayati):
# the same name by rule, so at KNOWN_NAME_MIN (both are often names on the list).
SHORT_FORM: Final = 0.93
# A query token that is no name on the list, one letter short of a short listed name.
SHORT_SLIP: Final = 0.85
# A query token that is no name on the list and starts a listed one (an abbreviation);
# of two letters only (Yo. for Yohanes) a little less.
ABBREVIATION: Final = 0.86
SHORT_ABBREVIATION: Final = 0.84
# Phonetically equal tokens (same consonant skeleton, names.phonetic_key) score at
# least this much, if their letters are not far apart (a skeleton alone is too coarse:
# Mahmud and Mudi share "MD").
PHONETIC_FLOOR: Final = 0.88
PHONETIC_MIN: Final = 0.75
# Vocabulary tokens below this similarity to a query token are not used for blocking.
NEIGHBOUR_MIN: Final = 0.80
MAX_NEIGHBOURS: Final = 16
# Candidate cap for one query (the names sharing most token pairs with it are kept).
MAX_CANDIDATES: Final = 4000
_MIN_DELETION_LEN: Final = 4
# A word written together with the next is split into parts of at least this length.
_MIN_SPLIT: Final = 2
_MAX_RESEGMENTED: Final = 4
# A one-name query with initials pairs this many of the name's closest tokens with every
# listed token of the initial's letter (a few hundred on a large list).
_INITIAL_PARTNERS: Final = 2
# The shortest start of a name that counts as its abbreviation (Yo. for Yohanes, Muh,
# Sulis).
_MIN_PREFIX: Final = 2
_TOKEN_BITS: Final = 22
_YEAR_BASE: Final = 1800
_SEXES: Final = {"": 0, "M": 1, "F": 2}


def token_similarity(a: str, b: str) -> float:  # noqa: PLR0911 - one return per rule
    """Jaro-Winkler of two normalised tokens; an initial matches its full name.

    Compounds sharing their start (Abdulrahman/Abdulkarim, Nurhadi/Nurhuda)
    compare their cores, not their common prefix.
    """
    if a == b:
        return 1.0
    if is_initial(a) or is_initial(b):
        return 0.9 if a[0] == b[0] else 0.0
    if _compound_part(a, b) or _compound_part(b, a) or short_forms(a) & short_forms(b):
        return SHORT_FORM
    for start in _COMPOUND_STARTS:
        if a.startswith(start) and b.startswith(start) and min(len(a), len(b)) > len(start):
            if len(start) + 1 in (len(a), len(b)):  # a compound's initial: Nur H. = "nurh"
                return 0.9 if a[len(start)] == b[len(start)] else 0.0
            if len(a) > 5 and len(b) > 5:
                a, b = a[len(start):], b[len(start):]
                break
    if surname_classes(a) & surname_classes(b) or chinese_syllables(a) & chinese_syllables(b):
        return ROMANISATION  # one Chinese surname in two romanisations: Tan/Chen, Ng/Huang
    if len(a) < SHORT and len(b) < SHORT:
        return 0.0  # Li/Lin, Hui/Hua, Eko/Eka: one letter makes another short name
    score = float(JaroWinkler.similarity(a, b))
    if (PHONETIC_MIN <= score < PHONETIC_FLOOR and len(a) > 2
            and phonetic_key(a) == phonetic_key(b)):
        return PHONETIC_FLOOR
    return score


def _compound_part(part: str, compound: str) -> bool:
    """`compound` is a name start (Abdul, Nur, Abu) joined with `part`, or `part` is that
    start alone: Rahman or Abdul for Abdulrahman, Nur for Nurhayati (a compound is
    often written with one of its halves only)."""
    for start in _COMPOUND_STARTS:
        if compound.startswith(start) and len(compound) > len(start) + 2:
            core = compound[len(start):]
            return part == start or (len(part) >= SHORT - 1 and (
                core == part or (part[0] == start[-1] and core == part[1:])))
    return False


def _credit(a: str, b: str) -> float:
    """What one query token earns for one listed token: its similarity if they match, else 0."""
    score = token_similarity(a, b)
    return score if score >= TOKEN_MATCH_MIN else 0.0


def _coverage(rows: Sequence[Sequence[float]], tokens: Sequence[str] = ()) -> float:
    """Name score from a query-token x listed-token similarity matrix (see name_similarity);
    `tokens`: the query's tokens, to tell a repeated one."""
    forward: float = 0.0
    seen: dict[str, int] = {}
    for qi, row in enumerate(rows):
        token = tokens[qi] if tokens else ""
        repeat = seen[token] = seen.get(token, -1) + 1 if token else 0
        # A name written twice (Ahmad bin Ahmad: the father shares the name) is two
        # names: its k-th occurrence earns the k-th best listed token, so a listed name
        # holding it once covers one of them (Ahmad Muhammad bin Khairul is not).
        forward += max(row) if not repeat else (
            sorted(row, reverse=True)[repeat] if repeat < len(row) else 0.0)
    back: float = sum(max(column) for column in zip(*rows, strict=True))
    return 0.75 * forward / len(rows) + 0.25 * back / len(rows[0])


def name_similarity(query: NameKey, listed: NameKey) -> float:
    """Order-free token alignment; query tokens weigh more than unmatched listed ones.

    Each query token scores its best listed token and vice versa (0 below
    TOKEN_MATCH_MIN: another name is not a little bit the same name); 3/4 of the
    score is how well the query's tokens are covered, 1/4 how well the listed
    name's are, so "Joko Wijaya" still scores high for "Joko Santoso Wijaya".
    """
    if not query.tokens or not listed.tokens:
        return 0.0
    return _coverage([[_credit(q, t) for t in listed.tokens] for q in query.tokens],
                     query.tokens)


def _evidence(dob: str) -> str:
    """What a date of birth says: registries write 01-01 or 00-00 when only the year
    is known, so such a date says the year; a 00 day says the year and month."""
    if dob[4:] in ("-01-01", "-00-00"):
        return dob[:4]
    return dob[:7] if dob.endswith("-00") else dob


def _slip(a: str, b: str) -> float:
    """Two whole dates one slip apart: DOB_NEAR for one digit of the day or month, or
    one day; YEAR_SLIP for one digit of the year, or one year; else 0."""
    try:
        days = abs((date.fromisoformat(a) - date.fromisoformat(b)).days)
    except ValueError:
        return 0.0
    digits = sum(x != y for x, y in zip(a, b, strict=True))
    if days == 1 or (digits == 1 and a[:4] == b[:4]):
        return DOB_NEAR
    if a[4:] == b[4:] and (digits == 1 or abs(int(a[:4]) - int(b[:4])) == 1):
        return YEAR_SLIP
    return 0.0


def dob_similarity(query: str, listed: str) -> tuple[float, bool]:  # noqa: PLR0911 - per rule
    """(agreement, counts as a match): 1 equal; DOB_SWAPPED day and month swapped;
    DOB_YEAR the same as far as the less precise side goes (a year only, or a
    placeholder 01-01 / 00-00 day and month, or the 1st of the same month: weak, on
    a large list thousands share a birth year); DOB_UNKNOWN unknown on either side;
    DOB_NEAR one slip apart in the same year (a digit of the day or month, a day) and
    YEAR_SLIP in the year (a digit, one year) with the same day and month: weaker;
    neither counts as a match;
    DOB_CONFLICT otherwise."""
    if not query or not listed:
        return DOB_UNKNOWN, False
    if query == listed:
        return 1.0, True
    q, ld = _evidence(query), _evidence(listed)
    if q[:4] == ld[:4]:
        shorter = min(len(q), len(ld))
        if shorter < 10:
            if q[:shorter] == ld[:shorter]:
                return (DOB_LISTED_YEAR if len(q) == 10 and len(ld) == 4 else DOB_YEAR), True
        elif q[5:7] == ld[8:10] and q[8:10] == ld[5:7]:
            return DOB_SWAPPED, True  # day and month swapped (US vs ISO ordering mistakes)
        elif q[:7] == ld[:7] and "01" in (q[8:], ld[8:]):
            return DOB_YEAR, True  # the 1st of the month: the day unknown
    if len(q) == len(ld) == 10 and (slip := _slip(q, ld)):  # placeholders are no slip
        return slip, False
    return DOB_CONFLICT, False


def near_years(year: int) -> set[int]:
    """Birth years one slip from `year`: one year off, or one of its last two digits."""
    text = f"{year:04d}"
    out = {year - 1, year + 1}
    out.update(int(text[:i] + d + text[i + 1:]) for i in (2, 3) for d in "0123456789")
    out.discard(year)
    return out


def nationality_score(query: str, listed: Collection[str]) -> float:
    """1 if the query's nationality is one of the record's, 0 if not, 0.5 if either is unknown."""
    if not query or not listed:
        return 0.5
    return 1.0 if query in listed else 0.0


def _birth_year(date_of_birth: str) -> int:
    """Index slot of a birth year: 0 when unknown."""
    if len(date_of_birth) >= 4 and date_of_birth[:4].isdigit():
        return max(1, min(255, int(date_of_birth[:4]) - _YEAR_BASE))
    return 0


def _deletions(token: str) -> set[str]:
    return {token[:i] + token[i + 1:] for i in range(len(token))}


def _token_slip(query: str, listed: str) -> float:
    """A query token that is no name on the list, against a listed one: SHORT_SLIP for a
    short name with one letter lost (Eo for Eko, Sr for Sri), ABBREVIATION for its
    start (Muh for Muhammad, Sulis for Sulistyo); else 0."""
    if len(listed) <= SHORT and len(query) == len(listed) - 1 and len(query) >= 2 and (
            query in _deletions(listed)):
        return SHORT_SLIP
    if len(query) >= _MIN_PREFIX and len(listed) > len(query) and listed.startswith(query):
        # Two letters start many names: below a short name's lost letter (Ma for Mia
        # must not be crowded out of the neighbours by Maya, Margono, Mahmud ...).
        return ABBREVIATION if len(query) > _MIN_PREFIX else SHORT_ABBREVIATION
    return 0.0


PersonFacts = Callable[[int], "tuple[str, float] | None"]
"""Record index -> (its date of birth, nationality score for this query); None skips it."""


class NameIndex:
    """Token-pair and birth-year blocking over every name (full name and aliases) of a list.

    Shared by every adapter that searches people by name; what a record is, and
    how its date of birth and nationality compare, the caller says through `facts`.
    """

    def __init__(
            self, names: Iterable[tuple[int, str, str, str]]) -> None:
        """`names`: (record index, field it came from, the name, the record's date of birth)."""
        self._vocab: dict[str, int] = {}
        self._tokens: list[str] = []
        self._phonetic: list[str] = []
        # Per indexed name, packed (a million names are ~1.3 million entries): its record,
        # the field it came from (a code into _fields) and its I/Ni marker (_SEXES code).
        self._record = array("I")
        self._field = bytearray()
        self._fields: list[str] = []
        self._name_tokens: list[tuple[int, ...]] = []  # shared by namesakes
        self._sex = bytearray()
        # (token pair, birth year) -> the one indexed name under it, or all of them; most
        # keys hold one name, and an int costs a third of a one-element list.
        self._blocks: dict[int, int | array[int]] = {}
        self._years: set[int] = set()
        # Each token's other written forms, where the spelling folds changed it (Noah -> noa).
        written: dict[int, set[str]] = defaultdict(set)
        with collector_paused():
            self._add(names, written)
            self._written: dict[int, tuple[str, ...]] = {t: tuple(sorted(w))
                                                          for t, w in written.items()}
            self._similar = self._similar_tokens()

    def _add(self, names: Iterable[tuple[int, str, str, str]],
             written: dict[int, set[str]]) -> None:
        """Index every name (see __init__); notes the tokens' other forms in `written`."""
        # Names repeat (namesakes, aliases): each distinct full name is analysed once, and
        # a repeat copies what its first occurrence got. `first`: full name -> the index
        # of its first indexed name (the int object the blocks hold anyway), followed by
        # its short form when `has_short` says so; block keys of first occurrences are kept
        # flat in `flat_keys` from `key_at[ni]`. (A dict of name -> (tokens, keys, marker)
        # held about 300 bytes per distinct name: 200 MB at a million.)
        first: dict[str, int] = {}
        has_short = bytearray()
        flat_keys = array("Q")
        key_at = array("I")
        fields: dict[str, int] = {}
        blocks = self._blocks
        records, name_tokens, sexes, field_codes = (self._record, self._name_tokens, self._sex,
                                                    self._field)
        for ri, field, full, date_of_birth in names:
            year = _birth_year(date_of_birth)
            self._years.add(year)
            code = fields.get(field)
            if code is None:
                code = fields[field] = len(self._fields)
                self._fields.append(field)
            source = first.get(full)
            if source is None:
                source = first[full] = len(records)
                short = given_names(full)
                forms: tuple[str, ...] = (full,) if short is None else (full, short)
            else:
                forms = ("",) * (1 + has_short[source])
            for k, name in enumerate(forms):
                ni = source if name is full else len(records)  # `first` holds that int
                key_at.append(len(flat_keys))
                if name:  # a first occurrence: analyse it
                    tids, keys, sex = self._analysed(name, written)
                    flat_keys.extend(keys)
                    has_short.append(len(forms) - 1 - k)
                else:
                    tids, sex = name_tokens[source + k], sexes[source + k]
                    keys = flat_keys[key_at[source + k]:key_at[source + k + 1]]
                    has_short.append(0)
                records.append(ri)
                sexes.append(sex)
                field_codes.append(code)
                name_tokens.append(tids)
                for key in keys:
                    slot = key << 8 | year
                    held = blocks.get(slot)
                    if held is None:
                        blocks[slot] = ni
                    elif isinstance(held, int):
                        blocks[slot] = array("I", (held, ni))
                    else:
                        held.append(ni)

    def _analysed(self, name: str, written: dict[int, set[str]]
                  ) -> tuple[tuple[int, ...], Iterable[int], int]:
        """A name's token ids, block keys and I/Ni marker code; notes the tokens' other
        written forms in `written`."""
        analysed = analyse(name)
        tids = tuple(self._token_id(t) for t in analysed.tokens)
        for tid, token, form in zip(tids, analysed.tokens, analysed.written, strict=True):
            if form != token and form.isalpha():
                written[tid].add(form)
        return tids, self._pair_keys(tids), _SEXES[sex_marker(name)]

    def _similar_tokens(self) -> dict[str, list[int]]:
        """Lookup key -> vocabulary tokens: phonetic keys, surname classes, compound
        initials, each token and its written forms, and their one-letter deletions."""
        similar: dict[str, list[int]] = defaultdict(list)
        for tid, token in enumerate(self._tokens):
            similar[self._phonetic[tid]].append(tid)
            for ci in surname_classes(token):  # "#n": no token or phonetic key has a "#"
                similar[f"#{ci}"].append(tid)
            for ci in chinese_syllables(token):  # "~n": Pinyin and Wade-Giles
                similar[f"~{ci}"].append(tid)
            for ci in short_forms(token):  # "%n": a name and its short forms
                similar[f"%{ci}"].append(tid)
            # ">muh": found from an abbreviation; ">m": from an initial (see _candidates)
            for end in range(1, len(token)):
                similar[">" + token[:end]].append(tid)
            for start in _COMPOUND_STARTS:  # found from the compound's initial (Nur H.)
                if token.startswith(start) and len(token) > len(start) + 1:
                    similar[token[:len(start) + 1]].append(tid)
                    if len(token) > len(start) + 2:  # "&rahman": from a half of it
                        similar["&" + token[len(start):]].append(tid)
            for form in {token, *self._written.get(tid, ())}:
                similar[form].append(tid)  # found from a query token with a letter added
                if len(form) >= _MIN_DELETION_LEN - 1:  # Eo, Sr, Ags: a letter lost
                    for variant in _deletions(form):
                        similar[variant].append(tid)
        return similar

    def _token_id(self, token: str) -> int:
        tid = self._vocab.get(token)
        if tid is None:
            tid = self._vocab[token] = len(self._tokens)
            self._tokens.append(token)
            # The key of a phonetic entry is upper-case, a deletion's lower-case: no clash.
            self._phonetic.append(phonetic_key(token))
        return tid

    def _pair_keys(self, tids: Sequence[int]) -> set[int]:
        """Block keys of a name: each pair of distinct non-initial tokens (a lone token: itself)."""
        usable = [t for t in tids if not is_initial(self._tokens[t])]
        distinct = sorted(set(usable))
        # A lone or repeated token (Budi; Khairul bin Khairul) is also paired with itself.
        keys = {t << _TOKEN_BITS | t for t in distinct if len(distinct) == 1 or usable.count(t) > 1}
        return keys | {a << _TOKEN_BITS | b for a, b in combinations(distinct, 2)}

    def _neighbours(self, reading: tuple[str, ...]) -> list[tuple[int, float]]:
        """Vocabulary tokens similar to a query token (`_readings`): (token id,
        similarity), best first."""
        token = reading[0]
        found: set[int] = set()
        if (tid := self._vocab.get(token)) is not None:
            found.add(tid)
        for tok in reading:
            found.update(self._similar.get(phonetic_key(tok), ()))
            for ci in surname_classes(tok):
                found.update(self._similar.get(f"#{ci}", ()))
            for ci in chinese_syllables(tok):
                found.update(self._similar.get(f"~{ci}", ()))
            for ci in short_forms(tok):
                found.update(self._similar.get(f"%{ci}", ()))
            found.update(self._similar.get("&" + tok, ()))  # Rahman: Abdulrahman
            for start in _COMPOUND_STARTS:  # Nurhayati: Nur
                if tok.startswith(start) and len(tok) > len(start) + 2 and (
                        tid := self._vocab.get(start)) is not None:
                    found.add(tid)
            if len(tok) >= _MIN_DELETION_LEN - 1:
                for variant in (tok, *_deletions(tok)):
                    found.update(self._similar.get(variant, ()))
            elif len(tok) == _MIN_DELETION_LEN - 2 and tok not in self._vocab:
                found.update(self._similar.get(tok, ()))  # Eo for Eko
            if len(tok) >= _MIN_PREFIX and token not in self._vocab:
                found.update(self._similar.get(">" + tok, ()))  # Muh for Muhammad
        if token not in self._vocab and not is_initial(token):
            # Not on the list (a typo, often more than one edit away): also the closest
            # of the whole vocabulary, compared at C speed (a few thousand distinct
            # tokens even for a million names).
            found.update(t for _, _, t in process.extract(
                token, self._tokens, scorer=JaroWinkler.similarity, limit=MAX_NEIGHBOURS,
                score_cutoff=NEIGHBOUR_MIN))
        scored = [(t, self._similarity(reading, t)) for t in found]
        scored = [(t, s) for t, s in scored if s >= NEIGHBOUR_MIN]
        scored.sort(key=lambda ts: -ts[1])
        return scored[:MAX_NEIGHBOURS]

    def _readings(self, key: NameKey) -> list[tuple[str, ...]]:
        """Each query token; when it is not on the list (a typo, or a name the list does
        not hold) also as written, if the spelling folds changed it. A typo can make a
        fold apply or stop applying (Jnoes -> ynus, Joo -> ju, Noh for Noah -> noa)
        where the written letters are still one edit apart; see `_similarity`."""
        out: list[tuple[str, ...]] = []
        for token, written in zip(key.tokens, key.written or key.tokens, strict=True):
            reading = [token]
            if token not in self._vocab and written.isalpha():
                if token != written:
                    reading.append(written)
                # The old spelling's j is today's y in any word (Aju = Ayu, Roj = Roy); the
                # folds only apply it where other old-spelling letters show (Joko is Joko).
                if "j" in written and (old := fold(written.replace("j", "y"))) != token:
                    reading.append(old)
            out.append(tuple(reading))
        return out

    def _similarity(self, reading: tuple[str, ...], tid: int) -> float:
        """Best similarity of a query token's readings to a listed token; a query token
        that is not on the list is also compared with the listed token as written."""
        listed = self._tokens[tid]
        best = max(token_similarity(tok, listed) for tok in reading)
        if best < 1.0 and reading[0] not in self._vocab:
            for form in (listed, *self._written.get(tid, ()), *spellings(listed)):
                best = max(best, *(token_similarity(tok, form) for tok in reading),
                           *(_token_slip(tok, form) for tok in reading))
        return best

    def _candidates(self, key: NameKey, readings: Sequence[tuple[str, ...]],
                    years: Collection[int], name_floor: float) -> list[int]:
        blockable = list(dict.fromkeys(r for r in readings if not is_initial(r[0])))
        neighbours = [[t for t, _ in self._neighbours(reading)] for reading in blockable]
        if len(neighbours) == 1:
            groups = [[t << _TOKEN_BITS | t for t in neighbours[0]]]
            # One name and initials (A. bin Muhammad): the name paired with each listed
            # token of the initial's letter, for the name itself and its closest few
            # (with a birth year to look in: every year would be a hundred times that).
            for initial in {r[0] for r in readings if is_initial(r[0]) and len(years) <= 2}:
                lettered = self._similar.get(">" + initial, ())
                groups.append([min(a, b) << _TOKEN_BITS | max(a, b)
                               for a in neighbours[0][:_INITIAL_PARTNERS] for b in lettered
                               if a != b])
        else:
            # a == b too: two query names can both be one repeated listed name (Moh
            # Danial bin Muhammad for Mohd Danial bin Muhammad).
            groups = [[min(a, b) << _TOKEN_BITS | max(a, b) for a in left for b in right]
                      for left, right in combinations(neighbours, 2)]
        found: list[int] = []
        blocks = self._blocks
        for group in groups:
            for pair in group:
                for year in years:
                    held = blocks.get(pair << 8 | year)
                    if held is None:
                        continue
                    if isinstance(held, int):
                        found.append(held)
                    else:
                        found.extend(held)
        # A name reaching `name_floor` matches at least k of the query's tokens (3/4 of
        # the score is query coverage; initials and repeats counted as matched), so it
        # is in at least k*(k-1)/2 of the query's token-pair groups: count, then filter.
        n = len(key.tokens)
        k = math.ceil((name_floor - 0.25) / 0.75 * n - 1e-9) - (n - len(blockable))
        least = max(1, k * (k - 1) // 2)
        if least == 1 and len(found) <= MAX_CANDIDATES:
            return list(set(found))
        counts = Counter(found)
        return [ni for ni, c in counts.most_common(MAX_CANDIDATES) if c >= least]

    def _name_score(self, ni: int, readings: Sequence[tuple[str, ...]],
                    floors: Sequence[float], cache: list[dict[int, float]]) -> float:
        """`name_similarity` of the query with indexed name `ni`; `cache` holds each query
        token's credit for each vocabulary token met so far (credit below its floor: 0)."""
        rows = []
        for qi, reading in enumerate(readings):
            row = []
            known = cache[qi]
            for tid in self._name_tokens[ni]:
                sim = known.get(tid)
                if sim is None:
                    sim = self._similarity(reading, tid)
                    sim = known[tid] = sim if sim >= floors[qi] else 0.0
                row.append(sim)
            rows.append(row)
        return _coverage(rows, [reading[0] for reading in readings])

    def _known_like(self, token: str) -> bool:
        """`token` is on the list, or one letter short of a listed token."""
        return token in self._vocab or token in self._similar

    def _resegmented(self, key: NameKey) -> list[NameKey]:
        """The query with its spaces moved, where that makes names of the list: two
        words written together (WahyuHidayat, Nurulbin Osman) split, or one name
        written apart (Suti Yanto) joined; and a compound the list does not hold (Nur
        Hakim, Abdul Dadang) read as its two names (Nur binti Hakim, Abdul Aziz Dadang
        with a name dropped). Each is searched too; the best score wins."""
        written = list(key.written or key.tokens)
        out: list[str] = []
        for i, (token, form) in enumerate(zip(key.tokens, written, strict=True)):
            if token in self._vocab or len(form) < 2 * _MIN_SPLIT or not form.isalpha():
                continue
            for cut in range(_MIN_SPLIT, len(form) - _MIN_SPLIT + 1):
                split = " ".join([*written[:i], form[:cut], form[cut:], *written[i + 1:]])
                new = set(analyse(split).tokens) - set(key.tokens)
                if new and all(t in self._vocab for t in new):
                    out.append(split)
                    break
        keys = [analyse(other) for other in out]
        tokens = key.tokens
        for i in range(len(written) - 1):
            if tokens[i] in self._vocab and tokens[i + 1] in self._vocab:
                continue
            # The second word as written, or as any spelling of its group (Bamb Ang:
            # "ang" is keyed "ong"); the other words keep their tokens (a particle
            # dropped between them must not let Nur join the next name).
            for second in dict.fromkeys((written[i + 1], *spellings(tokens[i + 1]))):
                joined = analyse(written[i] + second)
                if len(joined.tokens) == 1 and self._known_like(joined.tokens[0]):
                    keys.append(NameKey.of((*tokens[:i], *joined.tokens, *tokens[i + 2:]),
                                     (*written[:i], *joined.written, *written[i + 2:])))
                    break
        keys = keys[:_MAX_RESEGMENTED]
        if (apart := self._apart(key)) is not None:
            keys.append(apart)
        return keys

    def _apart(self, key: NameKey) -> NameKey | None:
        """The query with each compound the list does not hold (Abdul Dadang, Nur Hakim)
        as its two names, or None when there is none."""
        tokens: list[str] = []
        written: list[str] = []
        for token, form in zip(key.tokens, key.written or key.tokens, strict=True):
            start = next((s for s in _COMPOUND_STARTS if token.startswith(s)), "")
            if start and token not in self._vocab and len(token) >= len(start) + SHORT - 1:
                tokens += [start, fold(token[len(start):])]
                written += [start, token[len(start):]]
            else:
                tokens.append(token)
                written.append(form)
        return None if len(tokens) == len(key.tokens) else NameKey.of(tokens, written)

    def search(self, full_name: str, date_of_birth: str, threshold: float,
               facts: PersonFacts) -> dict[int, tuple[float, tuple[str, ...]]]:
        """Record index -> (score, matched fields) for every record at or above `threshold`."""
        key = analyse(full_name)
        if not key.tokens:
            return {}
        best = self._search(key, full_name, date_of_birth, threshold, facts)
        others = self._resegmented(key)
        if any(c.isdigit() for c in full_name):  # OCR: N1 LUH, M0HD, 8INTI
            read = ocr_letters(full_name)
            others.append(analyse(read))
            full_name = read  # the I/Ni marker too
        for other in others:
            for ri, found in self._search(other, full_name, date_of_birth, threshold,
                                          facts).items():
                if ri not in best or best[ri][0] < found[0]:
                    best[ri] = found
        return best

    def _search(  # noqa: PLR0912, PLR0915 - the scoring loop reads best in one piece
            self, key: NameKey, full_name: str, date_of_birth: str, threshold: float,
            facts: PersonFacts) -> dict[int, tuple[float, tuple[str, ...]]]:
        year = _birth_year(date_of_birth)
        slips: list[int] = []  # birth years one slip away: candidates need a near-exact name
        if year and threshold > CONFLICT_CEILING:
            years: Collection[int] = (year, 0)
            if len(date_of_birth) == 10 and date_of_birth[:4].isdigit():
                slips = sorted({s for y in near_years(int(date_of_birth[:4]))
                                if (s := _birth_year(f"{y:04d}")) in self._years} - {year, 0})
        else:
            years = self._years
        readings = self._readings(key)
        # A query token that is itself a name on the list is a different name from a
        # similar listed one (Margono is not Maryono), unless they are very close.
        known_min = KNOWN_NAME_MIN if year else KNOWN_NAME_MIN_UNDATED
        floors = [known_min if reading[0] in self._vocab else TOKEN_MATCH_MIN
                  for reading in readings]
        # Credit of each query token for each vocabulary token met, computed once.
        cache: list[dict[int, float]] = [{} for _ in readings]
        # A candidate whose name scores below this cannot reach the threshold.
        whole = len(_evidence(date_of_birth)) == 10  # a whole date, no placeholder
        best_dob = 1.0 if len(date_of_birth) > 4 else DOB_YEAR if year else DOB_UNKNOWN
        name_floor = (threshold - W_DOB * best_dob - W_NAT) / W_NAME
        best: dict[int, tuple[float, tuple[str, ...]]] = {}
        # I Wayan (male) and Ni Wayan (female) are two persons whatever else agrees.
        marker = _SEXES[sex_marker(full_name)]
        other_sex = 3 - marker if marker else -1
        # Hits whose date is one slip from the query's count only when no hit's date
        # agrees: a mistyped date finds its person, but never adds namesakes born a
        # day or a year apart to an answer that has the person born on that date.
        slipped: dict[int, tuple[float, tuple[str, ...]]] = {}
        agreed = False
        passes = [self._candidates(key, readings, years, name_floor)]
        if slips:
            passes.append(self._candidates(key, readings, slips, (
                threshold - W_DOB * YEAR_SLIP - W_NAT) / W_NAME))
        for candidates in passes:
            if agreed:
                break  # no slip will be shown: the other birth years need no look
            for ni in candidates:
                if self._sex[ni] == other_sex:
                    continue
                name_score = self._name_score(ni, readings, floors, cache)
                if name_score < name_floor:
                    continue
                ri = self._record[ni]
                found = facts(ri)
                if found is None:
                    continue
                listed_dob, nat = found
                dob_score, dob_match = dob_similarity(date_of_birth, listed_dob)
                if whole and listed_dob and dob_score < DOB_SWAPPED and (
                        name_score < WEAK_DATE_NAME_MIN):
                    continue  # two partial agreements (see WEAK_DATE_NAME_MIN)
                score = W_NAME * name_score + W_DOB * dob_score + W_NAT * nat
                into = slipped if dob_score in (DOB_NEAR, YEAR_SLIP) else best
                if score < threshold or (ri in into and into[ri][0] >= score):
                    continue
                agreed = agreed or dob_match
                fields = [self._fields[self._field[ni]]]
                if dob_match:
                    fields.append("date_of_birth")
                if nat == 1.0:
                    fields.append("nationality")
                into[ri] = (round(score, 4), tuple(fields))
        if not agreed:
            for ri, hit in slipped.items():
                if ri not in best or best[ri][0] < hit[0]:
                    best[ri] = hit
        return best
