"""`g2g adapter serve` as a process: SIGHUP swaps imported data in; a broken file is kept out."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from agency_adapters.common import records as r
from agency_adapters.interpol.records import SLTD, SltdRecord
from g2g_cli.main import main
from tests.conftest import REGISTRY

pytestmark = pytest.mark.asyncio


async def _event(stream: asyncio.StreamReader, name: str) -> dict[str, Any]:
    """The next JSON log line whose event is `name` (other lines are skipped)."""
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"the adapter exited before logging {name}")
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == name:
            return event


async def test_sighup_swaps_an_import_in_and_keeps_serving_on_a_broken_file(
        tmp_path: Path, pki_dir: Path) -> None:
    root = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "g2g_cli.main", "adapter", "serve", "interpol",
        "--registry", str(REGISTRY), "--pki-dir", str(pki_dir), "--listen", "127.0.0.1:0",
        "--data-root", str(root), "--reload-interval", "3600",  # only SIGHUP reloads here
        stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    try:
        ready = await asyncio.wait_for(_event(process.stderr, "adapter_ready"), 60)
        assert ready["data"] == {"interpol": str(root / "interpol")}

        stolen = SltdRecord(number="ZQ9999999", issuing_country="IDN", document_type="PASSPORT",
                            status="STOLEN", date_reported="2025-06-30", reporting_country="IDN")
        r.write(SLTD, [stolen], tmp_path / "sltd.csv")
        assert main(["data", "import", "interpol", str(tmp_path / "sltd.csv"),
                     "--data-root", str(root)]) == 0
        process.send_signal(signal.SIGHUP)
        swapped = await asyncio.wait_for(_event(process.stderr, "data_reloaded"), 60)
        assert swapped["generation"] == 1
        assert swapped["sources"]["sltd"] == f"{root / 'interpol' / 'sltd.jsonl'} (1 records)"

        (root / "interpol" / "sltd.jsonl").write_text("{}\n", encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        failed = await asyncio.wait_for(_event(process.stderr, "data_reload_failed"), 60)
        assert (failed["file"], failed["line"], failed["field"], failed["level"]) == (
            str(root / "interpol" / "sltd.jsonl"), 1, "number", "error")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0


async def test_sighup_reloads_the_registry_and_refuses_an_invalid_one(
        tmp_path: Path, pki_dir: Path) -> None:
    registry = tmp_path / "agencies.yaml"
    registry.write_text(REGISTRY.read_text())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "g2g_cli.main", "adapter", "serve", "interpol",
        "--registry", str(registry), "--pki-dir", str(pki_dir), "--listen", "127.0.0.1:0",
        "--reload-interval", "3600", stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    try:
        await asyncio.wait_for(_event(process.stderr, "adapter_ready"), 60)
        good = registry.read_text().replace("name: State Intelligence Agency (BIN)",
                                            "name: Badan Intelijen Negara")
        registry.write_text(good)
        process.send_signal(signal.SIGHUP)
        swapped = await asyncio.wait_for(_event(process.stderr, "registry_reloaded"), 60)
        assert swapped["old_version"] != swapped["version"]

        registry.write_text(good.replace("  - id: ID/GOV/BIN\n", "  - id: ID/GOV/POLRI\n"))
        process.send_signal(signal.SIGHUP)
        refused = await asyncio.wait_for(_event(process.stderr, "registry_reload_rejected"), 60)
        assert refused["keeping_version"] == swapped["version"]
        assert refused["error"].startswith(
            f"CONFIG_INVALID: {registry}:")
        assert refused["error"].endswith(": agencies[2].id: duplicate agency id 'ID/GOV/POLRI'")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
