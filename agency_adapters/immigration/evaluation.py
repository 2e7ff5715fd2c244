"""Screening quality and speed, run by `make eval-screening` (definitions: docs/ADAPTERS.md).

A seeded evaluation set over a synthetic list of N persons:

- variant queries about listed persons, an equal number of each kind in
  `VARIANT_KINDS`: one change to the name (`variants.NAME_KINDS`, drawn from
  romanisation and spelling conventions independent of `names.py`), to the date
  of birth (`variants.DOB_KINDS`) or to the nationality, or the person's alias. A
  change that does not apply to a person, or leaves the name the same after
  normalisation, is drawn again with another person; a query that normalises to
  exactly what is listed (name and date) is labelled *identical* and reported
  apart from the headline;
- decoy queries about persons who are not listed but are named like someone who
  is (a namesake born on another day, one name replaced, a twin, another
  traveller). A decoy that some listed person is *consistent* with cannot be
  told apart from that person: it is kept, labelled *ambiguous* and reported
  apart.

Seeds: `TUNING` (list seed, query seed) pairs are for tuning the matcher and
may print individual misses (`--split tuning --details`); the `HELD_OUT` pair
gives the published figures and prints aggregates only (nobody reads its errors).
Pure computation apart from printing figures (never names, unless a tuning run is
asked for its misses).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from agency_adapters.common import names, people
from agency_adapters.immigration import screening, synthetic, variants
from agency_adapters.immigration.records import WatchlistRecord

# (list seed, query seed). The held-out pair was chosen once, after the kinds and
# definitions were fixed; it is run for the published figures only.
HELD_OUT: Final = (61733, 90017)
TUNING: Final = ((1, 101), (2, 102), (11, 111))
DEFAULT_SIZES: Final = "10000,1000000"
DECOY_SEED: Final = 777

VARIANT_KINDS: Final = (*variants.NAME_KINDS, *variants.DOB_KINDS, *variants.NATIONALITY_KINDS,
                        "alias")
# Date given with a changed name: (form, weight).
NAME_DOB_FORMS: Final = (("exact", 70), ("year_only", 10), ("missing", 20))
# Kinds whose change normalisation may undo (a title, a particle): labelled identical
# then, and reported apart; every other kind is drawn again until the change shows.
_MAY_BE_IDENTICAL: Final = frozenset({"as_listed", "format", "particle_dropped",
                                      "particle_added"})
DECOY_KINDS: Final = ("namesake_other_dob", "one_name_replaced", "twin_same_dob", "traveller")
_ARABIC: Final = frozenset(
    w for pool in (synthetic.ARABIC_M, synthetic.ARABIC_F, synthetic.MALAY_M, synthetic.MALAY_F,
                   synthetic.ARAB_M, synthetic.ARAB_F) for n in pool for w in n.split("_"))
_CHINESE: Final = frozenset(
    w for pool in (synthetic.CHINA_SURNAME, synthetic.CHINA_GIVEN, synthetic.HOKKIEN_SURNAME,
                   synthetic.HOKKIEN_GIVEN) for w in pool)


@dataclass(frozen=True, slots=True)
class Case:
    """One evaluation query: its target (None for a decoy), how it was made, whether it
    normalises to exactly what is listed, and the listed name it was made from."""

    query: screening.NameQuery
    target: WatchlistRecord | None
    kind: str
    identical: bool = False
    source: str = ""

    @property
    def full_dob(self) -> bool:
        """The query carries a whole date of birth: YYYY-MM-DD that is no placeholder
        (01-01 and 00-00 say the year only, see `_known`)."""
        return len(_known(self.query.date_of_birth)) == 10

    @property
    def meant(self) -> screening.NameQuery | None:
        """What the clerk meant: the listed name the variant was made from, with the
        listed date of birth (None for a decoy)."""
        if self.target is None:
            return None
        return screening.NameQuery(self.source or self.target.full_name,
                                   self.target.date_of_birth, self.query.nationality)


def _names_of(record: WatchlistRecord) -> tuple[str, ...]:
    return (record.full_name, *record.aliases)


def _pick_dob(rng: random.Random, listed: str) -> str:
    form = rng.choices([f for f, _ in NAME_DOB_FORMS], [w for _, w in NAME_DOB_FORMS])[0]
    return {"exact": listed, "year_only": listed[:4], "missing": ""}[form]


def variant(rng: random.Random, kind: str, record: WatchlistRecord) -> Case | None:
    """A query about `record` changed the `kind` way; None when the change does not apply."""
    name, dob, nationality = record.full_name, record.date_of_birth, record.nationality
    listed_forms = {names.normalise(n) for n in _names_of(record)}
    if kind == "alias":
        if not record.aliases:
            return None
        name = record.aliases[0]
    elif kind in variants.DOB_KINDS:
        changed = variants.change_dob(rng, kind, dob)
        if changed is None:
            return None
        dob = changed
    elif kind in variants.NATIONALITY_KINDS:
        changed = variants.change_nationality(rng, kind, nationality)
        if changed is None:
            return None
        nationality, dob = changed, _pick_dob(rng, dob)
    else:
        changed = variants.change_name(rng, kind, name, nationality=record.nationality,
                                       sex=record.sex, arabic=_ARABIC, chinese=_CHINESE)
        if changed is None:
            return None
        name, dob = changed, _pick_dob(rng, dob)
        if kind not in _MAY_BE_IDENTICAL and names.normalise(name) in listed_forms:
            return None  # the change did not apply after normalisation: draw again
    if kind not in variants.NATIONALITY_KINDS:
        nationality = nationality if rng.random() < 0.5 else ""
    identical = (names.normalise(name) in listed_forms and dob == record.date_of_birth
                 and nationality in ("", record.nationality))
    source = record.aliases[0] if kind == "alias" else record.full_name
    return Case(screening.NameQuery(name, dob, nationality), record, kind, identical, source)


def make_variants(listed: tuple[WatchlistRecord, ...], queries: int, rng: random.Random
                  ) -> list[Case]:
    """`queries` variants, kinds in turn (equal numbers), each about a person drawn
    until the kind's change applies to them."""
    out: list[Case] = []
    for k in range(queries):
        kind = VARIANT_KINDS[k % len(VARIANT_KINDS)]
        for _ in range(2_000):
            case = variant(rng, kind, rng.choice(listed))
            if case is not None:
                out.append(case)
                break
    return out


