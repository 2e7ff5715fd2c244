"""The immigration adapter's events: a watchlist import publishes its changes; a crossing
of a listed document publishes a hit, to exactly the subscribers the policy names."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from g2g_sdk._gen.g2g.immigration.v1 import events_pb2 as ev
from g2g_sdk.subscriber import first

from agency_adapters.common.datasets import Fixed, LiveData, generate_files, import_file
from agency_adapters.immigration import service
from agency_adapters.immigration.alerts import Crossing, WatchlistAlerts
from tests.e2e.events_fixtures import BIN, IMIGRASI, POLRI, EventsFed, events_fed
from tests.jetstream import StreamNames


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path, stream_names: StreamNames
               ) -> AsyncIterator[EventsFed]:
    async for fed in events_fed(tmp_path, pki_dir, stream_names):
        yield fed


async def test_an_import_that_adds_an_entry_publishes_it_as_issued(efed: EventsFed,
                                                                   tmp_path: Path) -> None:
    data_dir, newer = tmp_path / "data", tmp_path / "newer"
    generate_files(service.DATA, data_dir, size=20, seed=7)
    [written] = generate_files(service.DATA, newer, size=21, seed=7)
    live = LiveData("immigration", service.DATA, data_dir)
    alerts = WatchlistAlerts(efed.publisher(IMIGRASI), live)
    stop = asyncio.Event()
    following = asyncio.ensure_future(alerts.follow(live, stop))
    try:
        import_file(service.DATA, data_dir, written.path)
        assert await live.refresh()
        customs = efed.subscriber("ID/GOV/BEA-CUKAI")
        [event] = await first(customs)
    finally:
        stop.set()
        await following
    added = live.current.index.records[-1]
    assert isinstance(event.payload, ev.WatchlistEntryChanged)
    assert (event.payload.entry_id, event.payload.change) == (added.entry_id,
                                                              ev.ENTRY_CHANGE_ISSUED)
    assert not event.payload.case_reference  # masked for customs
    await customs.acknowledge(event)


async def test_a_listed_passport_at_the_border_alerts_intelligence_and_police(
        efed: EventsFed) -> None:
    record = next(r for r in service.seeded_records()
                  if r.issuing_authority == "KAPOLRI" and r.documents and not r.lifted_on)
    doc = record.documents[0]
    watchlist = service.DATA.load(None)[0]
    alerts = WatchlistAlerts(efed.publisher(IMIGRASI), Fixed(watchlist))
    result = await alerts.crossing(Crossing(doc.type, doc.number, doc.issuing_country, "CGK",
                                            "EXIT", datetime.now(UTC)))
    assert result is not None
    assert result.recipients == (BIN, POLRI)
    police = efed.subscriber(POLRI)
    [event] = await first(police)
    assert (event.payload.entry_id, event.payload.border_post) == (record.entry_id, "CGK")
    assert await alerts.crossing(Crossing("PASSPORT", "ZZ0000000", "IDN", "CGK", "EXIT",
                                          datetime.now(UTC))) is None



async def test_the_adapters_crossing_tool_publishes_a_hit(
        efed: EventsFed, capsys: pytest.CaptureFixture[str]) -> None:
    from agency_adapters.immigration.alerts import main

    record = next(r for r in service.seeded_records()
                  if r.issuing_authority == "KAPOLRI" and r.documents and not r.lifted_on)
    doc = record.documents[0]
    fed = efed.federation
    common = ["--registry", str(fed.config.registry), "--pki-dir", str(fed.pki_dir),
              "--broker", fed.address, "--post", "CGK", "--country", doc.issuing_country]
    code = await asyncio.to_thread(main, ["crossing", "--document", doc.number, *common])
    out = capsys.readouterr().out
    assert code == 0, out
    assert json.loads(out)["recipients"] == [BIN, POLRI]
    code = await asyncio.to_thread(main, ["crossing", "--document", "ZZ0000000", *common])
    assert (code, capsys.readouterr().out) == (0, "no watchlist hit: nothing published\n")
