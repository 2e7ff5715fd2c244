"""Watchlist files: JSONL and CSV round-trip; one bad row refuses the file, naming the line."""

from __future__ import annotations

import dataclasses
import json
import pickle
import tracemalloc
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


# --- How records are held (packed; docs/ADAPTERS.md "Memory and build time") ------------

def test_loaded_records_equal_generated_ones_field_by_field_and_share_repeated_values(
        tmp_path: Path) -> None:
    path = tmp_path / "watchlist.csv"
    records.write_csv(SAMPLE, path)
    loaded = records.load_records(path)
    for got, want in zip(loaded, SAMPLE, strict=True):
        for f in dataclasses.fields(records.WatchlistRecord):
            assert getattr(got, f.name) == getattr(want, f.name), f.name
        # Dates and codes repeat across a list: one object each, whoever made the record.
        for name in ("date_of_birth", "valid_from", "valid_until", "nationality", "sex",
                     "ban_type", "legal_basis", "issuing_authority"):
            assert getattr(got, name) is getattr(want, name), name
    assert loaded[0].documents == (
        records.IdentityDocument("PASSPORT", SAMPLE[0].documents[0].number,
                                 SAMPLE[0].nationality),)


def test_a_record_behaves_as_a_frozen_dataclass() -> None:
    first = SAMPLE[0]
    changed = dataclasses.replace(first, valid_until="2099-12-31", aliases=("Budi S",))
    assert (changed.valid_until, changed.aliases) == ("2099-12-31", ("Budi S",))
    assert (changed.entry_id, changed.decisions) == (first.entry_id, first.decisions)
    assert changed != first
    assert dataclasses.replace(changed, valid_until=first.valid_until, aliases=first.aliases
                               ) == first
    assert hash(dataclasses.replace(first)) == hash(first)
    assert pickle.loads(pickle.dumps(first)) == first
    assert repr(first).startswith(f"WatchlistRecord(entry_id={first.entry_id!r}, "
                                  f"full_name={first.full_name!r}, aliases=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.full_name = "Someone Else"  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(first)] == [
        *records.FIELDS[:11], "valid_from", "valid_until", "case_reference", "decisions",
        "lifted_on"]


def test_text_holding_a_packing_separator_is_refused() -> None:
    for change in ({"full_name": "Budi\x1fSantoso"}, {"aliases": ("A\x1eB",)},
                   {"aliases": ("",)}, {"case_reference": "X\x1dY"}):
        with pytest.raises(ValueError, match="x1d"):
            dataclasses.replace(SAMPLE[0], **change)


def test_a_record_costs_a_third_of_a_kilobyte() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = synthetic.generate(2000, seed=5)
        per_record = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    finally:
        tracemalloc.stop()
    # 1,330 bytes as a plain dataclass with its documents and decisions as objects; about
    # 300 at a million, where nearly every date is already held by another record.
    assert 250 < per_record < 450
