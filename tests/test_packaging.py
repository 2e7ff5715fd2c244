"""The wheels carry what an installation outside the checkout needs, and nothing else.

Both distributions are built (offline, without build isolation) from copies of
exactly the files their pyproject.toml reads, then their contents and metadata
are checked: generated code and py.typed in the SDK, the example deployment and
the adapter entry points in g2g, ranges in the SDK and exact pins in g2g, no tests.
The wheels are installed and run outside the checkout by `.ci/wheel_job`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import REPO

IGNORE = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "image.binpb")


def _build(source: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--wheel-dir", str(out), str(source)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.fixture(scope="module")
def sdk_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("src") / "sdk"
    shutil.copytree(REPO / "sdk", source, ignore=IGNORE)
    return _build(source, tmp_path_factory.mktemp("sdk-wheel"))


@pytest.fixture(scope="module")
def g2g_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for name in ("broker", "agency_adapters", "g2g_cli", "g2g_harness", "config"):
        shutil.copytree(REPO / name, source / name, ignore=IGNORE)
    return _build(source, tmp_path_factory.mktemp("g2g-wheel"))


def _metadata(wheel: zipfile.ZipFile) -> tuple[str, list[str]]:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    message = Parser().parsestr(wheel.read(name).decode())
    return message["Name"], message.get_all("Requires-Dist") or []


def _packages(root: Path, top: str) -> set[str]:
    return {top + "/" + str(p.parent.relative_to(root)).replace("\\", "/")
            if p.parent != root else top
            for p in root.rglob("__init__.py")}


def test_the_sdk_wheel_carries_generated_code_and_types_and_ranges(
        sdk_wheel: zipfile.ZipFile) -> None:
    names = set(sdk_wheel.namelist())
    sources = {f"g2g_sdk/{p.relative_to(REPO / 'sdk' / 'g2g_sdk')}"
               for p in (REPO / "sdk" / "g2g_sdk").rglob("*")
               if p.suffix in (".py", ".pyi") and "__pycache__" not in p.parts}
    assert sources <= names  # every module, generated ones included
    for module in ("g2g_sdk/py.typed", "g2g_sdk/_gen/g2g/v1/envelope_pb2.py",
                   "g2g_sdk/_gen/g2g/v1/broker_pb2_grpc.py", "g2g_sdk/_gen/g2g/v1/envelope_pb2.pyi",
                   "g2g_sdk/_gen/buf/validate/validate_pb2.py"):
        assert module in names
    assert {n.split("/")[0] for n in names} == {"g2g_sdk", "g2g_sdk-0.2.0.dist-info"}
    assert not any(n.endswith(".binpb") for n in names)
    assert "g2g_sdk-0.2.0.dist-info/licenses/LICENSE" in names
    name, requires = _metadata(sdk_wheel)
    assert name == "g2g-sdk"
    assert requires
    assert all("==" not in r.split(";")[0] for r in requires), requires  # no pins
    assert all("<" in r for r in requires), requires  # compatible ranges, bounded above
    assert {re.split(r"[<>=!~;\[ ]", r)[0] for r in requires if "extra ==" not in r} == {
        "grpcio", "grpcio-status", "grpcio-health-checking", "protobuf",
        "googleapis-common-protos", "protovalidate", "cryptography", "pynacl", "pyyaml",
        "structlog"}
    # Optional: PKCS#11 signing keys (g2g-sdk[pkcs11]), tracing (g2g-sdk[tracing]),
    # a provider's metrics port (g2g-sdk[metrics]).
    assert sorted(re.split(r"[<>=!~;\[ ]", r)[0] for r in requires if "extra ==" in r) == [
        "opentelemetry-api", "prometheus-client", "python-pkcs11"]


def test_the_g2g_wheel_carries_every_package_the_example_deployment_and_the_plugins(
        g2g_wheel: zipfile.ZipFile) -> None:
    names = set(g2g_wheel.namelist())
    expected = set().union(*(_packages(REPO / top, top) for top in
                             ("broker", "agency_adapters", "g2g_cli", "g2g_harness")))
    shipped = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert expected <= shipped, sorted(expected - shipped)  # a package missing from pyproject
    for top in ("broker", "agency_adapters", "g2g_cli", "g2g_harness"):
        assert f"{top}/py.typed" in names
    starter = {f"g2g_harness/starter/{p.relative_to(REPO / 'config')}"
               for p in (REPO / "config").rglob("*.yaml")}
    assert starter
    assert starter <= names
    assert {n.split("/")[0] for n in names} == {
        "broker", "agency_adapters", "g2g_cli", "g2g_harness", "g2g-0.2.0.dist-info"}
    entry_points = g2g_wheel.read("g2g-0.2.0.dist-info/entry_points.txt").decode()
    assert "[g2g.adapters]\nconsular = agency_adapters.consular.service\n" in entry_points
    assert "[console_scripts]\ng2g = g2g_cli.main:main\n" in entry_points
    name, requires = _metadata(g2g_wheel)
    assert name == "g2g"
    runtime = [r for r in requires if "extra ==" not in r]
    assert "g2g-sdk==0.2.0" in runtime
    assert all("==" in r for r in runtime), runtime  # the deployable broker pins exactly
