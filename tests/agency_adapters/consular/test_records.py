"""Consular data files: round-trip, strict refusal with file:line:field, synthetic determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agency_adapters.common import records as common
from agency_adapters.consular import records, synthetic

SAMPLE = synthetic.generate(80)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_round_trip_through_a_data_directory(tmp_path: Path, fmt: str) -> None:
    synthetic.write(SAMPLE, tmp_path, fmt)
    assert records.load_data(tmp_path) == SAMPLE


def test_permits_without_sponsor_round_trip_in_csv(tmp_path: Path) -> None:
    without = [p for p in SAMPLE.permits if p.sponsor is None]
    assert without, "the sample should hold visit permits without a sponsor"
    path = tmp_path / "permits.csv"
    common.write_csv(records.PERMITS, without, path)
    assert records.PERMIT_CSV[-3:] == ("sponsor_name", "sponsor_address", "sponsor_phone")
    assert common.load(records.PERMITS, path) == tuple(without)


def test_bad_permit_row_refuses_the_file_without_quoting_personal_values(tmp_path: Path) -> None:
    path = tmp_path / "permits.jsonl"
    common.write_jsonl(records.PERMITS, SAMPLE.permits, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[4])
    row["passport_number"] = "secret-no"
    lines[4] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(records.RecordError) as info:
        common.load(records.PERMITS, path)
    assert (info.value.line, info.value.field) == (5, "passport_number")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(("changes", "field"), [
    ({"type": "KITAS"}, "type"),
    ({"status": "ACTIVE"}, "status"),  # a status is derived from the dates, never stored
    ({"ended": "ALIVE", "ended_on": "2024-01-01"}, "ended"),
    ({"expires_on": "2000-01-01"}, "expires_on"),
    ({"sponsor": {"name": "PT X", "address": "Jl. Y"}}, "sponsor"),
    ({"sponsor": {"name": "PT X", "address": "Jl. Y", "phone": "call me"}}, "sponsor.phone"),
    ({"type": "ITAS", "sponsor": None}, "sponsor"),
    ({"nationality": "nld"}, "nationality"),
])
def test_each_bad_permit_field_is_named(changes: dict[str, object], field: str) -> None:
    row = records.permit_to_mapping(SAMPLE.permits[0]) | changes
    with pytest.raises(records.RecordError) as info:
        common.from_mapping(records.PERMITS, row)
    assert info.value.field == field


def test_bad_csv_notification_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "notifications.csv"
    common.write_csv(records.NOTIFICATIONS, SAMPLE.notifications, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "KN-1,ARREST,Some Body,AB12345,NLD,2024-13-01,Bali,Polda,summary")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(records.RecordError) as info:
        common.load(records.NOTIFICATIONS, path)
    assert (info.value.line, info.value.field) == (4, "date")


def test_passport_register_accepts_only_embassy_countries_and_full_dates() -> None:
    row = records.passport_to_mapping(SAMPLE.passports[0])
    with pytest.raises(records.RecordError, match="issuing_country: 'IDN' has no embassy"):
        common.from_mapping(records.PASSPORTS, row | {"issuing_country": "IDN"})
    with pytest.raises(records.RecordError, match="date_of_birth: must be YYYY-MM-DD"):
        common.from_mapping(records.PASSPORTS, row | {"date_of_birth": "1980"})


def test_synthetic_data_is_deterministic_and_linked() -> None:
    assert synthetic.generate(150) == synthetic.generate(150)
    assert synthetic.generate(150, seed=7) != synthetic.generate(150)
    data = synthetic.generate(400)
    register = {(p.issuing_country, p.passport_number) for p in data.passports}
    embassy_permits = [p for p in data.permits if p.nationality in records.EMBASSY_COUNTRIES]
    assert embassy_permits
    assert all((p.nationality, p.passport_number) in register for p in embassy_permits)
    assert {n.nationality for n in data.notifications} >= {"NLD", "AUS", "MYS"}



def _itk(**changes: object) -> dict[str, object]:
    return {"permit_number": "IT0000000009", "type": "ITK", "passport_number": "NA1234567",
            "nationality": "NLD", "holder_name": "Jan de Vries", "issued_on": "2026-01-01",
            "expires_on": "2026-03-01", "extensions": [], "ended": "", "ended_on": "",
            "sponsor": None} | changes


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"expires_on": "2026-03-02"}, "expires_on",
     "an ITK is granted for at most 60 days (PP 31/2013 Pasal 136 as amended); this one runs 61"),
    ({"extensions": ["2026-03-31", "2026-04-30", "2026-05-30", "2026-06-29", "2026-07-29"]},
     "extensions[4]", "an ITK is extended at most 4 times (PP 31/2013 Pasal 136 as amended)"),
    ({"extensions": ["2026-04-01"]}, "extensions[0]",
     "an ITK extension is at most 30 days (PP 31/2013 Pasal 136 as amended)"),
    ({"extensions": ["2026-02-01"]}, "extensions[0]", "must be after the expiry it extends"),
    ({"type": "ITAP", "expires_on": "2031-01-05"}, "expires_on",
     "an ITAP is granted for at most 1830 days (UU 6/2011; PP 31/2013 as amended); "
     "this one runs 1831"),
    ({"ended": "DEPARTED", "ended_on": "2026-04-01"}, "ended_on",
     "must fall within the permit's term (issued_on to its last expiry)"),
    ({"ended": "", "ended_on": "2026-02-01"}, "ended_on",
     "must be empty when the permit has not ended early"),
])
def test_stay_permit_terms_follow_the_regulation(changes: dict[str, object], field: str,
                                                 reason: str) -> None:
    with pytest.raises(records.RecordError) as info:
        common.from_mapping(records.PERMITS, _itk(**changes))
    assert (info.value.field, info.value.reason) == (field, reason)


def test_a_lawful_itk_with_four_extensions_loads_and_its_status_follows_the_dates() -> None:
    from datetime import date
    permit = common.from_mapping(records.PERMITS, _itk(
        expires_on="2026-03-01",
        extensions=["2026-03-31", "2026-04-30", "2026-05-30", "2026-06-29"]))
    assert permit.valid_until == "2026-06-29"  # 180 days in all
    assert [permit.status(date.fromisoformat(d)) for d in
            ("2025-12-31", "2026-01-01", "2026-06-29", "2026-06-30")] == [
        "NOT_YET_VALID", "ACTIVE", "ACTIVE", "EXPIRED"]
