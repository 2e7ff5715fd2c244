"""Screening quality and speed, run by `make eval-screening` (definitions: docs/ADAPTERS.md).

A fixed-seed evaluation set over a synthetic list of N persons:

- variant queries: a listed person's name (or alias) changed the way names
  are changed in practice (transliteration, old spelling, compounds split or
  joined, reordering, a dropped or initialled middle name, a typo, titles and
  punctuation, combinations) with the date of birth exact, year-only, swapped
  day/month or missing;
- decoy queries: persons who are not listed but are named like someone who
  is (a namesake born on another day, a listed name with one name replaced by
  another, twins sharing a birth date), or simply other travellers. A decoy
  that the list cannot tell apart from a listed person (same normalised name,
  compatible birth date) is a collision, not a decoy, and is not used.

Recall = variant queries whose person is among the hits shown (at most the
cap; a person cut by the cap is a miss). Precision = correct hits / (correct +
false) hits over all queries; a hit on another listed person with whom the
query as meant (its typo undone) is consistent is neutral, counted as neither:
the same rule that drops a colliding decoy.
Latency is one `screen` call (p50/p99) at each list size. Pure computation
apart from printing figures (never names).
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from agency_adapters.common import names, people
from agency_adapters.common.matching import dob_similarity
from agency_adapters.immigration import screening, synthetic
from agency_adapters.immigration.records import WatchlistRecord

SEED = 4242
DECOY_SEED = 777
DEFAULT_SIZES = "10000,1000000"

# Real-world spellings of the same name, written independently of names.py's tables
# (some are in them, some are left to the similarity measures).
TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    "Muhammad": ("Mohammed", "Mohamad", "Muhamad", "Mohammad", "Mochammad", "Mohd", "Muhamed"),
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad"), "Mohd": ("Muhammad", "Mohamad"),
    "Ahmad": ("Ahmed", "Achmad", "Akhmad"), "Ahmed": ("Ahmad",),
    "Abdul Rahman": ("Abdurrahman", "Abdulrahman", "Abd Rahman", "Abdel Rahman"),
    "Abdul Aziz": ("Abdulaziz", "Abd Aziz"), "Abdul Karim": ("Abdulkarim", "Abdul Kareem"),
    "Abdul Hamid": ("Abdulhamid", "Abdul Hameed"), "Abdul Latif": ("Abdullatif", "Abdul Lateef"),
    "Abu Bakar": ("Abubakar", "Abu Bakr"), "Nur Hadi": ("Nurhadi", "Noor Hadi"),
    "Nurul Huda": ("Nurulhuda", "Nurul Hoeda"), "Umi Kalsum": ("Umi Kulsum", "Ummi Kalsum"),
    "Yusuf": ("Yusof", "Yousef", "Jusuf", "Youssef"), "Yousef": ("Yusuf", "Youssef"),
    "Hasan": ("Hassan",), "Hassan": ("Hasan",), "Husein": ("Hussein", "Husain", "Hussain"),
    "Hussein": ("Husein", "Husain"), "Umar": ("Omar",), "Omar": ("Umar",),
    "Usman": ("Osman", "Utsman", "Uthman"), "Ibrahim": ("Ebrahim", "Ibraheem"),
    "Ismail": ("Ismael", "Esmail"), "Mustafa": ("Mustapha", "Mustofa", "Mostafa"),
    "Rizki": ("Rizky", "Rizqi", "Rezki"), "Taufik": ("Taufiq", "Tawfik"),
    "Syarif": ("Sjarif", "Sharif", "Syarief"), "Zainal": ("Zainul", "Zainol"),
    "Arief": ("Arif",), "Arif": ("Arief",), "Fauzi": ("Fauzy", "Fawzi"),
    "Hamzah": ("Hamza",), "Yasin": ("Yassin", "Yaseen"), "Saleh": ("Soleh", "Salih", "Shaleh"),
    "Khalid": ("Khaled", "Chalid"), "Rasyid": ("Rashid", "Rasjid"), "Sulaiman": ("Suleiman",),
    "Zulkifli": ("Zulkifly", "Dzulkifli"), "Ramadhan": ("Ramadan", "Romadhon"),
    "Hafiz": ("Hafidz", "Hafeez"), "Mahmud": ("Mahmood", "Mahmoud"), "Lutfi": ("Luthfi",),
    "Faisal": ("Faysal", "Feisal"), "Ikhsan": ("Ichsan", "Iksan"), "Fikri": ("Fikry",),
    "Syamsul": ("Samsul", "Shamsul"), "Sholeh": ("Soleh", "Saleh"), "Zakaria": ("Zakariya",),
    "Yahya": ("Jahja", "Yahaya"), "Iskandar": ("Iskander",), "Kamaruddin": ("Kamarudin",),
    "Siti": ("Sitti", "Sity"), "Nur": ("Noor", "Nour"), "Aisyah": ("Aishah", "Aisha", "Aisah"),
    "Fatimah": ("Fatima", "Fathimah"), "Khadijah": ("Khadija", "Kadijah", "Chadijah"),
    "Zainab": ("Zaynab", "Zaenab"), "Maryam": ("Mariam",), "Halimah": ("Halima",),
    "Aminah": ("Amina",), "Zahra": ("Zahrah",), "Nabila": ("Nabilah",),
    "Joko": ("Djoko",), "Slamet": ("Slamat",), "Suharto": ("Soeharto",),
    "Sukarno": ("Soekarno",), "Sutrisno": ("Soetrisno",), "Yohanes": ("Johannes", "Johanes"),
    "Wahyu": ("Wahju", "Wahyoe"), "Wijaya": ("Widjaja", "Wijaja"), "Santoso": ("Santosa",),
    "Hidayat": ("Hidajat",), "Setiawan": ("Setyawan",), "Nugroho": ("Noegroho",),
    "Kusuma": ("Koesoema",), "Yudi": ("Yudhi",), "Endang": ("Endhang",), "Sri": ("Sry",),
    "Liem": ("Lim",), "Oei": ("Wee",), "Tjoa": ("Chua",), "Go": ("Goh",),
    "Mohamed": ("Mohammed",), "Abdullah": ("Abdallah", "Abdulla"),
    # Spellings of one name that the synthetic pools also hold as separate entries.
    "Rudi": ("Rudy",), "Rudy": ("Rudi",), "Rahmat": ("Rachmat",), "Rachmat": ("Rahmat",),
    "Lukman": ("Luqman",), "Luqman": ("Lukman",), "Tanujaya": ("Tanudjaja",),
    "Tanudjaja": ("Tanujaya",), "Eddy": ("Edy", "Edi"), "Widjaja": ("Wijaya",),
}
TITLES = ("H.", "Hj.", "Dr.", "Ir.", "Drs.", "Bapak", "Ibu", "Mr.", "Tn.")
DEGREES = (", S.H.", ", S.E.", ", M.M.", " S.Kom", ", M.Sc.")
VARIANT_KINDS = ("as_listed", "format", "transliteration", "reordered", "dropped_middle",
                 "initial", "typo", "two_changes", "alias")
DOB_FORMS = (("exact", 50), ("year_only", 15), ("swapped", 15), ("missing", 20))
_PARTICLES = frozenset({"bin", "binti", "al", "van", "der", "den", "de"})
DECOY_KINDS = ("namesake_other_dob", "one_name_replaced", "twin_same_dob", "traveller")


@dataclass(frozen=True, slots=True)
class Case:
    """One evaluation query: its target (None for a decoy), how it was made, and the
    name the clerk meant to write (the query without its typo, if it has one)."""

    query: screening.NameQuery
    target: WatchlistRecord | None
    kind: str
    dob_form: str
    intended: str = ""

    @property
    def meant(self) -> screening.NameQuery:
        """The query as meant: its typo (if any) undone."""
        q = self.query
        return screening.NameQuery(self.intended or q.full_name, q.date_of_birth, q.nationality)


def _typo(rng: random.Random, word: str) -> str:
    """One keyboard-style error: swap, drop, double, or replace one letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    letter = rng.choice([c for c in "aeioubdgkmnrst" if c != word[i]])
    return word[:i] + letter + word[i + 1:]


