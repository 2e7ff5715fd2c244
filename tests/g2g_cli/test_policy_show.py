"""`g2g policy show VERSION`: the exact policy set a broker kept beside its audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.policy.compile import read_sources
from g2g_cli.main import main
from g2g_harness import example
from g2g_harness.federation import start_federation, write_config


@pytest.fixture
async def served(tmp_path: Path, pki_dir: Path) -> tuple[Path, str]:
    """A broker config whose store kept the example policy set; and that set's version."""
    config = write_config(tmp_path, pki_dir=pki_dir)
    fed = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config, adapters=())
    version = fed.broker.watcher.current.version
    await fed.stop()
    return config, version


def test_show_prints_and_writes_the_stored_files_byte_for_byte(
        served: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, version = served
    shipped = read_sources(example.policies())
    capsys.readouterr()
    assert main(["policy", "--config", str(config), "show", version]) == 0
    out = capsys.readouterr().out
    for name, data in shipped.items():
        assert f"# ---- {name} (policy {version}) ----\n{data.decode()}" in out
    out_dir = tmp_path / "v"
    assert main(["policy", "--config", str(config), "show", version, "--out",
                 str(out_dir)]) == 0
    assert read_sources(out_dir) == shipped
    assert main(["policy", "--config", str(config), "show", "0000000000000000"]) == 1
    assert "no policy set is stored under version '0000000000000000'" in capsys.readouterr().err
