"""The synthetic watchlist is reproducible, valid and sized by a bounded flag."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agency_adapters.common import calendar
from agency_adapters.immigration import records, synthetic


def test_same_seed_same_records_other_seed_other_records() -> None:
    assert synthetic.generate(50) == synthetic.generate(50)
    assert synthetic.generate(50, seed=1) != synthetic.generate(50)
    assert synthetic.generate(50)[:10] == synthetic.generate(10)


def test_names_are_varied_but_have_namesakes() -> None:
    sample = synthetic.generate(5000)
    names = Counter(r.full_name for r in sample)
    assert len(names) > 3500
    assert names.most_common(1)[0][1] > 5
    assert len({r.nationality for r in sample}) >= 10


def test_cli_writes_a_loadable_file_and_bounds_the_size(tmp_path: Path) -> None:
    out = tmp_path / "list.jsonl"
    assert synthetic.main(["--size", "30", "--out", str(out)]) == 0
    assert records.load_records(out) == synthetic.generate(30)
    with pytest.raises(SystemExit):
        synthetic.main(["--size", "1000001", "--out", str(out)])


def test_orders_are_dated_relative_to_the_reference_day_with_a_realistic_mix() -> None:
    from datetime import date

    from agency_adapters.immigration import orders

    def statuses(day: date) -> Counter[str]:
        sample = synthetic.generate(2000, today=day)
        return Counter(orders.standing(r.valid_from, r.valid_until, r.lifted_on, day).status
                       for r in sample)

    today = statuses(date(2026, 12, 1))
    assert today["IN_FORCE"] > 1100  # most orders bind
    assert 300 < today["EXPIRED"] < 600
    assert 100 < today["LIFTED"] < 300
    assert 30 < today["NOT_YET_IN_FORCE"] < 150
    # Another reference day: the same people and the same mix, other dates.
    later = synthetic.generate(50, today=date(2028, 3, 1))
    now = synthetic.generate(50, today=date(2026, 12, 1))
    assert [r.full_name for r in later] == [r.full_name for r in now]
    assert [r.valid_from for r in later] != [r.valid_from for r in now]
    assert statuses(date(2028, 3, 1)) == today
    sample = synthetic.generate(2000, today=date(2026, 12, 1))
    assert sum(len(r.decisions) > 1 and r.decisions[1].kind == "EXTENDED" for r in sample) > 300
    assert {r.nationality for r in sample if r.ban_type == "ENTRY_REFUSAL"}.isdisjoint({"IDN"})


def test_the_seed_date_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date
    monkeypatch.setenv("G2G_SEED_DATE", "2027-02-03")
    assert calendar.reference_date() == date(2027, 2, 3)
    assert synthetic.generate(5) == synthetic.generate(5, today=date(2027, 2, 3))
