"""A third-party adapter distribution, built and installed beside g2g, is listed and serves.

tests/plugins/example_adapter is a separate distribution with one entry point in
the ``g2g.adapters`` group, and one in ``g2g.schemas`` for its own service's
generated code; g2g never names its modules. Its .proto is compiled and the
distribution built and installed into a private directory (a second
site-packages on PYTHONPATH), then `g2g adapter list` shows it and
`g2g adapter serve example-embassy` serves both its services through a real broker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from g2g_sdk import catalog, pki
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as cpb
from grpc_tools import protoc

from g2g_harness import example
from g2g_harness.federation import start_federation, write_config
from tests.audit_reader import read_records
from tests.e2e.test_adapter_process import _event

EXAMPLE = Path(__file__).parents[1] / "plugins" / "example_adapter"
BELGIUM = "BE/GOV/EMBASSY-JAKARTA"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
CHECK = "example.embassy.v1.Legalisations/Check"
IMIGRASI = "ID/GOV/IMIGRASI"

REGISTRY_ENTRY = f"""\
  - id: {BELGIUM}
    name: Embassy of Belgium, Jakarta (third-party adapter)
    endpoint: 127.0.0.1:9
    services:
      - name: {VERIFY}
        description: Verify a Belgian passport (holder name, date of birth).
        subject_fields: {{document: passport_number, name_dob: full_name+date_of_birth}}
      - name: {CHECK}
        description: Whether a civil document was legalised by the embassy.
"""
POLICY = f"""\
rules:
  - id: consular-be-verify-passport
    description: Immigration may ask the BE embassy to verify a Belgian passport.
    agreement: "VCCR Art. 5(d)"
    effect: allow
    provider: {BELGIUM}
    service: {VERIFY}
    consumers: [{IMIGRASI}]
    purposes: [border_control]
  - id: consular-be-legalisations
    description: Immigration may check a legalisation of the BE embassy.
    agreement: "VCCR Art. 5(f)"
    effect: allow
    provider: {BELGIUM}
    service: {CHECK}
    consumers: [{IMIGRASI}]
    purposes: [stay_permit_application]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example distribution built from a copy of its source and installed to a directory."""
    source = tmp_path_factory.mktemp("example-src") / "example_adapter"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "*_pb2.py", "__pycache__"))
    # The distribution's build step: generate its own service's code from its .proto.
    proto = source / "g2g_example_adapter" / "legalisation.proto"
    assert protoc.main(["protoc", f"-I{source}", f"--python_out={source}", str(proto)]) == 0
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                   check=True, timeout=180, capture_output=True)
    return target


def _env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (
        str(site), os.environ.get("PYTHONPATH"))))}


def _g2g(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "g2g_cli.main", *args], env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def test_an_installed_plugin_is_listed_and_an_absent_one_is_not(site: Path) -> None:
    listed = _g2g(["adapter", "list"], _env(site))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split() for line in lines if line.startswith("example-embassy")] == [
        ["example-embassy", "g2g_example_adapter", "(g2g-example-adapter", "1.0.0)"]]
    assert not any(line.startswith("example-embassy")
                   for line in _g2g(["adapter", "list"], dict(os.environ)).stdout.splitlines())
    unknown = _g2g(["adapter", "serve", "example-embassy"], dict(os.environ))
    assert unknown.returncode == 1
    assert "no adapter named 'example-embassy' is installed" in unknown.stderr


async def test_the_plugin_serves_its_agency_through_the_broker(
        tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # This process runs the broker and the consumer: both find the plugin's schema
    # through its g2g.schemas entry point, as an installed g2g would.
    monkeypatch.syspath_prepend(str(site))
    catalog.load_generated_schemas.cache_clear()
    assert "g2g_example_adapter.legalisation_pb2" not in sys.modules
    method = catalog.find_method(CHECK)  # found only through the entry point
    assert method is not None
    assert method.input_type.full_name == "example.embassy.v1.LegalisationQuery"
    leg = sys.modules["g2g_example_adapter.legalisation_pb2"]
    registry = tmp_path / "agencies.yaml"
    text = example.registry().read_text(encoding="utf-8")
    registry.write_text(text.replace("agencies:\n", "agencies:\n" + REGISTRY_ENTRY, 1),
                        encoding="utf-8")
    policies = tmp_path / "policies"
    shutil.copytree(example.policies(), policies, ignore=shutil.ignore_patterns("__*"))
    (policies / "belgium.yaml").write_text(POLICY, encoding="utf-8")
    pki_dir = tmp_path / "pki"
    pki.init_pki(registry, pki_dir)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "g2g_cli.main", "adapter", "serve", "example-embassy",
        "--registry", str(registry), "--pki-dir", str(pki_dir), "--listen", "127.0.0.1:0",
        stderr=asyncio.subprocess.PIPE, env=_env(site))
    assert process.stderr is not None
    try:
        ready = await asyncio.wait_for(_event(process.stderr, "adapter_ready"), 60)
        port = ready["endpoints"][BELGIUM]
        fed = await start_federation(
            tmp_path, pki_dir=pki_dir, registry_path=registry, adapters=(),
            endpoints={BELGIUM: f"127.0.0.1:{port}"},
            config_path=write_config(tmp_path, pki_dir=pki_dir, policies=policies,
                                     registry=registry))
        try:
            async with fed.client(IMIGRASI) as client:
                valid = await client.call(VERIFY, cpb.PassportVerificationRequest(
                    passport_number="EL1234567", full_name="Amélie Peeters",
                    date_of_birth="1988-02-29"), purpose="border_control", recipient=BELGIUM)
                wrong = await client.call(VERIFY, cpb.PassportVerificationRequest(
                    passport_number="EL1234567", full_name="Amélie Peeters",
                    date_of_birth="1988-03-01"), purpose="border_control", recipient=BELGIUM)
                legalised = await client.call(CHECK, leg.LegalisationQuery(
                    reference="LEG-2026-0001"), purpose="stay_permit_application")
            records = await read_records(fed)
        finally:
            await fed.stop()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    assert valid.header.sender == BELGIUM
    assert valid.payload == cpb.PassportVerificationResponse(
        result=cpb.VERIFICATION_RESULT_VALID)
    assert wrong.payload == cpb.PassportVerificationResponse(
        result=cpb.VERIFICATION_RESULT_DATA_MISMATCH, mismatched_fields=["date_of_birth"])
    assert legalised.payload == leg.LegalisationStatus(legalised=True,
                                                       legalised_on="2026-03-02")
    outcomes = [(r["provider"], r["rule_id"], r["status_code"]) for r in records
                if r["kind"] == "outcome"]
    assert outcomes == [(BELGIUM, "consular-be-verify-passport", "OK")] * 2 + [
        (BELGIUM, "consular-be-legalisations", "OK")]