_PARTICLE_UNITS = frozenset({"bin", "binti", "van", "de", "der", "den"})
_PREFIXES = _PARTICLE_UNITS | {"I", "Ni"}


def _units(name: str) -> list[str]:
    """The parts of a name that are changed as a whole: a word, a two-word name (Abdul
    Rahman), or a particle or Balinese birth-order marker with what follows (bin Ismail,
    van der Berg, I Wayan)."""
    words = name.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and words[j] in _PREFIXES:
            j += 1
        if j == i and " ".join(words[i:i + 2]) in TRANSLITERATIONS and i + 1 < len(words):
            j = i + 1
        out.append(" ".join(words[i:j + 1]))
        i = j + 1
    return out


def _last_word(unit: str, change: Callable[[str], str]) -> str:
    *head, last = unit.split()
    return " ".join([*head, change(last)])


def _change(rng: random.Random, kind: str, units: list[str],  # noqa: PLR0911
            typo: Callable[[str], str] | None = None) -> list[str]:
    """`units` changed one way; unchanged when the change does not apply to this name.
    A typo is made by `typo` (default: a random one), so it can be replayed as identity."""
    if kind == "format":
        styled = [u.upper() for u in units] if rng.random() < 0.5 else list(units)
        if rng.random() < 0.5:
            return [rng.choice(TITLES), *styled]
        if len(styled) > 1 and rng.random() < 0.5:
            return [styled[-1] + ",", *styled[:-1]]  # "Santoso, Budi"
        return [*styled[:-1], styled[-1] + rng.choice(DEGREES)]
    if kind == "transliteration":
        options = [i for i, u in enumerate(units) if u in TRANSLITERATIONS]
        if options:
            i = rng.choice(options)
            return [*units[:i], rng.choice(TRANSLITERATIONS[units[i]]), *units[i + 1:]]
        return units
    if kind == "reordered" and len(units) > 1:
        # Rotations as clerks write them: never starting with "bin ..." or "van ...".
        starts = [k for k in range(1, len(units)) if units[k].split()[0] not in _PARTICLE_UNITS]
        if starts:
            k = rng.choice(starts)
            return units[k:] + units[:k]
    if kind == "dropped_middle" and len(units) > 2:
        i = rng.randrange(1, len(units) - 1)
        return units[:i] + units[i + 1:]
    if kind == "initial" and len(units) > 2:
        i = rng.randrange(0, len(units) - 1)
        return [*units[:i], _last_word(units[i], lambda w: w[0] + "."), *units[i + 1:]]
    if kind == "typo":
        options = [i for i, u in enumerate(units) if len(u.split()[-1]) >= 4]
        if options:
            i = rng.choice(options)
            change = typo or (lambda w: _typo(rng, w))
            return [*units[:i], _last_word(units[i], change), *units[i + 1:]]
    return units


