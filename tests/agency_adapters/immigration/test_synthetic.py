"""The synthetic watchlist is reproducible, valid and sized by a bounded flag."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

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
