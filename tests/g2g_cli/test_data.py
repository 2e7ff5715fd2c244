"""`g2g data import|generate|check`: exit codes, FILE:LINE: field messages, refusal keeps data."""

from __future__ import annotations

from pathlib import Path

import pytest

from agency_adapters.common import records as r
from agency_adapters.consular.records import PERMITS
from g2g_cli.main import main


def test_generate_then_import_every_consular_data_set(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "generate", "consular", "--size", "40", "--seed", "3",
                 "--format", "csv", "--out", str(tmp_path / "gen")]) == 0
    root = tmp_path / "var-data"
    for name in ("permits", "notifications", "passports"):
        assert main(["data", "import", "consular", str(tmp_path / "gen" / f"{name}.csv"),
                     "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"into {root / 'consular' / 'permits.jsonl'}" in out
    assert sorted(p.name for p in (root / "consular").iterdir()) == [
        "notifications.jsonl", "passports.jsonl", "permits.jsonl"]
    assert (r.load(PERMITS, root / "consular" / "permits.jsonl")
            == r.load(PERMITS, tmp_path / "gen" / "permits.csv"))


def test_a_bad_row_refuses_the_whole_import_naming_file_line_and_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "var-data"
    main(["data", "generate", "immigration", "--size", "5", "--dataset", "watchlist",
          "--out", str(tmp_path / "watchlist.jsonl")])
    assert main(["data", "import", "immigration", str(tmp_path / "watchlist.jsonl"),
                 "--data-root", str(root)]) == 0
    stored = (root / "immigration" / "watchlist.jsonl").read_bytes()
    lines = (tmp_path / "watchlist.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"nationality":"', '"nationality":"X', 1)
    bad = tmp_path / "cekal.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["data", "import", "immigration", str(bad), "--data-root", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"g2g data import: refused, nothing changed: {bad}:3: nationality: ")
    assert (root / "immigration" / "watchlist.jsonl").read_bytes() == stored
    assert main(["data", "check", "immigration", str(bad)]) == 1
    assert f"{bad}:3: nationality:" in capsys.readouterr().err


def test_size_is_bounded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["data", "generate", "interpol", "--size", "1000001", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "must be between 1 and 1,000,000" in capsys.readouterr().err


def test_an_unwritable_data_root_is_reported_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "generate", "interpol", "--size", "1", "--dataset", "sltd",
                 "--out", str(tmp_path / "sltd.csv")]) == 0
    not_a_directory = tmp_path / "root"
    not_a_directory.write_text("a file, not a directory", encoding="utf-8")
    capsys.readouterr()
    assert main(["data", "import", "interpol", str(tmp_path / "sltd.csv"),
                 "--data-root", str(not_a_directory)]) == 1
    assert capsys.readouterr().err == (
        f"g2g data import: failed: {not_a_directory / 'interpol'}: Not a directory\n")


def test_generate_to_a_file_takes_its_format_from_the_extension_and_refuses_a_contradiction(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sltd.csv"
    assert main(["data", "generate", "interpol", "--dataset", "sltd", "--size", "5",
                 "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("number,")  # CSV, as named
    assert out.stat().st_mode & 0o777 == 0o600  # written like an import
    assert list(tmp_path.iterdir()) == [out]  # no temp file left behind
    assert main(["data", "generate", "interpol", "--dataset", "sltd", "--format", "jsonl",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"g2g data generate: --format jsonl contradicts {out}\n")


def test_check_and_import_refuse_an_exit_prevention_of_24_months(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    main(["data", "generate", "immigration", "--size", "3", "--dataset", "watchlist",
          "--out", str(tmp_path / "watchlist.jsonl")])
    capsys.readouterr()
    lines = (tmp_path / "watchlist.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[1])
    row.update(ban_type="EXIT_PREVENTION", nationality="IDN", issuing_authority="JAKSA_AGUNG",
               decisions=[{"kind": "ISSUED", "reference": "KEP-9/JA/2024",
                           "decided_on": "2024-01-01", "valid_from": "2024-01-01",
                           "valid_until": "2025-12-31"}])
    lines[1] = json.dumps(row)
    bad = tmp_path / "cekal.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    root = tmp_path / "var-data"
    for command in ("check", "import"):
        args = ["data", command, "immigration", str(bad)]
        assert main([*args, "--data-root", str(root)] if command == "import" else args) == 1
        err = capsys.readouterr().err
        assert f"{bad}:2: decisions[0].valid_until: a term of 731 days is longer than the " \
               "6 months UU 6/2011 Pasal 97 ayat (1) allows (it must end by 2024-06-30)" in err
    assert not (root / "immigration" / "watchlist.jsonl").exists()