# --- Ground truth: could a query have been written for a listed person? ---------------
_PARTICLES: Final = frozenset({"bin", "binti", "al", "el", "van", "der", "den", "de"})
_TITLE_WORDS: Final = frozenset({"h", "hj", "dr", "ir", "drs", "bapak", "ibu", "mr", "tn",
                                 "prof"})
_DEGREE_WORDS: Final = re.compile(r"\b(?:s\s*h|s\s*e|m\s*m|s\s*kom|m\s*sc|ph\s*d)\s*$")
_ABD: Final = re.compile(r"\babd(?:ul|el|al|ur|us|ush|ut|ud|un|uz|u)?[\s.]*"
                         r"(?:(?:al|el|ar|as|ash|at|ad|az|an)\s+)?(?=[a-z])")
_JOINED: Final = re.compile(r"\b(nur|abu)(?:ul)?\s+(?:al\s+)?(?=[a-z]{2})")
_OCR_BACK: Final = str.maketrans("0158", "oisb")


def written_words(name: str) -> list[str]:
    """A name as the evaluation compares names: lower case, no accents, punctuation,
    MRZ fillers, particles, leading titles or trailing degrees; Abdul/Nur/Abu
    compounds joined. Deliberately not the screening normalisation."""
    text = variants.ascii_fold(name).translate(_OCR_BACK).replace("'", "")
    text = re.sub(r"[^a-z]+", " ", text).strip()
    text = _DEGREE_WORDS.sub("", text).strip()
    text = _JOINED.sub(r"\1", _ABD.sub("abd", text))
    words = text.split()
    while len(words) > 1 and words[0] in _TITLE_WORDS:
        words = words[1:]
    return [w for w in words if w not in _PARTICLES] or words


