"""Interpol data files: JSONL and CSV round-trip; one bad row refuses the file, naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agency_adapters.common import records as common
from agency_adapters.interpol import records, synthetic

SAMPLE = synthetic.generate(40)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_round_trip_through_a_data_directory(tmp_path: Path, fmt: str) -> None:
    synthetic.write(SAMPLE, tmp_path, fmt)
    assert records.load_data(tmp_path) == (SAMPLE.notices, SAMPLE.sltd)


def _rewrite_jsonl(path: Path, index: int, **changes: object) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[index])
    row.update(changes)
    lines[index] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bad_notice_row_refuses_the_file_without_quoting_the_name(tmp_path: Path) -> None:
    synthetic.write(SAMPLE, tmp_path)
    path = tmp_path / "notices.jsonl"
    _rewrite_jsonl(path, 9, full_name="Secret\u0007Person")
    with pytest.raises(records.RecordError) as info:
        records.load_data(tmp_path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 10, "full_name")
    assert "Secret" not in str(info.value)
    assert str(info.value).startswith(f"{path}:10: full_name: ")


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"category": "PINK"}, "category", "is not one of"),
    ({"notice_id": "23/1"}, "notice_id", "must match"),
    ({"nationalities": ["IDN", "XXA"]}, "nationalities[1]", "not an assigned"),
    ({"date_of_birth": "1990-02-30"}, "date_of_birth", "not a calendar date"),
    ({"extra": 1}, "extra", "is not a record field"),
    ({"documents": [{"type": "PASSPORT", "number": "ab", "issuing_country": "IDN"}]},
     "documents[0].number", "must match"),
])
def test_each_bad_notice_field_is_named(tmp_path: Path, changes: dict[str, object], field: str,
                                        reason: str) -> None:
    path = tmp_path / "notices.jsonl"
    common.write_jsonl(records.NOTICES, SAMPLE.notices, path)
    _rewrite_jsonl(path, 0, **changes)
    with pytest.raises(records.RecordError) as info:
        records.load_notices(path)
    assert (info.value.line, info.value.field) == (1, field)
    assert reason in info.value.reason
    if field.startswith("documents"):
        assert "ab" not in str(info.value).split(": ", 1)[1]


def test_charges_are_required_for_red_and_refused_otherwise() -> None:
    red = next(n for n in SAMPLE.notices if n.category == "RED")
    row = records.notice_to_mapping(red) | {"charges": []}
    with pytest.raises(records.RecordError, match="charges: is required for a RED notice"):
        common.from_mapping(records.NOTICES, row)
    yellow = next(n for n in SAMPLE.notices if n.category == "YELLOW")
    row = records.notice_to_mapping(yellow) | {"charges": ["Fraud"]}
    with pytest.raises(records.RecordError, match="only RED notices carry charges"):
        common.from_mapping(records.NOTICES, row)


def test_bad_csv_sltd_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "sltd.csv"
    common.write_csv(records.SLTD, SAMPLE.sltd[:10], path)
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[3] = "MISPLACED"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(records.RecordError) as info:
        records.load_sltd(path)
    assert (info.value.line, info.value.field) == (6, "status")


def test_duplicate_sltd_entry_and_wrong_header_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sltd.jsonl"
    common.write_jsonl(records.SLTD, (*SAMPLE.sltd[:3], SAMPLE.sltd[1]), path)
    with pytest.raises(records.RecordError, match=r":4: number: duplicate of line 2"):
        records.load_sltd(path)
    csv_path = tmp_path / "sltd.csv"
    csv_path.write_text("number,issuing_country\n", encoding="utf-8")
    with pytest.raises(records.RecordError, match=r":1: header: must be exactly"):
        records.load_sltd(csv_path)


def test_data_directory_needs_exactly_one_file_per_kind(tmp_path: Path) -> None:
    synthetic.write(SAMPLE, tmp_path, "jsonl")
    synthetic.write(SAMPLE, tmp_path, "csv")
    with pytest.raises(records.RecordError, match=r"holds both notices\.jsonl and notices\.csv"):
        records.load_data(tmp_path)


def test_synthetic_data_is_deterministic_and_seed_dependent() -> None:
    assert synthetic.generate(200) == synthetic.generate(200)
    assert synthetic.generate(200, seed=1) != synthetic.generate(200)
    data = synthetic.generate(500)
    assert len(data.notices) == 500
    assert len(data.sltd) == 1000
    assert len({n.notice_id for n in data.notices}) == 500
    assert {n.category for n in data.notices} == set(records.CATEGORIES)


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"status": "SUSPENDED"}, "status", "'SUSPENDED' is not one of ACTIVE, CANCELLED, WITHDRAWN"),
    ({"status": "ACTIVE", "status_date": "2024-01-01"}, "status_date",
     "must be empty for an ACTIVE notice"),
    ({"status": "CANCELLED", "status_date": ""}, "status_date", "must be a date YYYY-MM-DD"),
    ({"status": "WITHDRAWN", "issued_on": "2022-03-01", "valid_until": "2027-03-01",
      "notice_id": "2022/1", "status_date": "2021-12-31"}, "status_date",
     "a notice is withdrawn between issued_on and valid_until"),
])
def test_notice_status_and_its_date_are_checked(tmp_path: Path, changes: dict[str, object],
                                                field: str, reason: str) -> None:
    path = tmp_path / "notices.jsonl"
    common.write_jsonl(records.NOTICES, SAMPLE.notices, path)
    _rewrite_jsonl(path, 0, date_of_birth="1970-01-01", **changes)
    with pytest.raises(records.RecordError) as info:
        records.load_notices(path)
    assert (info.value.line, info.value.field, info.value.reason) == (1, field, reason)


def test_an_sltd_entry_is_cleared_after_it_was_reported(tmp_path: Path) -> None:
    path = tmp_path / "sltd.jsonl"
    common.write_jsonl(records.SLTD, SAMPLE.sltd, path)
    reported = SAMPLE.sltd[0].date_reported
    _rewrite_jsonl(path, 0, cleared_on=reported)
    with pytest.raises(records.RecordError) as info:
        records.load_sltd(path)
    assert (info.value.line, info.value.field, info.value.reason) == (
        1, "cleared_on", "must be after date_reported")


def test_seeded_notices_and_sltd_are_dated_relative_to_the_reference_day() -> None:
    from collections import Counter
    from datetime import date

    def mix(day: date) -> tuple[Counter[str], Counter[bool]]:
        data = synthetic.generate(600, today=day)
        return (Counter(n.standing(day) for n in data.notices),
                Counter(s.listed_on(day) for s in data.sltd))

    now, later = mix(date(2026, 12, 1)), mix(date(2029, 6, 30))
    assert now == later  # the same mix whatever the day
    standings, listed = now
    assert standings["IN_FORCE"] > 300
    assert standings["CANCELLED"] > 15
    assert standings["WITHDRAWN"] > 5
    assert standings["EXPIRED"] > 50
    assert 0 < listed[False] < listed[True] / 5
    names = [n.full_name for n in synthetic.generate(20, today=date(2026, 12, 1)).notices]
    assert names == [n.full_name for n in synthetic.generate(20, today=date(2029, 6, 30)).notices]
