"""`g2g up`: one adapters process serving every adapter, and a status line naming each port."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk.errors import ConfigError

from g2g_cli.up import Child, Status, _children
from tests.conftest import REPO


def test_one_adapter_process_serves_every_adapter_from_the_data_root() -> None:
    broker, adapters, jetstream, watcher = _children(REPO / "config" / "broker.yaml")
    assert broker.argv[-4:] == ["broker", "serve", "--config",
                                str(REPO / "config" / "broker.yaml")]
    serve = adapters.argv[adapters.argv.index("serve") + 1:]
    assert serve[:3] == ["consular", "immigration", "interpol"]
    # The data root is the config's adapters.data_root, resolved against the config
    # file's directory: the same deployment from any working directory.
    assert Path(serve[serve.index("--data-root") + 1]).resolve() == REPO / "var" / "data"
    # `events.embedded_store` is set: a development nats-server runs for `events.url`.
    assert jetstream.argv[1:4] == ["-m", "broker.events.embedded", "nats://127.0.0.1:7422"]
    assert Path(jetstream.argv[4]).resolve() == REPO / "var" / "jetstream"
    # Immigration's entry changes are published by a watcher of the same data root.
    assert watcher.argv[1:4] == ["-m", "agency_adapters.immigration.alerts", "watch"]
    assert Path(watcher.argv[-1]).resolve() == REPO / "var" / "data" / "immigration"


def test_the_status_line_names_each_agency_and_its_port() -> None:
    broker, adapters = Child("broker", []), Child("adapters", [])
    status = Status([broker, adapters])
    assert status.line().startswith("g2g up | broker … | adapters … | exchanges: none yet")
    broker.ports["broker"] = 7443
    broker.ready.set()
    adapters.ports.update({"INT/IO/INTERPOL": 7502, "ID/GOV/IMIGRASI": 7501})
    adapters.ready.set()
    status.report("0", {"OK": 2})
    status.report("1", {"OK": 1, "PERMISSION_DENIED": 1})
    status.report("0", {"OK": 3})  # counts are cumulative: the latest report replaces
    assert status.line() == (
        "g2g up | broker :7443 | adapters ID/GOV/IMIGRASI :7501, INT/IO/INTERPOL :7502"
        " | exchanges: 4 OK, 1 PERMISSION_DENIED | Ctrl-C stops")


def test_workers_are_passed_to_the_broker_as_given_so_zero_is_refused_there() -> None:
    config = REPO / "config" / "broker.yaml"
    assert "--workers" not in _children(config)[0].argv
    assert _children(config, 2)[0].argv[-2:] == ["--workers", "2"]
    # `g2g broker serve --workers 0` refuses it; up must not quietly start one process.
    assert _children(config, 0)[0].argv[-2:] == ["--workers", "0"]


def test_adapters_serve_picks_the_adapters_and_an_uninstalled_one_is_named(
        tmp_path: Path) -> None:
    config = tmp_path / "broker.yaml"
    base = (REPO / "config" / "broker.yaml").read_text(encoding="utf-8").replace(
        "registry: agencies.yaml", f"registry: {REPO / 'config' / 'agencies.yaml'}").replace(
        "policies: policies", f"policies: {REPO / 'config' / 'policies'}")
    config.write_text(base.replace("  data_root: ../var/data",
                                   "  data_root: data\n  serve: [interpol]"), encoding="utf-8")
    _, adapters, *_ = _children(config)  # and the events children (JetStream)
    serve = adapters.argv[adapters.argv.index("serve") + 1:]
    assert serve[:2] == ["interpol", "--registry"]
    config.write_text(base.replace("  data_root: ../var/data",
                                   "  data_root: data\n  serve: [interpol, nope]"),
                      encoding="utf-8")
    with pytest.raises(ConfigError, match=r"adapters\.serve names nope, not installed"):
        _children(config)