def _covered(query: list[str], name: list[str]) -> bool:
    """Every query word is a distinct word of `name` (a one-letter word: its initial), or
    the query is the name with its spaces moved."""
    if "".join(query) == "".join(name):
        return True
    rest = list(name)
    for word in sorted(query, key=len, reverse=True):
        match = next((w for w in rest if variants.same_word(word, w)
                      or (len(word) == 1 and w[0] == word)), None)
        if match is None:
            return False
        rest.remove(match)
    return True


def _all_names(record: WatchlistRecord) -> list[str]:
    full = _names_of(record)
    return [*full, *(short for n in full if (short := names.given_names(n)) is not None)]


def _known(dob: str) -> str:
    """What a date of birth says: a placeholder day and month (01-01, 00-00: the year
    only known) says the year; a 00 day, the year and month."""
    if dob[4:] in ("-01-01", "-00-00"):
        return dob[:4]
    return dob[:7] if dob.endswith("-00") else dob


def compatible(query_dob: str, listed_dob: str) -> bool:
    """The dates cannot tell two persons apart: one unknown, equal, the same as far as
    the less precise one goes (a year, a placeholder), or day and month swapped.
    Independent of the matcher's date rule."""
    q, listed = _known(query_dob), _known(listed_dob)
    if not q or not listed or q == listed:
        return True
    shorter = min(len(q), len(listed))
    if shorter < 10:
        return q[:shorter] == listed[:shorter]
    return q[:4] == listed[:4] and q[5:7] == listed[8:10] and q[8:10] == listed[5:7]


def consistent(query: screening.NameQuery, record: WatchlistRecord) -> bool:
    """The query could have been written for `record`: its date of birth is compatible
    and its words are among the words of one of the record's names (spellings merged
    by `variants.same_word`)."""
    if not compatible(query.date_of_birth, record.date_of_birth):
        return False
    words = written_words(query.full_name)
    return bool(words) and any(_covered(words, written_words(n)) for n in _all_names(record))


class _Truth:
    """The list indexed by word class, to find listed persons a query is consistent with."""

    def __init__(self, listed: tuple[WatchlistRecord, ...]) -> None:
        self.listed = listed
        self.postings: dict[str, list[int]] = defaultdict(list)
        for ri, record in enumerate(listed):
            keys = {k for n in _all_names(record) for w in written_words(n)
                    for k in variants.word_classes(w)}
            for key in keys:
                self.postings[key].append(ri)

    def collides(self, query: screening.NameQuery) -> bool:
        """Some listed person is consistent with `query`."""
        words = [w for w in written_words(query.full_name) if len(w) > 1]
        if not words:
            return True
        found: set[int] | None = None
        for word in words:
            hits = {ri for k in variants.word_classes(word) for ri in self.postings.get(k, ())}
            found = hits if found is None else found & hits
        return any(consistent(query, self.listed[ri]) for ri in found or ())


def _other_dob(rng: random.Random, dob: str) -> str:
    """A birth date in the list's range, sometimes in the same year, never compatible."""
    while True:
        other = (date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 60))).isoformat()
        if rng.random() < 0.3:
            other = dob[:4] + other[4:]
        if not compatible(other, dob):
            return other