def _dob(rng: random.Random, dob: str) -> tuple[str, str]:
    form = rng.choices([f for f, _ in DOB_FORMS], [w for _, w in DOB_FORMS])[0]
    if form == "missing":
        return "", form
    if len(dob) == 4 or form == "exact":
        return dob, "exact"
    if form == "year_only":
        return dob[:4], form
    day, month = dob[8:10], dob[5:7]
    if int(day) > 12 or day == month:
        return dob, "exact"  # no valid swap: the date is given as written
    return f"{dob[:4]}-{day}-{month}", form


def variant(rng: random.Random, record: WatchlistRecord) -> Case:
    """A realistic query for a listed person (see VARIANT_KINDS and DOB_FORMS)."""
    kind = rng.choice(VARIANT_KINDS)
    name = record.full_name
    if kind == "alias":
        name = record.aliases[0] if record.aliases else name
        kind = "alias" if record.aliases else "as_listed"
    words = _units(name)
    changes = [kind]
    if kind == "two_changes":
        # Formatting (titles, degrees, a comma) is what a clerk adds last.
        changes = sorted(rng.sample(("transliteration", "reordered", "dropped_middle", "typo",
                                     "format"), 2), key=lambda c: c == "format")
    # The same changes replayed on a copy of the generator, the typo drawn but not made,
    # give the name the clerk meant (every other random choice is the same).
    meant_rng = random.Random()
    meant_rng.setstate(rng.getstate())
    meant = list(words)
    for change in changes:
        words = _change(rng, change, words)
        meant = _change(meant_rng, change, meant, typo=lambda w: (_typo(meant_rng, w), w)[1])
    dob, form = _dob(rng, record.date_of_birth)
    nationality = record.nationality if rng.random() < 0.5 else ""
    return Case(screening.NameQuery(" ".join(words), dob, nationality), record, kind, form,
                " ".join(meant) if "typo" in changes else "")


