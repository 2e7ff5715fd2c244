"""End-to-end: `g2g data import` into a running adapter, seen through the real broker (mTLS).

A good import is swapped in while the adapter serves; a bad one is refused
with FILE:LINE: field, and the adapter keeps answering from the data it had.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as pb
from g2g_sdk.registry import Registry

from agency_adapters.common import records as r
from agency_adapters.interpol.records import SLTD, SltdRecord
from agency_adapters.runner import open_data, start_adapters
from g2g_cli.main import main
from g2g_harness.federation import start_federation

pytestmark = pytest.mark.asyncio

INTERPOL = "INT/IO/INTERPOL"
IMIGRASI = "ID/GOV/IMIGRASI"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"


async def test_an_import_is_swapped_into_the_running_adapter_and_a_bad_one_is_refused(
        tmp_path: Path, pki_dir: Path, registry: Registry,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    live = open_data(("interpol",), root=root)
    providers = await start_adapters(("interpol",), registry, pki_dir, listen="127.0.0.1:0",
                                     live=live)
    fed = await start_federation(tmp_path / "fed", pki_dir=pki_dir,
                                 adapters=("immigration", "consular"),
                                 endpoints={INTERPOL: f"127.0.0.1:{providers[INTERPOL][1]}"})

    async def listed(number: str) -> tuple[bool, str]:
        async with fed.client(IMIGRASI) as client:
            answer = await client.call(CHECK, pb.DocumentCheckRequest(
                number=number, issuing_country="IDN"), purpose="border_control")
        assert isinstance(answer.payload, pb.DocumentCheckResponse)
        return answer.payload.listed, answer.payload.date_reported

    try:
        assert await listed("ZQ9999999") == (False, "")  # not in the seeded data
        stolen = SltdRecord(number="ZQ9999999", issuing_country="IDN", document_type="PASSPORT",
                            status="STOLEN", date_reported="2025-06-30", reporting_country="IDN")
        r.write(SLTD, [stolen], tmp_path / "sltd.csv")
        assert main(["data", "import", "interpol", str(tmp_path / "sltd.csv"),
                     "--data-root", str(root)]) == 0
        assert await live["interpol"].refresh()  # what the adapter's poll (or SIGHUP) does
        assert await listed("ZQ9999999") == (True, "2025-06-30")

        bad = tmp_path / "sltd-bad.csv"
        lines = (tmp_path / "sltd.csv").read_text(encoding="utf-8").splitlines()
        bad.write_text("\n".join([*lines, lines[1].replace("2025-06-30", "2025-02-30")]) + "\n",
                       encoding="utf-8")
        capsys.readouterr()
        assert main(["data", "import", "interpol", str(bad), "--data-root", str(root)]) == 1
        assert f"{bad}:3: date_reported: is not a calendar date" in capsys.readouterr().err
        assert not await live["interpol"].refresh()  # nothing changed on disk
        assert await listed("ZQ9999999") == (True, "2025-06-30")
    finally:
        await fed.stop()
        for server, _ in providers.values():
            await server.stop(0)