def decoys(rng: random.Random, listed: tuple[WatchlistRecord, ...],
           travellers: Iterator[WatchlistRecord], truth: _Truth, count: int) -> list[Case]:
    """`count` non-listed persons named like listed ones; those the list cannot tell from
    a listed person are labelled "ambiguous" (kept and reported apart)."""
    pool = list(people.GIVEN_M + synthetic.JAVA_M + synthetic.JAVA_F + synthetic.BATAK
                + synthetic.ARABIC_M + synthetic.IDN_FAMILY)
    out: list[Case] = []
    while len(out) < count:
        traveller = next(travellers)
        kind = rng.choice(DECOY_KINDS)
        person = rng.choice(listed)
        name, dob = person.full_name, person.date_of_birth
        if kind == "namesake_other_dob":
            if rng.random() < 0.3:
                spelling = rng.choice(("old_spelling", "arabic_romanisation",
                                       "chinese_romanisation"))
                name = variants.change_name(rng, spelling, name, nationality=person.nationality,
                                            arabic=_ARABIC, chinese=_CHINESE) or name
            dob = _other_dob(rng, dob)
        elif kind in ("one_name_replaced", "twin_same_dob"):
            words = name.split()
            i = rng.randrange(len(words))
            other = rng.choice(pool).replace("_", " ")
            if names.tokens(other) == names.tokens(words[i]):
                continue
            words[i] = other
            name = " ".join(words)
            if kind == "one_name_replaced":
                dob = rng.choice((_other_dob(rng, dob), ""))
        else:
            name, dob = traveller.full_name, traveller.date_of_birth
        query = screening.NameQuery(name, dob, rng.choice(("", person.nationality)))
        out.append(Case(query, None, "ambiguous" if truth.collides(query) else kind))
    return out


def make_cases(listed: tuple[WatchlistRecord, ...], queries: int, seed: int) -> list[Case]:
    """`queries` variant queries, then `queries` decoys, from query seed `seed`."""
    rng = random.Random(seed)
    travellers = iter(synthetic.generate(20 * queries + 100, seed=DECOY_SEED + seed))
    cases = make_variants(listed, queries, rng)
    return cases + decoys(rng, listed, travellers, _Truth(listed), queries)


# --- Counting ----------------------------------------------------------------------------
@dataclass
class Counts:
    """Variants found and hits judged, over one group of queries."""

    variants: int = 0
    found: int = 0
    hidden: int = 0          # variants whose person matched but was cut by the cap
    correct: int = 0
    false: int = 0
    neutral: int = 0         # another listed person the query cannot be told from

    @property
    def recall(self) -> float:
        return _ratio(self.found, self.variants)

    @property
    def recall_uncapped(self) -> float:
        return _ratio(self.found + self.hidden, self.variants)

    @property
    def precision(self) -> float:
        """Lenient: neutral hits counted as neither correct nor false."""
        return _ratio(self.correct, self.correct + self.false)

    @property
    def strict_precision(self) -> float:
        """Strict: every hit that is not the query's person is false."""
        return _ratio(self.correct, self.correct + self.false + self.neutral)