def _other_dob(rng: random.Random, dob: str) -> str:
    """A birth date in the list's range, sometimes in the same year, never compatible."""
    while True:
        other = (date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 60))).isoformat()
        if rng.random() < 0.3:
            other = dob[:4] + other[4:]
        if not compatible(other, dob):
            return other


def _spelling_groups() -> dict[str, str]:
    """Each spelling in TRANSLITERATIONS (lower case, no spaces) -> one key for its group."""
    parent: dict[str, str] = {}

    def root(word: str) -> str:
        while parent.setdefault(word, word) != word:
            word = parent[word]
        return word

    for name, others in TRANSLITERATIONS.items():
        for other in others:
            parent[root(other.lower().replace(" ", ""))] = root(name.lower().replace(" ", ""))
    return {word: root(word) for word in parent}


_SPELLING = _spelling_groups()
_MULTI_WORD = sorted({w.lower() for k, v in TRANSLITERATIONS.items() for w in (k, *v)
                      if " " in w}, key=len, reverse=True)
_DEGREE_WORDS = re.compile(r"\b(?:s\s*h|s\s*e|m\s*m|s\s*kom|m\s*sc)\s*$")
_TITLE_WORDS = frozenset({"h", "hj", "dr", "ir", "drs", "bapak", "ibu", "mr", "tn"})


def written_words(name: str) -> list[str]:
    """A name as the evaluation compares names: lower case, no accents, punctuation,
    particles (bin, al-, van der ...), leading titles or trailing degrees, and each
    spelling in TRANSLITERATIONS replaced by one key for its group.

    Deliberately not the screening normalisation (no phonetic, typo or general
    spelling folds), so widening those cannot hide a false hit.
    """
    text = re.sub(r"[^a-z]+", " ", names.strip_diacritics(name).replace("'", ""))
    text = _DEGREE_WORDS.sub("", text.strip())
    for multi in _MULTI_WORD:
        if multi in text:
            text = re.sub(rf"\b{multi}\b", multi.replace(" ", ""), text)
    words = text.split()
    while len(words) > 1 and words[0] in _TITLE_WORDS:
        words = words[1:]
    return [_SPELLING.get(w, w) for w in words if w not in _PARTICLES]


def _covered(query: list[str], name: list[str]) -> bool:
    """Every query word is a distinct word of `name` (a one-letter word: its initial)."""
    rest = list(name)
    for word in sorted(query, key=len, reverse=True):
        match = next((w for w in rest if w == word or (len(word) == 1 and w[0] == word)), None)
        if match is None:
            return False
        rest.remove(match)
    return True


def _all_names(record: WatchlistRecord) -> list[str]:
    full = (record.full_name, *record.aliases)
    return [*full, *(short for n in full if (short := names.given_names(n)) is not None)]


