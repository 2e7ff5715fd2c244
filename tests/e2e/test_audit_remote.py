"""A remote auditor: `g2g audit --as AUDITOR` over the broker's Audit service, with its own
certificate only (no broker config, database or log secret), prints what local mode prints."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from g2g_sdk import pki

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY
from tests.e2e.conftest import POLRI, Fed, screened_log

FEDERATION_AUDITOR = "ID/GOV/KEMENKUMHAM-AUDIT"
IMIGRASI_AUDITOR = "ID/GOV/IMIGRASI/AUDIT"


@pytest.fixture
async def live(tmp_path: Path, pki_dir: Path) -> AsyncIterator[tuple[Fed, Path]]:
    """A running broker whose log holds 4 exchanges; every commit signs a checkpoint."""
    fed, config = await screened_log(tmp_path, pki_dir, checkpoint_every=1)
    try:
        yield fed, config
    finally:
        await fed.federation.stop()


def own_files(pki_dir: Path, auditor: str, into: Path) -> Path:
    """What an auditor holds on its own machine: the CA, its own key pair, the log key."""
    into.mkdir()
    shutil.copy(pki_dir / "ca.crt", into / "ca.crt")
    mine = pki.party_dir(into, auditor)
    shutil.copytree(pki.party_dir(pki_dir, auditor), mine)
    (into / "broker").mkdir()
    shutil.copy(pki_dir / "broker" / "log.pub", into / "broker" / "log.pub")
    return into


async def g2g(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI off the event loop (its gRPC calls are blocking; the broker runs here)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def remote(fed: Fed, auditor_dir: Path, auditor: str = FEDERATION_AUDITOR) -> list[str]:
    return ["audit", "--as", auditor, "--broker", fed.federation.address,
            "--registry", str(REGISTRY), "--pki-dir", str(auditor_dir)]


async def test_remote_reads_print_what_local_reads_print(
        live: tuple[Fed, Path], pki_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fed, config = live
    monkeypatch.chdir(tmp_path)  # no deployment here: remote mode needs none
    mine = own_files(pki_dir, FEDERATION_AUDITOR, tmp_path / "auditor")
    local = ["audit", "--config", str(config)]
    for query in (["query", "--consumer", POLRI, "--format", "jsonl"],
                  ["query", "--name", "Budi Santoso", "--dob", "1980-02-03", "--format", "csv"],
                  ["query", "--kind", "outcome"]):
        code, here, err = await g2g(capsys, *local, *query)
        assert code == 0, err
        code, there, err = await g2g(capsys, *remote(fed, mine), *query)
        assert code == 0, err
        assert there == here
        assert there.strip()
    assert len(here.splitlines()) == 5  # the table's header and the 4 outcomes

    code, there, err = await g2g(capsys, *remote(fed, mine), "proof", "--seq", "1")
    assert code == 0, err
    proof = json.loads(there)
    assert proof["verified"] is True
    assert proof["record"]["consumer"] == POLRI
    code, there, err = await g2g(capsys, *remote(fed, mine), "consistency", "2", "8")
    assert code == 0, err
    assert json.loads(there)["verified"] is True
    code, note, err = await g2g(capsys, *remote(fed, mine), "checkpoint")
    assert code == 0, err
    assert note.startswith("g2g-dev/audit\n")
    code, tail, err = await g2g(capsys, *remote(fed, mine), "tail", "-n", "3")
    assert code == 0, err
    assert tail.splitlines()[0].split()[:3] == ["seq", "time", "kind"]
    assert [line.split()[2] for line in tail.splitlines()[1:]] == ["audit_read"] * 3


async def test_a_remote_auditor_exports_a_bundle_and_verifies_it_offline(
        live: tuple[Fed, Path], pki_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fed, _ = live
    monkeypatch.chdir(tmp_path)
    mine = own_files(pki_dir, FEDERATION_AUDITOR, tmp_path / "auditor")
    bundle = tmp_path / "polri.json"
    code, _, err = await g2g(capsys, *remote(fed, mine), "export", "--consumer", POLRI,
                             "--out", str(bundle))
    assert code == 0, err
    assert "wrote" in err
    await fed.federation.stop()  # offline from here: no broker, no database, no secret
    code, text, err = await g2g(capsys, "audit", "verify", "--bundle", str(bundle),
                                "--key", str(mine / "broker" / "log.pub"), "--records")
    assert code == 0, err
    lines = text.splitlines()
    (verdict,) = [line for line in lines if not line.startswith(("note:", "{"))]
    assert verdict.startswith("OK: 8 of 8 record(s) proven, range [0, ")
    assert "selection: consumer=ID/GOV/POLRI" in verdict
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(r["consumer"], r["kind"]) for r in records] == [
        (POLRI, "request"), (POLRI, "outcome")] * 4


async def test_an_agency_auditor_exports_against_an_earlier_checkpoint(
        live: tuple[Fed, Path], pki_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fed, _ = live
    monkeypatch.chdir(tmp_path)
    mine = own_files(pki_dir, IMIGRASI_AUDITOR, tmp_path / "imigrasi-audit")
    bundle = tmp_path / "first-two.json"
    code, _, err = await g2g(capsys, *remote(fed, mine, IMIGRASI_AUDITOR), "export",
                             "--provider", "ID/GOV/IMIGRASI", "--at-size", "4",
                             "--out", str(bundle))
    assert code == 0, err
    assert "4 record(s) from [0, 4) with proofs against checkpoint size 4" in err
    code, text, err = await g2g(capsys, "audit", "verify", "--bundle", str(bundle),
                                "--key", str(mine / "broker" / "log.pub"))
    assert code == 0, err
    assert text.splitlines()[-1].endswith("checkpoint g2g-dev/audit size 4")


async def test_what_a_remote_auditor_may_not_do_is_refused_with_the_real_reason(
        live: tuple[Fed, Path], pki_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fed, _ = live
    monkeypatch.chdir(tmp_path)
    agency = own_files(pki_dir, IMIGRASI_AUDITOR, tmp_path / "imigrasi-audit")
    code, _, err = await g2g(capsys, *remote(fed, agency, IMIGRASI_AUDITOR), "query",
                             "--agency", POLRI)
    assert code == 1
    assert "AUDIT_ACCESS_DENIED" in err
    police = own_files(pki_dir, POLRI, tmp_path / "polri")
    code, _, err = await g2g(capsys, *remote(fed, police, POLRI), "checkpoint")
    assert code == 1
    assert "AUDIT_ACCESS_DENIED" in err
    code, _, err = await g2g(capsys, "audit", "--as", FEDERATION_AUDITOR, "--broker",
                             "127.0.0.1:1", "--registry", str(REGISTRY), "--pki-dir",
                             str(own_files(pki_dir, FEDERATION_AUDITOR, tmp_path / "a")),
                             "checkpoint")
    assert code == 1
    assert "BROKER_UNAVAILABLE" in err
    assert "the broker at 127.0.0.1:1 could not be reached" in err
