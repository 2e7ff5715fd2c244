"""The screening evaluation runs end to end on a small list and keeps a quality floor."""

from __future__ import annotations

import pytest

from agency_adapters.immigration import evaluation, screening, synthetic
from tests.agency_adapters.immigration.test_screening import record

LISTED = synthetic.generate(2000)


def test_small_evaluation_reports_its_figures_above_a_floor() -> None:
    index = screening.ScreeningIndex.build(LISTED)
    cases = evaluation.make_cases(LISTED, 200)
    tally = evaluation.run(index, cases)
    assert (tally.variants, tally.decoys, len(tally.latencies)) == (200, 200, 400)
    # Fixed seeds: the figures are deterministic; the floor leaves room for small
    # scoring changes but catches a broken step (normalisation, blocking, DOB rule).
    assert tally.recall >= 0.95
    assert tally.precision >= 0.90
    assert 0.0 < tally.strict_precision <= tally.precision
    assert tally.latency_ms(0.5) <= tally.latency_ms(0.99)
    assert sum(tally.misses.values()) == tally.variants - tally.found
    assert tally.recall <= tally.recall_uncapped
    assert tally.hidden <= tally.truncated


def test_a_person_cut_by_the_cap_is_a_miss_counted_as_not_shown() -> None:
    namesakes = tuple(record(f"CKL-{i}", "Budi Santoso", f"197{i}-01-02") for i in range(3))
    index = screening.ScreeningIndex.build(namesakes)
    query = screening.NameQuery("Budi Santoso")  # no date of birth: all three tie
    cases = [evaluation.Case(query, namesakes[2], "as_listed", "missing")]
    capped = evaluation.run(index, cases, max_hits=2)
    assert (capped.found, capped.hidden, capped.truncated) == (0, 1, 1)
    assert dict(capped.misses) == {"as_listed/missing (not shown)": 1}
    assert (capped.recall, capped.recall_uncapped) == (0.0, 1.0)
    assert (capped.correct, capped.neutral, capped.false) == (0, 2, 0)  # namesakes: neutral
    shown = evaluation.run(index, cases, max_hits=3)
    assert (shown.found, shown.hidden, shown.truncated, shown.correct) == (1, 0, 0, 1)


def test_a_typo_variant_remembers_the_name_without_its_typo() -> None:
    variants = [c for c in evaluation.make_cases(LISTED, 300) if c.target is not None]
    typos = [c for c in variants if c.intended]
    assert typos
    assert {c.kind for c in typos} <= {"typo", "two_changes"}
    for case in typos:
        assert case.meant.full_name != case.query.full_name
        assert case.meant.date_of_birth == case.query.date_of_birth
        # The typo undone, nothing else: the same words but one, which differs by a letter.
        written, meant = case.query.full_name.split(), case.meant.full_name.split()
        assert len(written) == len(meant)
        assert sum(a != b for a, b in zip(written, meant, strict=True)) == 1
    for case in variants:
        if case.kind not in ("typo", "two_changes"):
            assert (case.intended, case.meant) == ("", case.query)


def test_decoys_are_never_consistent_with_a_listed_person() -> None:
    cases = evaluation.make_cases(LISTED, 40)
    decoys = [c for c in cases if c.target is None]
    assert len(decoys) == 40
    assert {c.kind for c in decoys} == set(evaluation.DECOY_KINDS)
    for case in decoys:
        assert not any(evaluation.consistent(case.query, r) for r in LISTED)


def test_variants_cover_every_kind_and_date_form() -> None:
    variants = [c for c in evaluation.make_cases(LISTED, 300) if c.target is not None]
    assert {c.kind for c in variants} == set(evaluation.VARIANT_KINDS)
    assert {c.dob_form for c in variants} == {form for form, _ in evaluation.DOB_FORMS}


@pytest.mark.parametrize(("query", "dob", "listed", "listed_dob", "expected"), [
    ("Budi Santoso", "", "Budi Hartono Santoso", "1970-01-31", True),     # dropped name
    ("B. Santoso", "1970", "Budi Hartono Santoso", "1970-01-31", True),   # initial, year
    ("Mohammed Santoso", "", "Muhammad Santoso", "1970-01-31", True),     # table spelling
    ("Budi Susanto", "", "Budi Santoso", "1970-01-31", False),            # another word
    ("Budi Santoso", "1971-01-31", "Budi Santoso", "1970-01-31", False),  # another year
    ("Siti Aisyah", "", "Siti Aisyah binti Hassan", "1988", True),        # patronymic
])
def test_consistent(query: str, dob: str, listed: str, listed_dob: str, expected: bool) -> None:
    record = synthetic.generate(1)[0]
    record = type(record)(**{**{f: getattr(record, f) for f in record.__slots__},
                             "full_name": listed, "aliases": (), "date_of_birth": listed_dob})
    assert evaluation.consistent(screening.NameQuery(query, dob), record) is expected


def test_main_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluation.main(["--sizes", "500", "--queries", "40", "--details"]) == 0
    out = capsys.readouterr().out
    for figure in ("recall", "precision", "F1", "p50", "p99", "index build", "peak RSS",
                   "strict precision", "misses by kind", "truncated answers",
                   "matched but not shown"):
        assert figure in out