def consistent(query: screening.NameQuery, record: WatchlistRecord) -> bool:
    """The query could be a variant of `record` (see VARIANT_KINDS, typos aside): its
    date of birth is compatible and its words are among the words of one of the
    record's names. Such a hit is not false: the query cannot rule the record out."""
    if not compatible(query.date_of_birth, record.date_of_birth):
        return False
    words = written_words(query.full_name)
    return bool(words) and any(_covered(words, written_words(n)) for n in _all_names(record))


class _Truth:
    """The list, indexed by written word, to find listed persons a decoy is consistent with."""

    def __init__(self, listed: tuple[WatchlistRecord, ...]) -> None:
        self.listed = listed
        self.postings: dict[str, list[int]] = defaultdict(list)
        for ri, record in enumerate(listed):
            for word in {w for n in _all_names(record) for w in written_words(n)}:
                self.postings[word].append(ri)

    def collides(self, query: screening.NameQuery) -> bool:
        """Some listed person is consistent with `query` (so it is not a decoy)."""
        words = [w for w in written_words(query.full_name) if len(w) > 1]
        if not words:
            return True
        lists = sorted((self.postings.get(w, []) for w in words), key=len)
        found = set(lists[0])
        for more in lists[1:]:
            found.intersection_update(more)
        return any(consistent(query, self.listed[ri]) for ri in found)


def compatible(query_dob: str, listed_dob: str) -> bool:
    """The dates cannot tell two persons apart: one unknown, equal, same year with only
    a year on one side, or day and month swapped."""
    _, match = dob_similarity(query_dob, listed_dob)
    return match or not query_dob or not listed_dob


def decoy(rng: random.Random, listed: tuple[WatchlistRecord, ...],
          travellers: Iterable[WatchlistRecord], truth: _Truth) -> Case:
    """A non-listed person with a name like a listed one's (never a collision)."""
    pool = list(people.GIVEN_M + synthetic.JAVA_M + synthetic.JAVA_F + synthetic.BATAK
                + synthetic.ARABIC_M + synthetic.IDN_FAMILY)
    for traveller in travellers:
        kind = rng.choice(DECOY_KINDS)
        person = rng.choice(listed)
        name, dob = person.full_name, person.date_of_birth
        if kind == "namesake_other_dob":
            words = _units(name)
            words = _change(rng, "transliteration", words) if rng.random() < 0.3 else words
            name, dob = " ".join(words), _other_dob(rng, dob)
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
        if not truth.collides(query):
            return Case(query, None, kind, "missing" if not dob else "exact")
    raise RuntimeError("no decoy found")  # pragma: no cover - the traveller pool is endless


