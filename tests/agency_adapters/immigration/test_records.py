"""Watchlist files: JSONL and CSV round-trip; one bad row refuses the file, naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agency_adapters.immigration import records, synthetic

SAMPLE = synthetic.generate(25)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"watchlist{suffix}"
    writer = records.write_csv if suffix == ".csv" else records.write_jsonl
    assert writer(SAMPLE, path) == 25
    assert records.load_records(path) == SAMPLE


def test_bad_row_is_reported_with_line_and_field_without_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.jsonl"
    records.write_jsonl(SAMPLE, path)
    lines = path.read_text().splitlines()
    row = json.loads(lines[6])
    row["nationality"] = "XYZ"
    row["full_name"] = "Secret\u0007Person"
    lines[6] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(records.RecordError) as info:
        records.load_records(path)
    assert info.value.line == 7
    assert info.value.field == "full_name"
    assert "Secret" not in str(info.value)
