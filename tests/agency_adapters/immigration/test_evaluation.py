"""The screening evaluation: variants that change something, figures counted as defined.

The list here is built in the test from the synthetic name pools (not from
`synthetic.generate`, whose record layout is another lane's), so the exact
counts below move only when the variant source, the definitions or the matcher
change; a change that moves them must say why in its commit.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from agency_adapters.common import names
from agency_adapters.immigration import evaluation, screening, synthetic
from agency_adapters.immigration.records import WatchlistRecord
from tests.agency_adapters.immigration.test_screening import record


def _listed(size: int, seed: int) -> tuple[WatchlistRecord, ...]:
    rng = random.Random(seed)
    out = []
    for i in range(size):
        nationality, custom, _ = rng.choice(synthetic._ORIGINS)
        male = rng.random() < 0.7
        name = synthetic._name(rng, custom, male)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        dob = str(born.year) if rng.random() < 0.05 else born.isoformat()
        aliases = (synthetic._alias(rng, name, male),) if rng.random() < 0.3 else ()
        out.append(record(f"CKL-{i:05d}", name, dob, nationality, aliases))
    return tuple(out)


LISTED = _listed(1500, seed=5)
KINDS = len(evaluation.VARIANT_KINDS)


@pytest.fixture(scope="module")
def cases() -> list[evaluation.Case]:
    return evaluation.make_cases(LISTED, 3 * KINDS, seed=7)


def test_every_kind_is_drawn_equally_and_a_change_always_applies(
        cases: list[evaluation.Case]) -> None:
    variants = [c for c in cases if c.target is not None]
    assert Counter(c.kind for c in variants) == dict.fromkeys(evaluation.VARIANT_KINDS, 3)
    identical = sorted(c.kind for c in variants if c.identical)
    # Only kinds whose change normalisation may undo, and only with the listed date (one
    # as_listed query has no date: not identical); every other change was drawn again.
    assert identical == ["alias", "alias", "alias", "as_listed", "as_listed", "format", "format",
                         "particle_added", "particle_added", "particle_added",
                         "particle_dropped", "particle_dropped", "particle_dropped"]
    for case in variants:
        assert case.target is not None
        listed = {names.normalise(n) for n in (case.target.full_name, *case.target.aliases)}
        same_name = names.normalise(case.query.full_name) in listed
        if case.kind not in ("as_listed", "format", "alias", "particle_added",
                             "particle_dropped") and not case.kind.startswith(
                ("dob_", "nationality_")):
            assert not same_name, case.kind


def test_decoys_are_kept_and_the_ambiguous_ones_labelled(cases: list[evaluation.Case]) -> None:
    decoys = [c for c in cases if c.target is None]
    assert len(decoys) == 3 * KINDS
    assert Counter(c.kind for c in decoys) == {
        "namesake_other_dob": 24, "one_name_replaced": 22, "twin_same_dob": 26,
        "traveller": 27}
    for case in decoys:
        colliding = any(evaluation.consistent(case.query, r) for r in LISTED)
        assert colliding == (case.kind == "ambiguous")


def test_the_small_run_gives_these_figures(cases: list[evaluation.Case]) -> None:
    tally = evaluation.run(screening.ScreeningIndex.build(LISTED), cases)
    g = tally.groups
    # Short forms, Wade-Giles, compound halves and two-typo words found (2026-12-02):
    # 51 -> 54, 81 -> 85.
    assert (g["headline"].variants, g["headline"].found) == (54, 54)  # 0101/0000: year only
    assert (g["changed"].variants, g["changed"].found) == (86, 85)
    assert (g["identical"].variants, g["identical"].found) == (13, 13)
    assert (g["all"].correct, g["all"].false, g["all"].neutral) == (98, 1, 0)
    assert (tally.decoys, tally.decoys_flagged, tally.ambiguous, tally.ambiguous_flagged) == (
        99, 1, 0, 0)
    assert g["kind:dob_swapped"].recall == 1.0
    assert g["kind:dob_placeholder_0101"].recall == 1.0  # the year only known
    assert g["kind:space_lost"].recall == 1.0
    # A year slip finds the person when no one on the list has the date as written.
    assert g["kind:dob_year_off_by_one"].recall == 1.0


def test_a_person_cut_by_the_cap_is_a_miss_counted_as_not_shown() -> None:
    namesakes = tuple(record(f"CKL-{i}", "Budi Santoso", f"197{i}-01-02") for i in range(3))
    index = screening.ScreeningIndex.build(namesakes)
    query = screening.NameQuery("Budi Santoso")  # no date of birth: all three tie
    cases = [evaluation.Case(query, namesakes[2], "dob_missing")]
    capped = evaluation.run(index, cases, max_hits=2).groups["all"]
    assert (capped.found, capped.hidden) == (0, 1)
    assert (capped.recall, capped.recall_uncapped) == (0.0, 1.0)
    # The two shown are namesakes the query cannot tell apart: neutral, so lenient
    # precision has nothing to count and strict precision counts them as false.
    assert (capped.correct, capped.neutral, capped.false) == (0, 2, 0)
    assert (capped.precision, capped.strict_precision) == (1.0, 0.0)
    shown = evaluation.run(index, cases, max_hits=3).groups["all"]
    assert (shown.found, shown.hidden, shown.correct, shown.neutral) == (1, 0, 1, 2)
    assert shown.strict_precision == pytest.approx(1 / 3)


def test_a_typo_variant_makes_the_targets_namesake_neutral_not_a_lookalike() -> None:
    twins = (record("CKL-1", "Budi Santoso", "1970-01-02"),
             record("CKL-2", "Budi Santoso", "1970-01-02"),
             record("CKL-3", "Budi Sentosa", "1970-01-02"))
    index = screening.ScreeningIndex.build(twins)
    case = evaluation.Case(screening.NameQuery("Budi Santosoo", "1970-01-02"), twins[0], "typo",
                           source="Budi Santoso")
    tally = evaluation.run(index, [case]).groups["all"]
    # CKL-2 has the name the clerk meant: neutral. CKL-3 (Sentosa) is another person.
    assert (tally.correct, tally.neutral, tally.false) == (1, 1, 1)


@pytest.mark.parametrize(("query", "dob", "listed", "listed_dob", "expected"), [
    ("Budi Santoso", "", "Budi Hartono Santoso", "1970-01-31", True),     # dropped name
    ("B. Santoso", "1970", "Budi Hartono Santoso", "1970-01-31", True),   # initial, year
    ("Mohammed Santoso", "", "Muhammad Santoso", "1970-01-31", True),     # romanisation
    ("Abd ar-Rahman Hakim", "", "Abdurrahman Hakim", "1970-01-31", True),  # compound
    ("Chen Swie Hok", "", "Tan Swie Hok", "1970-01-31", True),            # one surname
    ("WahyuHidayat", "", "Wahyu Hidayat", "1970-01-31", True),            # space lost
    ("SANTOSO<<BUDI", "", "Budi Santoso", "1970-01-31", True),            # MRZ
    ("Budi Susanto", "", "Budi Santoso", "1970-01-31", False),            # another word
    ("Lim Swie Hok", "", "Tan Swie Hok", "1970-01-31", False),            # another surname
    ("Budi Santoso", "1971-01-31", "Budi Santoso", "1970-01-31", False),  # another year
    ("Budi Santoso", "1970-01-30", "Budi Santoso", "1970-01-31", False),  # another day
    ("Siti Aisyah", "", "Siti Aisyah binti Hassan", "1988", True),        # patronymic
])
def test_consistent(query: str, dob: str, listed: str, listed_dob: str, expected: bool) -> None:
    listed_record = record("CKL-1", listed, listed_dob)
    assert evaluation.consistent(screening.NameQuery(query, dob), listed_record) is expected


def test_held_out_figures_never_print_a_miss(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        evaluation.main(["--sizes", "300", "--queries", "40", "--details"])
    assert "tuning split only" in capsys.readouterr().err
    assert evaluation.main(["--sizes", "300", "--queries", str(KINDS)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"held-out split: list seed {evaluation.HELD_OUT[0]}, query seed "
                          f"{evaluation.HELD_OUT[1]};")
    assert "HEADLINE recall" in out
    assert "strict precision" in out
    assert "lenient" in out
    assert "MISS" not in out
    assert all(f"    {kind} " in out for kind in evaluation.VARIANT_KINDS)


def test_tuning_details_print_the_misses(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluation.main(["--split", "tuning", "--sizes", "300", "--queries",
                            str(10 * KINDS), "--details"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"tuning split: list seed {evaluation.TUNING[0][0]}")
    misses = [line for line in out.splitlines() if line.startswith("    MISS ")]
    every = re.search(r"every query +n= *(\d+) recall ([\d.]+)", out)
    assert every is not None
    assert len(misses) == round(int(every[1]) * (1 - float(every[2])))
    assert misses  # 330 variants on a 300-person list: some are missed
    assert all(re.fullmatch(r"    MISS \w+: '.+' '[\d-]*' '[A-Z]*' for '.+' '[\d-]+'", m)
               for m in misses)


def test_an_ambiguous_decoy_is_counted_apart_and_its_lookalikes_are_neutral() -> None:
    twins = (record("CKL-1", "Budi Santoso", "1970-01-02"),
             record("CKL-2", "Budi Santoso", "1970-01-02"))
    case = evaluation.Case(screening.NameQuery("Budi Santoso", "1970-01-02"), None, "ambiguous")
    tally = evaluation.run(screening.ScreeningIndex.build(twins), [case])
    assert (tally.ambiguous, tally.ambiguous_flagged, tally.decoys) == (1, 1, 0)
    counts = tally.groups["kind:ambiguous"]
    assert (counts.correct, counts.neutral, counts.false) == (0, 2, 0)
    assert (counts.precision, counts.strict_precision) == (1.0, 0.0)
