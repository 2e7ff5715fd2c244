"""The runner merges handlers of adapters that serve the same agency, and refuses clashes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry
from structlog.testing import capture_logs
from structlog.typing import EventDict

from agency_adapters import runner
from tests.conftest import REGISTRY


def test_handlers_of_one_agency_from_several_adapters_are_merged() -> None:
    merged = runner.merged_handlers(("immigration", "consular", "interpol"))
    assert set(merged["ID/GOV/IMIGRASI"]) == {
        "g2g.immigration.v1.Watchlist/Screen",
        "g2g.consular.v1.StayPermits/GetStatus",
        "g2g.consular.v1.ConsularNotifications/List",
    }
    assert set(merged) == {"ID/GOV/IMIGRASI", "INT/IO/INTERPOL", "NL/GOV/EMBASSY-JAKARTA",
                           "AU/GOV/EMBASSY-JAKARTA", "MY/GOV/EMBASSY-JAKARTA"}


def test_two_adapters_serving_the_same_service_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    adapters = runner.installed()
    copy = dataclasses.replace(adapters["consular"], name="consular-copy")
    monkeypatch.setattr(runner, "installed", lambda: {**adapters, "consular-copy": copy})
    with pytest.raises(ConfigError, match=r"both serve g2g\.consular\.v1"):
        runner.merged_handlers(("consular", "consular-copy"))


def test_adapters_serve_exactly_the_services_the_registry_lists(registry: Registry) -> None:
    merged = runner.merged_handlers(runner.names())
    for agency_id, handlers in merged.items():
        agency = registry.agency(agency_id)
        assert agency is not None
        assert agency.endpoint
        assert set(handlers) == {offer.name for offer in agency.services}, agency_id
    offering = {a.id for a in registry.agencies.values() if a.services}
    assert offering == set(merged)


def test_the_bundled_adapters_are_entry_points_of_the_g2g_distribution() -> None:
    adapters = runner.installed()
    assert {name: (a.module, a.distribution) for name, a in adapters.items()
            if a.distribution == "g2g"} == {
        "consular": ("agency_adapters.consular.service", "g2g"),
        "immigration": ("agency_adapters.immigration.service", "g2g"),
        "interpol": ("agency_adapters.interpol.service", "g2g"),
    }
    with pytest.raises(ConfigError, match=r"no adapter named 'nope' is installed \(installed: "
                                          r"consular, immigration, interpol"):
        runner.load("nope")


def test_data_directories_replace_the_seeded_data_file_by_file(tmp_path: Path) -> None:
    from agency_adapters.consular import synthetic as consular_synthetic
    from agency_adapters.interpol import synthetic as interpol_synthetic

    interpol_synthetic.write(interpol_synthetic.generate(20, seed=5), tmp_path / "interpol")
    consular = consular_synthetic.generate(20, seed=5)
    consular_synthetic.write(consular, tmp_path / "consular", "csv")
    (tmp_path / "consular" / "passports.csv").unlink()
    live = runner.open_data(("interpol", "consular", "immigration"),
                            {"interpol": tmp_path / "interpol"}, root=tmp_path)
    assert len(live["interpol"].current.notices) == 20
    index = live["consular"].current
    assert len(index.permits) == len({(p.passport_number, p.nationality)
                                      for p in consular.permits})
    assert len(index.passports) == len(service_seeded_passports())  # no file: seeded
    assert live["immigration"].directory == tmp_path / "immigration"  # absent: all seeded
    merged = runner.merged_handlers(("interpol", "consular"), live=live)
    assert "g2g.interpol.v1.Notices/Search" in merged["INT/IO/INTERPOL"]
    consular_synthetic.write(consular, tmp_path / "consular", "jsonl")
    with pytest.raises(ConfigError, match=r"consular:0: path: holds both permits\.jsonl and "):
        runner.open_data(("consular",), root=tmp_path)


def service_seeded_passports() -> tuple[object, ...]:
    from agency_adapters.consular.service import seeded_data

    return seeded_data().passports


async def test_serve_handles_its_signals_before_it_logs_ready(
        tmp_path: Path, pki_dir: Path) -> None:
    # Whoever reads adapter_ready may signal at once (g2g up, the SIGHUP test):
    # at that moment SIGHUP must reload, not kill the process by its default action.
    at_ready: dict[str, object] = {}
    ready = asyncio.Event()

    def observe(_: object, __: str, event: EventDict) -> EventDict:
        if event["event"] == "adapter_ready":
            at_ready.update(hup=signal.getsignal(signal.SIGHUP),
                            term=signal.getsignal(signal.SIGTERM))
            ready.set()
        return event

    with capture_logs(processors=[observe]) as logs:
        serving = asyncio.create_task(runner.serve(
            "interpol", REGISTRY, pki_dir, listen="127.0.0.1:0", data_root=tmp_path))
        await asyncio.wait({serving, asyncio.create_task(ready.wait())}, timeout=30,
                           return_when=asyncio.FIRST_COMPLETED)
        assert ready.is_set()
        assert not serving.done()
        os.kill(os.getpid(), signal.SIGTERM)  # handled by now: it only sets serve's stop event
        await asyncio.wait_for(serving, 30)
    assert at_ready["hup"] not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert at_ready["term"] not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert [e["event"] for e in logs if e["event"] == "adapter_ready"] == ["adapter_ready"]
