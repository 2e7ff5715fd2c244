"""Broken policy sets are refused with one exact, located message (data in tests/vectors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry

from broker.policy import load_policy_set
from g2g_cli.main import main as g2g

REPO = Path(__file__).parents[3]
VECTORS = REPO / "tests" / "vectors" / "policy_broken"
CASES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir())
FIVE_MIB = 5 * 1024 * 1024


def _case(name: str, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the case's directory and the message expected for it."""
    directory = tmp_path / "policies"
    shutil.copytree(VECTORS / name, directory, ignore=shutil.ignore_patterns("expected.txt"))
    if name == "oversized_5mb":
        (directory / "rules.yaml").write_bytes(b"# padding\n" * (FIVE_MIB // 10))
    expected = (VECTORS / name / "expected.txt").read_text(encoding="utf-8").rstrip("\n")
    return directory, expected.replace("{dir}", str(directory))


def test_every_case_has_an_expected_message() -> None:
    assert len(CASES) >= 30
    assert all((VECTORS / name / "expected.txt").is_file() for name in CASES)


@pytest.mark.parametrize("name", CASES)
def test_check_prints_the_located_error_and_exits_non_zero(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory, expected = _case(name, tmp_path)
    code = g2g(["policy", "--registry", str(REPO / "config/agencies.yaml"),
                "--pki-dir", str(tmp_path / "no-pki"), "check", str(directory)])
    out, err = capsys.readouterr()
    assert (code, out, err) == (1, "", expected + "\n")


@pytest.mark.parametrize("name", CASES)
def test_the_brokers_loader_refuses_with_the_same_message(
        name: str, tmp_path: Path, registry: Registry) -> None:
    directory, expected = _case(name, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_policy_set(directory, registry, Catalog.from_registry(registry))
    assert f"g2g: {info.value.diagnostics()}" == expected
