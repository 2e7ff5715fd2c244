"""`g2g init DIR`: a deployment whose every path lies inside DIR, usable from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from broker.config import load_config
from g2g_cli.init import renumber
from g2g_cli.main import main
from g2g_cli.up import _children


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("init") / "fed"
    assert main(["init", str(directory), "--base-port", "24000"]) == 0
    return directory


def test_init_writes_a_deployment_whose_paths_all_lie_inside_it(deployment: Path) -> None:
    assert sorted(p.name for p in deployment.iterdir()) == [
        "agencies.yaml", "broker.yaml", "data", "pki", "policies", "policy-tests"]
    config = load_config(deployment / "broker.yaml")
    inside = deployment.resolve()
    for path in (config.registry, config.pki_dir, config.policies, config.audit.path,
                 config.data_root, config.log_dir):
        assert path.resolve().is_relative_to(inside), path
    assert config.listen == "127.0.0.1:24000"
    endpoints = [a.get("endpoint") for a in
                 yaml.safe_load((deployment / "agencies.yaml").read_text())["agencies"]]
    assert [e for e in endpoints if e] == [f"127.0.0.1:{p}" for p in range(24001, 24006)]
    assert (deployment / "data").stat().st_mode & 0o777 == 0o700
    assert (deployment / "pki" / "ca.crt").is_file() or any((deployment / "pki").iterdir())


def test_the_commented_events_section_turns_events_on_when_uncommented(
        deployment: Path, tmp_path: Path) -> None:
    text = (deployment / "broker.yaml").read_text()
    assert load_config(deployment / "broker.yaml").events is None  # off by default
    lines = text.splitlines()
    start = lines.index("# events:")
    on = [line[2:] if i >= start else line for i, line in enumerate(lines)]
    config_path = deployment / "broker-events.yaml"
    config_path.write_text("\n".join(on) + "\n")
    try:
        events = load_config(config_path).events
    finally:
        config_path.unlink()
    assert events is not None
    assert (events.url, events.stream, events.subject_prefix) == (
        "nats://127.0.0.1:4222", "G2G_EVENTS", "g2g.events")
    assert events.embedded_store == deployment / "jetstream"


def test_renumber_changes_only_endpoint_ports_in_order() -> None:
    text = "broker:\n  endpoint: 127.0.0.1:7443\n  listen: 0.0.0.0:1\n" \
           "agencies:\n  - endpoint: host.example:7501\n"
    assert renumber(text, 9000) == ("broker:\n  endpoint: 127.0.0.1:9000\n  listen: 0.0.0.0:1\n"
                                    "agencies:\n  - endpoint: host.example:9001\n")


def test_init_refuses_a_directory_that_is_not_empty(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["init", str(tmp_path), "--no-pki"]) == 1
    assert "already exists and is not an empty directory" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_the_deployment_works_from_any_working_directory(
        deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("G2G_CONFIG", raising=False)
    config = deployment / "broker.yaml"
    tests = sorted(str(p) for p in (deployment / "policy-tests").glob("*.yaml"))
    assert main(["policy", "--config", str(config), "test", *tests]) == 0
    assert "cases passed" in capsys.readouterr().out
    _, adapters = _children(config)
    assert adapters.argv[adapters.argv.index("--data-root") + 1] == str(
        deployment.resolve() / "data")
    monkeypatch.chdir(deployment)  # inside the deployment: ./broker.yaml is found
    assert main(["policy", "test", *tests]) == 0


def test_data_import_outside_a_deployment_refuses_instead_of_writing_nowhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("G2G_CONFIG", raising=False)
    assert main(["data", "generate", "interpol", "--size", "3", "--dataset", "sltd",
                 "--out", "sltd.csv"]) == 0
    capsys.readouterr()
    assert main(["data", "import", "interpol", "sltd.csv"]) == 1
    err = capsys.readouterr().err
    assert "not inside a g2g deployment" in err
    assert "g2g init DIR" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sltd.csv"]
    assert main(["data", "import", "interpol", "missing.csv"]) == 1
    assert "no such file: missing.csv" in capsys.readouterr().err


def test_data_import_writes_into_the_deployment_named_by_its_config(
        deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["data", "generate", "interpol", "--size", "3", "--dataset", "sltd",
                 "--out", "sltd.csv"]) == 0
    monkeypatch.setenv("G2G_CONFIG", str(deployment / "broker.yaml"))
    assert main(["data", "import", "interpol", "sltd.csv"]) == 0
    assert (deployment / "data" / "interpol" / "sltd.jsonl").is_file()