@dataclass
class Tally:
    """Counts over a run of cases (see the module docstring for the definitions)."""

    variants: int = 0
    found: int = 0
    hidden: int = 0          # variants whose person reached the threshold but was not shown
    truncated: int = 0       # queries with more hits at the threshold than shown
    correct: int = 0
    false: int = 0
    neutral: int = 0         # another listed person the query (as meant) is consistent with
    decoys: int = 0
    decoys_flagged: int = 0
    misses: Counter[str] = field(default_factory=Counter)
    false_hits: Counter[str] = field(default_factory=Counter)
    by_dob: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, case: Case, result: screening.Screening, seconds: float,
            hidden: bool = False) -> None:
        """Count one query's shown hits; `hidden`: its person was among the matches not shown."""
        self.latencies.append(seconds)
        target, label = case.target, f"{case.kind}/{case.dob_form}"
        dated = "dob" if case.query.date_of_birth else "no_dob"
        self.truncated += result.truncated
        if target is not None:
            self.variants += 1
            if target.entry_id in {h.entry_id for h in result.hits}:
                self.found += 1
            else:
                self.hidden += hidden
                self.misses[label + (" (not shown)" if hidden else "")] += 1
        else:
            self.decoys += 1
        wrong = 0
        for hit in result.hits:
            if target is not None and hit.entry_id == target.entry_id:
                self.correct += 1
                self.by_dob[f"{dated}_correct"] += 1
            elif target is not None and consistent(case.meant, hit.record):
                self.neutral += 1
            else:
                wrong += 1
                self.false_hits[label] += 1
                self.by_dob[f"{dated}_false"] += 1
        self.false += wrong
        self.decoys_flagged += target is None and wrong > 0

    @property
    def recall(self) -> float:
        return self.found / self.variants if self.variants else 1.0

    @property
    def precision(self) -> float:
        return _ratio(self.correct, self.correct + self.false)

    @property
    def recall_uncapped(self) -> float:
        """Recall if every hit at the threshold were shown (no cap on the number of hits)."""
        return (self.found + self.hidden) / self.variants if self.variants else 1.0

    @property
    def strict_precision(self) -> float:
        """Precision counting the neutral hits (other persons the query fits) as false."""
        return _ratio(self.correct, self.correct + self.false + self.neutral)

    def precision_of(self, dated: str) -> float:
        correct = self.by_dob[f"{dated}_correct"]
        return _ratio(correct, correct + self.by_dob[f"{dated}_false"])

    @property
    def f1(self) -> float:
        total = self.recall + self.precision
        return 2 * self.recall * self.precision / total if total else 0.0

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def make_cases(listed: tuple[WatchlistRecord, ...], queries: int, seed: int = SEED
               ) -> list[Case]:
    """`queries` variant queries of sampled listed persons, then `queries` decoys."""
    rng = random.Random(seed)
    truth = _Truth(listed)
    travellers = iter(synthetic.generate(10 * queries, seed=DECOY_SEED + seed))
    cases = [variant(rng, r) for r in rng.sample(listed, queries)]
    return cases + [decoy(rng, listed, travellers, truth) for _ in range(queries)]


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


def evaluate(size: int, queries: int, seed: int = SEED,
             threshold: float = screening.DEFAULT_THRESHOLD,
             max_hits: int = screening.MAX_HITS) -> tuple[Tally, float]:
    """(tally, index build seconds) over `size` synthetic persons."""
    listed = synthetic.generate(size)
    started = time.perf_counter()
    index = screening.ScreeningIndex.build(listed, threshold)
    build = time.perf_counter() - started
    return run(index, make_cases(listed, queries, seed), max_hits), build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="watchlist screening recall/precision/latency")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated list sizes")
    parser.add_argument("--queries", type=int, default=1000, help="variant and decoy queries each")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threshold", type=float, default=screening.DEFAULT_THRESHOLD)
    parser.add_argument("--max-hits", type=int, default=screening.MAX_HITS,
                        help="hits shown per query")
    parser.add_argument("--details", action="store_true", help="misses and false hits by kind")
    args = parser.parse_args(argv)
    print(f"threshold {args.threshold}; {args.queries} variant + {args.queries} decoy queries "
          f"(seed {args.seed}); at most {args.max_hits} hits shown; latency is one screen "
          f"call, single-threaded")
    for size in (int(s) for s in args.sizes.split(",")):
        r, build = evaluate(size, args.queries, args.seed, args.threshold, args.max_hits)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"listed {size:>9,}: recall {r.recall:.3f} precision {r.precision:.3f} "
              f"F1 {r.f1:.3f} | p50 {r.latency_ms(0.5):.2f} ms p99 {r.latency_ms(0.99):.2f} ms"
              f" | index build {build:.1f} s, peak RSS {rss:,.0f} MB", flush=True)
        print(f"  precision with a date of birth {r.precision_of('dob'):.3f}, without "
              f"{r.precision_of('no_dob'):.3f}; strict precision {r.strict_precision:.3f}; "
              f"decoys flagged {r.decoys_flagged}/{r.decoys}; neutral hits {r.neutral}",
              flush=True)
        print(f"  truncated answers {r.truncated}; persons matched but not shown {r.hidden} "
              f"(recall if all were shown {r.recall_uncapped:.3f})", flush=True)
        if args.details:
            print(f"  misses by kind/dob: {dict(r.misses.most_common())}")
            print(f"  false hits by kind/dob: {dict(r.false_hits.most_common())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