@dataclass
class Tally:
    """Counts per group: "headline" (non-identical variants with a whole date of birth,
    and every query with one for precision), "changed" (all non-identical), "identical",
    "all", each kind (variant kinds and decoy kinds), and "decoys"."""

    groups: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    decoys: int = 0
    decoys_flagged: int = 0
    ambiguous: int = 0
    ambiguous_flagged: int = 0
    truncated: int = 0
    latencies: list[float] = field(default_factory=list)
    misses: list[Case] = field(default_factory=list)
    false_hits: list[tuple[Case, WatchlistRecord]] = field(default_factory=list)
    neutral_hits: list[tuple[Case, WatchlistRecord]] = field(default_factory=list)

    def add(self, case: Case, result: screening.Screening, seconds: float,  # noqa: PLR0912
            hidden: bool = False) -> None:  # one pass over the groups a query belongs to
        """Count one query's shown hits; `hidden`: its person matched but was not shown."""
        self.latencies.append(seconds)
        self.truncated += result.truncated
        target = case.target
        keys = ["all", f"kind:{case.kind}"]
        if target is not None:
            keys.append("identical" if case.identical else "changed")
            if case.full_dob and not case.identical:
                keys.append("headline")
            if not case.identical:
                keys.append(f"kind_full_dob:{case.kind}" if case.full_dob else "no_full_dob")
        elif case.full_dob and case.kind != "ambiguous":
            keys.append("headline")
        if target is None:
            keys.append("decoys")
        groups = [self.groups[k] for k in keys]
        shown = {h.entry_id for h in result.hits}
        if target is not None:
            found = target.entry_id in shown
            for g in groups:
                g.variants += 1
                g.found += found
                g.hidden += (not found) and hidden
            if not found:
                self.misses.append(case)
        meant = case.meant
        wrong = 0
        for hit in result.hits:
            if target is not None and hit.entry_id == target.entry_id:
                verdict = "correct"
            elif consistent(case.query, hit.record) or (
                    meant is not None and consistent(meant, hit.record)):
                verdict = "neutral"
                self.neutral_hits.append((case, hit.record))
            else:
                verdict = "false"
                wrong += 1
                self.false_hits.append((case, hit.record))
            for g in groups:
                setattr(g, verdict, getattr(g, verdict) + 1)
        if case.kind == "ambiguous":
            self.ambiguous += 1
            self.ambiguous_flagged += bool(result.hits)
        elif target is None:
            self.decoys += 1
            self.decoys_flagged += wrong > 0

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def run(index: screening.ScreeningIndex, cases: Iterable[Case],
        max_hits: int = screening.MAX_HITS) -> Tally:
    """Screen every case once (timed) and count the outcome; a variant whose person is
    not shown in a truncated answer is screened again uncapped (not timed) to tell
    "not shown" from "not found"."""
    tally = Tally()
    for case in cases:
        started = time.perf_counter()
        result = index.search(case.query, max_hits)
        seconds = time.perf_counter() - started
        hidden = False
        if case.target is not None and result.truncated:
            everything = index.search(case.query, screening.MAX_HITS_LIMIT).hits
            hidden = case.target.entry_id in {h.entry_id for h in everything}
        tally.add(case, result, seconds, hidden)
    return tally


@dataclass(frozen=True, slots=True)
class Build:
    """What loading the list and building its index cost: wall and CPU seconds of the
    build, the load average then, the resident set after loading the records and after
    building (MB), and the process peak by then (loading and building: what a reader
    reloading a list holds)."""

    seconds: float
    cpu_seconds: float
    load_average: float
    rss_records: float
    rss_built: float
    peak: float


