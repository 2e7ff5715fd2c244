"""The law of cegah/tangkal orders: one refused import per legal rule, and the status
of an order on a given day (docs/DATA.md, "The law the watchlist follows")."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agency_adapters.immigration import orders, records, synthetic

TODAY = date(2026, 12, 1)


def issued(start: str, until: str, decided: str = "", ref: str = "KEP-1/JA/2026") -> dict[str, str]:
    return {"kind": "ISSUED", "reference": ref, "decided_on": decided or start,
            "valid_from": start, "valid_until": until}


def extended(start: str, until: str, decided: str, ref: str) -> dict[str, str]:
    return {"kind": "EXTENDED", "reference": ref, "decided_on": decided,
            "valid_from": start, "valid_until": until}


def lifted(on: str, ref: str = "KEP-1-C/JA/2026") -> dict[str, str]:
    return {"kind": "LIFTED", "reference": ref, "decided_on": on, "valid_from": on,
            "valid_until": ""}


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "entry_id": "CKL-2026-0000001", "full_name": "Budi Santoso", "aliases": [],
        "date_of_birth": "1970-01-02", "sex": "M", "nationality": "IDN", "documents": [],
        "national_id": "", "ban_type": "EXIT_PREVENTION",
        "legal_basis": "UU 6/2011 Pasal 91 ayat (2) huruf b", "issuing_authority": "JAKSA_AGUNG",
        "decisions": [issued("2026-06-01", "2026-11-30")], "case_reference": "IMI.1-GR.01.000001"}
    base.update(changes)
    return base


def refusal(tmp_path: Path, bad: dict[str, Any]) -> records.RecordError:
    """Import a file whose third line is `bad`; return the refusal."""
    path = tmp_path / "watchlist.jsonl"
    good = [row(entry_id="CKL-2026-0000002"), row(entry_id="CKL-2026-0000003")]
    path.write_text("".join(json.dumps(r) + "\n" for r in (*good, bad)))
    with pytest.raises(records.RecordError) as info:
        records.load_records(path)
    assert info.value.path == str(path)
    assert info.value.line == 3
    return info.value


def test_a_lawful_order_with_extension_and_lifting_loads() -> None:
    record = records.record_from_mapping(row(decisions=[
        issued("2026-01-10", "2026-07-09"),
        extended("2026-07-10", "2027-01-09", "2026-07-01", "KEP-1-P1/JA/2026"),
        lifted("2026-09-15")]))
    assert (record.valid_from, record.valid_until, record.lifted_on) == (
        "2026-01-10", "2027-01-09", "2026-09-15")


def test_exit_prevention_of_24_months_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[issued("2024-01-01", "2025-12-31")]))
    assert error.field == "decisions[0].valid_until"
    assert error.reason == ("a term of 731 days is longer than the 6 months UU 6/2011 Pasal 97 "
                            "ayat (1) allows (it must end by 2024-06-30)")


def test_a_second_extension_of_exit_prevention_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[
        issued("2025-01-01", "2025-06-30"),
        extended("2025-07-01", "2025-12-31", "2025-06-20", "KEP-1-P1/JA/2025"),
        extended("2026-01-01", "2026-06-30", "2025-12-20", "KEP-1-P2/JA/2025")]))
    assert error.field == "decisions[2].kind"
    assert "may be extended once (UU 6/2011 Pasal 97 ayat (1) as read by MK " \
           "64/PUU-IX/2011)" in error.reason


def test_an_extension_term_over_six_months_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[
        issued("2025-01-01", "2025-06-30"),
        extended("2025-07-01", "2026-01-01", "2025-06-20", "KEP-1-P1/JA/2025")]))
    assert error.field == "decisions[1].valid_until"
    assert "it must end by 2025-12-31" in error.reason


def test_entry_refusal_of_an_indonesian_national_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(ban_type="ENTRY_REFUSAL", issuing_authority="MENTERI",
                                  legal_basis="UU 6/2011 Pasal 98"))
    assert error.field == "nationality"
    assert error.reason.startswith("an entry refusal (penangkalan) applies to foreigners only")


def test_an_extension_starting_after_the_order_ended_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[
        issued("2025-01-01", "2025-06-30"),
        extended("2025-07-15", "2025-12-31", "2025-06-20", "KEP-1-P1/JA/2025")]))
    assert (error.field, error.reason) == (
        "decisions[1].valid_from",
        "starts after the order ended on 2025-06-30: an extension continues the order "
        "from the next day")


def test_an_extension_decided_after_the_order_ended_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[
        issued("2025-01-01", "2025-06-30"),
        extended("2025-07-01", "2025-12-31", "2025-07-02", "KEP-1-P1/JA/2025")]))
    assert error.field == "decisions[1].decided_on"
    assert error.reason.startswith("is after the order ended on 2025-06-30")


@pytest.mark.parametrize(("ban", "nationality", "authority", "law"), [
    ("EXIT_PREVENTION", "IDN", "BIN", "UU 6/2011 Pasal 91 ayat (2) names MENTERI, "
     "MENTERI_KEUANGAN, JAKSA_AGUNG, KAPOLRI, KPK, BNN, LEMBAGA_LAIN, PENGADILAN"),
    ("ENTRY_REFUSAL", "MYS", "KAPOLRI", "UU 6/2011 Pasal 98 ayat (1) names MENTERI"),
])
def test_an_authority_the_law_does_not_name_for_the_ban_type_is_refused(
        tmp_path: Path, ban: str, nationality: str, authority: str, law: str) -> None:
    error = refusal(tmp_path, row(ban_type=ban, nationality=nationality,
                                  issuing_authority=authority))
    assert error.field == "issuing_authority"
    assert error.reason == (f"{authority!r} may not order an {ban.lower().replace('_', ' ')}: "
                            f"{law}")


def test_entry_refusal_terms_follow_the_law_of_the_decision_date(tmp_path: Path) -> None:
    foreigner = {"ban_type": "ENTRY_REFUSAL", "nationality": "AUS",
                 "issuing_authority": "MENTERI", "legal_basis": "UU 6/2011 Pasal 98"}
    # Since UU 63/2024 (2024-10-17): up to 10 years.
    records.record_from_mapping(row(**foreigner, decisions=[issued("2025-01-01", "2034-12-31")]))
    error = refusal(tmp_path, row(**foreigner, decisions=[issued("2025-01-01", "2035-01-01")]))
    assert "it must end by 2034-12-31" in error.reason
    # Before it: 6 months.
    error = refusal(tmp_path, row(**foreigner, decisions=[issued("2023-01-01", "2024-01-01")]))
    assert error.reason.endswith("UU 6/2011 Pasal 102 ayat (1) (before UU 63/2024) allows "
                                 "(it must end by 2023-06-30)")


def test_only_a_pasal_102_2_entry_refusal_may_be_indefinite(tmp_path: Path) -> None:
    lifelong = {"ban_type": "ENTRY_REFUSAL", "nationality": "AUS",
                "issuing_authority": "MENTERI", "legal_basis": "UU 6/2011 Pasal 102 ayat (2)",
                "decisions": [issued("2025-01-01", "")]}
    assert records.record_from_mapping(row(**lifelong)).valid_until == ""
    error = refusal(tmp_path, row(decisions=[issued("2025-01-01", "")]))
    assert error.field == "decisions[0].valid_until"
    assert error.reason.startswith("is required: only an entry refusal under UU 6/2011 "
                                   "Pasal 102 ayat (2)")


def test_each_decision_has_its_own_reference(tmp_path: Path) -> None:
    error = refusal(tmp_path, row(decisions=[
        issued("2025-01-01", "2025-06-30"),
        extended("2025-07-01", "2025-12-31", "2025-06-20", "KEP-1/JA/2026")]))
    assert (error.field, error.reason) == (
        "decisions[1].reference", "same as decisions[0]: each decision has its own reference")


@pytest.mark.parametrize(("decisions", "field", "start"), [
    ([issued("2025-01-01", "2025-06-30"), lifted("2025-08-01")],
     "decisions[1].valid_from", "is after the order ended on 2025-06-30"),
    ([issued("2025-01-01", "2025-06-30"), lifted("2025-03-01"),
      extended("2025-07-01", "2025-12-31", "2025-06-20", "KEP-1-P1/JA/2025")],
     "decisions[2].kind", "follows the lifting"),
    ([extended("2025-07-01", "2025-12-31", "2025-06-20", "KEP-1-P1/JA/2025")],
     "decisions[0].kind", "the first decision must be ISSUED"),
    ([issued("2011-01-01", "2011-06-30")], "decisions[0].decided_on", "is before UU 6/2011"),
    ([issued("2025-01-01", "2025-06-30", decided="2025-01-05")],
     "decisions[0].valid_from", "is before decided_on"),
])
def test_lifecycle_mistakes_are_refused(tmp_path: Path, decisions: list[dict[str, str]],
                                        field: str, start: str) -> None:
    error = refusal(tmp_path, row(decisions=decisions))
    assert error.field == field
    assert error.reason.startswith(start)


def test_csv_decisions_cell_round_trips_and_a_bad_cell_names_the_decision(tmp_path: Path) -> None:
    sample = synthetic.generate(40, today=TODAY)
    path = tmp_path / "watchlist.csv"
    records.write_csv(sample, path)
    assert records.load_records(path) == sample
    text = path.read_text().splitlines()
    assert any("|EXTENDED:KEP-" in line for line in text)
    text[2] = text[2].replace(":KEP-", "-KEP-", 1)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(records.RecordError) as info:
        records.load_records(path)
    assert (info.value.line, info.value.field) == (3, "decisions[0]")
    assert info.value.reason == "must be KIND:REFERENCE:DECIDED_ON:FROM:UNTIL"


@pytest.mark.parametrize(("day", "status", "decisive"), [
    ("2026-01-09", "NOT_YET_IN_FORCE", "2026-01-10"),
    ("2026-01-10", "IN_FORCE", "2026-09-14"),
    ("2026-09-14", "IN_FORCE", "2026-09-14"),
    ("2026-09-15", "LIFTED", "2026-09-15"),
])
def test_standing_of_a_lifted_order(day: str, status: str, decisive: str) -> None:
    s = orders.standing("2026-01-10", "2027-01-09", "2026-09-15", date.fromisoformat(day))
    assert (s.status, s.decisive_date, s.in_force) == (status, decisive, status == "IN_FORCE")


def test_standing_expired_and_indefinite() -> None:
    assert orders.standing("2026-01-10", "2026-07-09", "", date(2026, 7, 9)).status == "IN_FORCE"
    assert orders.standing("2026-01-10", "2026-07-09", "", date(2026, 7, 10)) == \
        orders.Standing("EXPIRED", "2026-07-09")
    assert orders.standing("2020-01-10", "", "", date(2099, 1, 1)) == \
        orders.Standing("IN_FORCE", "")


def test_a_check_is_judged_on_the_jakarta_calendar_day() -> None:
    from datetime import UTC, datetime
    assert orders.local_day(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert orders.local_day(datetime(2026, 11, 30, 16, 59, tzinfo=UTC)) == date(2026, 11, 30)


def test_add_months_keeps_the_calendar() -> None:
    assert orders.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert orders.add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert orders.add_months(date(2026, 1, 10), 120) == date(2036, 1, 10)
