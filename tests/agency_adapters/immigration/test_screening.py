"""Watchlist screening finds listed people despite variants and ignores namesakes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from agency_adapters.immigration import screening, synthetic
from agency_adapters.immigration.records import IdentityDocument, WatchlistRecord


def record(entry_id: str, name: str, dob: str, nationality: str = "IDN",
           aliases: tuple[str, ...] = ()) -> WatchlistRecord:
    return WatchlistRecord(
        entry_id=entry_id, full_name=name, aliases=aliases, date_of_birth=dob, sex="M",
        nationality=nationality, documents=(IdentityDocument("PASSPORT", "B1234567",
                                                             nationality),),
        national_id="", ban_type="EXIT_PREVENTION", legal_basis="UU 6/2011 Pasal 91",
        issuing_authority="Jaksa Agung", valid_from="2025-01-01", valid_until="2026-12-31",
        case_reference="IMI.1-GR.01.000001")


LISTED = (
    record("CKL-1", "Muhammad Yusuf bin Abdullah", "1971-03-05"),
    record("CKL-2", "Djoko Soeharto", "1960-11-02", aliases=("Joko Suharto",)),
    record("CKL-3", "Jan van der Berg", "1980-07-14", nationality="NLD"),
    *synthetic.generate(2000, seed=99),
)
INDEX = screening.ScreeningIndex.build(LISTED)


@pytest.mark.parametrize(("name", "dob", "expected"), [
    ("MUHAMMAD YUSUF BIN ABDULLAH", "1971-03-05", "CKL-1"),     # case, particle
    ("Mohammed Yusof Abdullah", "1971-03-05", "CKL-1"),         # transliteration
    ("Abdullah, Muhammad Yusuf", "1971", "CKL-1"),              # reordered, year only
    ("Muhamad Jusuf", "1971-05-03", "CKL-1"),                   # misspelt, shortened, d/m swap
    ("Joko Suharto", "1960-11-02", "CKL-2"),                    # new spelling
    ("Djoko Soehartto", "", "CKL-2"),                           # typo, no DOB
    ("Jan Van Den Berg", "1980-07-14", "CKL-3"),                # particle variant
    ("Jān vän der Berg", "1980-07-14", "CKL-3"),                # diacritics
])
def test_variants_of_a_listed_name_are_found(name: str, dob: str, expected: str) -> None:
    hits = INDEX.screen(screening.NameQuery(name, dob))
    assert hits, "no hit"
    assert hits[0].entry_id == expected, [(h.entry_id, h.score) for h in hits]
    assert hits[0].score >= INDEX.threshold
    assert "full_name" in hits[0].matched_fields or "aliases" in hits[0].matched_fields


MATCHING: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parents[2] / "vectors" / "screening_cases.yaml").read_text())["matching"]


@pytest.mark.parametrize("case", MATCHING, ids=lambda c: f"{c['query']['name']}/{c['why']}")
def test_matching_cases(case: dict[str, Any]) -> None:
    listed = case["listed"]
    others = tuple(record(f"CKL-X{i}", name, "1950-01-01")
                   for i, name in enumerate(case.get("also_listed", ())))
    index = screening.ScreeningIndex.build((
        record("CKL-CASE", listed["name"], listed["dob"], listed.get("nationality", "IDN")),
        *others))
    query = case["query"]
    hits = index.screen(screening.NameQuery(query["name"], query["dob"],
                                            query.get("nationality", "")))
    found = [h for h in hits if h.entry_id == "CKL-CASE"]
    assert bool(found) is case["match"], (case["why"], [(h.entry_id, h.score) for h in hits])
    for hit in found:
        assert hit.score >= index.threshold
        assert hit.matched_fields[0] == "full_name"


def test_namesake_with_another_birth_date_is_not_a_hit() -> None:
    hits = INDEX.screen(screening.NameQuery("Muhammad Yusuf bin Abdullah", "1990-01-01"))
    assert "CKL-1" not in [h.entry_id for h in hits]


def test_nationality_boosts_but_does_not_filter() -> None:
    same = INDEX.screen(screening.NameQuery("Jan van der Berg", "1980-07-14", "NLD"))[0]
    other = INDEX.screen(screening.NameQuery("Jan van der Berg", "1980-07-14", "BEL"))[0]
    assert same.entry_id == other.entry_id == "CKL-3"
    assert same.score > other.score
    assert "nationality" in same.matched_fields
    assert "nationality" not in other.matched_fields


def test_document_query_is_exact() -> None:
    hit = INDEX.screen(screening.DocumentQuery("PASSPORT", "B1234567", "NLD"))
    assert [h.entry_id for h in hit] == ["CKL-3"]
    assert INDEX.screen(screening.DocumentQuery("PASSPORT", "B1234568", "NLD")) == []


def test_a_slipped_date_finds_its_person_unless_someone_has_the_date_as_written() -> None:
    twins = (record("CKL-1", "Budi Santoso", "1967-02-03"),
             record("CKL-2", "Budi Santoso", "1968-02-03"),
             record("CKL-3", "Budi Santoso", "1967-02-13"))
    index = screening.ScreeningIndex.build(twins)
    # A year or a digit off, no one born on that date: the slips are shown, weaker.
    slipped = index.screen(screening.NameQuery("Budi Santoso", "1957-02-03"))
    assert [(h.entry_id, h.score, h.matched_fields) for h in slipped] == [
        ("CKL-1", 0.855, ("full_name",))]
    digit = index.screen(screening.NameQuery("Budi Santoso", "1967-02-14"))  # a day off
    assert [(h.entry_id, h.score) for h in digit] == [("CKL-3", 0.885)]
    # Someone has the date as written: only that person.
    exact = index.screen(screening.NameQuery("Budi Santoso", "1967-02-03"))
    assert [(h.entry_id, h.matched_fields) for h in exact] == [
        ("CKL-1", ("full_name", "date_of_birth"))]
    # A placeholder day and month says the year only: both born in 1967.
    placeholder = index.screen(screening.NameQuery("Budi Santoso", "1967-01-01"))
    assert sorted(h.entry_id for h in placeholder) == ["CKL-1", "CKL-3"]


def test_a_document_is_found_by_its_number_whoever_else_holds_a_number() -> None:
    nik = "3171010203040005"
    held = dataclasses.replace(
        record("CKL-9", "Rina Lestari", "1990-02-03"), national_id=nik,
        documents=(IdentityDocument("PASSPORT", "C7654321", "IDN"),
                   IdentityDocument("NATIONAL_ID", nik, "IDN")))
    index = screening.ScreeningIndex.build((*LISTED[:3], held, record("CKL-8", "Eko", "1990")))
    by_nik = index.screen(screening.DocumentQuery("NATIONAL_ID", nik, "IDN"))
    assert [(h.entry_id, h.matched_fields) for h in by_nik] == [("CKL-9", ("national_id",))]
    by_passport = index.screen(screening.DocumentQuery("PASSPORT", "C7654321", "IDN"))
    assert [(h.entry_id, h.matched_fields) for h in by_passport] == [
        ("CKL-9", ("documents.number", "documents.issuing_country", "documents.type"))]
    shared = index.screen(screening.DocumentQuery("PASSPORT", "B1234567", "IDN"))
    assert [h.entry_id for h in shared] == ["CKL-1", "CKL-2", "CKL-8"]
    assert index.screen(screening.DocumentQuery("PASSPORT", "C7654322", "IDN")) == []