def _rss_mb() -> float:
    """The resident set now, in MB (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_mb()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    used = os.times()
    return used.user + used.system


def evaluate(size: int, queries: int, list_seed: int, query_seed: int,
             threshold: float = screening.DEFAULT_THRESHOLD,
             max_hits: int = screening.MAX_HITS) -> tuple[Tally, Build]:
    """(tally, what the build cost) over `size` synthetic persons from `list_seed`."""
    listed = synthetic.generate(size, seed=list_seed)
    rss_records = _rss_mb()
    started, cpu = time.perf_counter(), _cpu()
    index = screening.ScreeningIndex.build(listed, threshold)
    build = Build(time.perf_counter() - started, _cpu() - cpu, os.getloadavg()[0],
                  rss_records, _rss_mb(), _peak_mb())
    return run(index, make_cases(listed, queries, query_seed), max_hits), build


def _line(label: str, c: Counts) -> str:
    return (f"{label:<26} n={c.variants:>5} recall {c.recall:.3f} "
            f"(all matches {c.recall_uncapped:.3f}) | strict precision "
            f"{c.strict_precision:.3f} lenient {c.precision:.3f} "
            f"(hits {c.correct}/{c.false}/{c.neutral} correct/false/neutral)")


def report(r: Tally, size: int, build: Build, *, details: bool) -> None:
    """Print one list size's figures; `details` (tuning only) adds each miss."""
    h, g = r.groups["headline"], r.groups
    print(f"listed {size:>9,}: HEADLINE recall {h.recall:.3f} (non-identical variants with a "
          f"full date of birth, n={h.variants}) | strict precision {h.strict_precision:.3f} "
          f"lenient {h.precision:.3f} (queries with a full date of birth)", flush=True)
    print(f"  p50 {r.latency_ms(0.5):.2f} ms p99 {r.latency_ms(0.99):.2f} ms | truncated "
          f"answers {r.truncated}")
    print(f"  index build {build.seconds:.1f} s (CPU {build.cpu_seconds:.1f} s, load average "
          f"{build.load_average:.1f}) | RSS records loaded {build.rss_records:,.0f} MB, index "
          f"built {build.rss_built:,.0f} MB, peak loading and building {build.peak:,.0f} MB; "
          f"process peak with the evaluation's queries {_peak_mb():,.0f} MB")
    print("  " + _line("all non-identical", g["changed"]))
    print("  " + _line("  without a full DOB", g["no_full_dob"]))
    print("  " + _line("identical (apart)", g["identical"]))
    print("  " + _line("every query", g["all"]))
    print(f"  decoys {r.decoys}, flagged {r.decoys_flagged}; ambiguous decoys (apart) "
          f"{r.ambiguous}, flagged {r.ambiguous_flagged}")
    print("  per kind (all date forms | non-identical with a full DOB):")
    for kind in (*VARIANT_KINDS, *DECOY_KINDS, "ambiguous"):
        c, f = g[f"kind:{kind}"], g[f"kind_full_dob:{kind}"]
        if kind in VARIANT_KINDS:
            print(f"    {kind:<24} n={c.variants:>4} recall {c.recall:.3f} | n={f.variants:>4} "
                  f"recall {f.recall:.3f}")
        else:
            print(f"    {kind:<24} false hits {c.false} neutral {c.neutral}")
    if details:
        for case in r.misses:
            q = case.query
            assert case.target is not None
            print(f"    MISS {case.kind}: {q.full_name!r} {q.date_of_birth!r} {q.nationality!r}"
                  f" for {case.target.full_name!r} {case.target.date_of_birth!r}")
        for label, hits in (("FALSE", r.false_hits), ("NEUTRAL", r.neutral_hits)):
            for case, hit in hits:
                q = case.query
                print(f"    {label} {case.kind}: {q.full_name!r} {q.date_of_birth!r} "
                      f"{q.nationality!r} hit {hit.full_name!r} {hit.date_of_birth!r} "
                      f"{hit.nationality!r}")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="watchlist screening recall/precision/latency")
    parser.add_argument("--split", choices=("held-out", "tuning"), default="held-out",
                        help="held-out: the published figures, aggregates only")
    parser.add_argument("--tuning-pair", type=int, default=0,
                        help=f"index into TUNING {TUNING} (--split tuning)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated list sizes")
    parser.add_argument("--queries", type=int, default=3000,
                        help="variant queries and decoy queries, each")
    parser.add_argument("--threshold", type=float, default=screening.DEFAULT_THRESHOLD)
    parser.add_argument("--max-hits", type=int, default=screening.MAX_HITS,
                        help="hits shown per query")
    parser.add_argument("--details", action="store_true",
                        help="print every miss (tuning split only)")
    args = parser.parse_args(argv)
    if args.details and args.split != "tuning":
        parser.error("--details prints individual misses: tuning split only")
    list_seed, query_seed = HELD_OUT if args.split == "held-out" else TUNING[args.tuning_pair]
    print(f"{args.split} split: list seed {list_seed}, query seed {query_seed}; threshold "
          f"{args.threshold}; {args.queries} variant + {args.queries} decoy queries; at most "
          f"{args.max_hits} hits shown; latency is one search call, single-threaded")
    for size in (int(s) for s in args.sizes.split(",")):
        r, build = evaluate(size, args.queries, list_seed, query_seed, args.threshold,
                            args.max_hits)
        report(r, size, build, details=args.details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
