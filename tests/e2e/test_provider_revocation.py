"""The broker checks each PROVIDER's server certificate against the CRLs on its outgoing
calls (broker/provider_cert.py), over real mTLS with no restart: `g2g pki revoke` the
provider, reload the CRLs (what SIGHUP does), and the next call to it fails closed with
PROVIDER_CERT_REVOKED, audited, while the provider receives nothing and others serve."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from g2g_sdk import ProviderServer, ca, envelope, pki
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2
from g2g_sdk.errors import ProviderUnavailable
from g2g_sdk.registry import load_registry

from agency_adapters.runner import start_adapter
from broker.provider_cert import ProviderCertificates
from g2g_cli.main import main
from g2g_harness.federation import REGISTRY, LocalFederation, start_federation, write_config
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query

IMIGRASI = "ID/GOV/IMIGRASI"
INTERPOL = "INT/IO/INTERPOL"
SEARCH = "g2g.interpol.v1.Notices/Search"


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Calls each provider server (by id) received: counted in the provider itself."""
    calls: Counter[int] = Counter()
    original = ProviderServer.Handle

    async def counting(self: ProviderServer, request: Any, context: Any) -> Any:
        calls[id(self)] += 1
        return await original(self, request, context)

    monkeypatch.setattr(ProviderServer, "Handle", counting)
    return calls


@pytest.fixture
def own_pki(tmp_path: Path, pki_dir: Path) -> Path:
    """A copy of the session PKI this test may revoke in."""
    return Path(shutil.copytree(pki_dir, tmp_path / "pki"))


def revoke(fed: LocalFederation, party: str) -> None:
    assert main(["pki", "revoke", party, "--registry", str(REGISTRY),
                 "--pki-dir", str(fed.pki_dir)]) == 0


@pytest.fixture
async def fed(tmp_path: Path, own_pki: Path, handled: Counter[int],
              ) -> AsyncIterator[LocalFederation]:
    federation = await start_federation(tmp_path / "fed", pki_dir=own_pki)
    try:
        yield federation
    finally:
        await federation.stop()


async def _screen(fed: LocalFederation) -> None:
    async with fed.client(POLRI) as client:
        await client.call(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                          legal_basis=LEGAL_BASIS)


async def _search(fed: LocalFederation) -> None:
    async with fed.client(POLRI) as client:
        await client.call(SEARCH, interpol_pb2.NoticeSearchRequest(full_name="BUDI SANTOSO"),
                          purpose="criminal_investigation")


async def test_a_revoked_provider_certificate_fails_calls_closed_and_audited(
        fed: LocalFederation, handled: Counter[int]) -> None:
    imigrasi, interpol = (id(fed.providers[a][0]) for a in (IMIGRASI, INTERPOL))
    await _screen(fed)
    await _search(fed)
    assert (handled[imigrasi], handled[interpol]) == (1, 1)

    revoke(fed, IMIGRASI)
    assert await fed.reload_trust() == [False, True, False, True]  # CRLs only

    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.UNAVAILABLE,
                                 "PROVIDER_CERT_REVOKED")
    serial = f"{ca.current_certificate(fed.pki_dir, IMIGRASI).serial_number:x}"
    assert err.metadata == {"provider": IMIGRASI, "serial": serial}
    assert handled[imigrasi] == 1  # the provider received nothing
    records = [r for r in await read_records(fed)
               if r["message_id"] == envelope.parse_header(env).message_id]
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "UNAVAILABLE", "PROVIDER_CERT_REVOKED")]

    await _search(fed)  # another provider is unaffected
    assert (handled[imigrasi], handled[interpol]) == (1, 2)


async def test_a_verdict_is_reused_until_the_interval_or_a_crl_reload(
        fed: LocalFederation) -> None:
    ticks = [0.0]
    broker_dir = pki.party_dir(fed.pki_dir, "broker")
    certs = ProviderCertificates(
        lambda: fed.broker.crls.current, pki.load_identity(fed.pki_dir, "broker").ca_pem,
        broker_dir / "tls.crt", broker_dir / "tls.key", recheck_seconds=30,
        clock=lambda: datetime.now(UTC), monotonic=lambda: ticks[0])
    endpoint = f"127.0.0.1:{fed.providers[IMIGRASI][1]}"
    await certs.check(IMIGRASI, endpoint, 5.0)
    ticks[0] = 29.9
    await certs.check(IMIGRASI, endpoint, 5.0)
    assert certs.probes == 1  # cached: no handshake per call
    ticks[0] = 30.0
    await certs.check(IMIGRASI, endpoint, 5.0)
    assert certs.probes == 2  # the interval bounds how long a verdict is trusted
    revoke(fed, INTERPOL)
    assert (await fed.reload_trust())[1]
    await certs.check(IMIGRASI, endpoint, 5.0)
    assert certs.probes == 3  # a new CRL set re-checks at once


async def test_no_certificate_no_call(fed: LocalFederation, unused_tcp_port: int) -> None:
    broker_dir = pki.party_dir(fed.pki_dir, "broker")
    certs = ProviderCertificates(
        lambda: fed.broker.crls.current, pki.load_identity(fed.pki_dir, "broker").ca_pem,
        broker_dir / "tls.crt", broker_dir / "tls.key", recheck_seconds=30,
        clock=lambda: datetime.now(UTC))
    for _ in range(2):  # nothing listens: refused each time, no verdict is cached
        with pytest.raises(ProviderUnavailable) as info:
            await certs.check(IMIGRASI, f"127.0.0.1:{unused_tcp_port}", 5.0)
        assert info.value.reason == "PROVIDER_UNAVAILABLE"
    assert certs.probes == 2


async def test_failover_passes_an_unreachable_endpoint_but_not_a_revoked_one(
        tmp_path: Path, own_pki: Path, handled: Counter[int], unused_tcp_port: int) -> None:
    adapter = await start_adapter("immigration", load_registry(REGISTRY, own_pki), own_pki,
                                  listen="127.0.0.1:0")
    server, port = adapter[IMIGRASI]
    document = yaml.safe_load(REGISTRY.read_text())
    for agency in document["agencies"]:
        if agency["id"] == IMIGRASI:  # nothing listens on the first endpoint
            agency.pop("endpoint", None)
            agency["endpoints"] = [f"127.0.0.1:{unused_tcp_port}", f"127.0.0.1:{port}"]
    listed = tmp_path / "agencies.yaml"
    listed.write_text(yaml.safe_dump(document, sort_keys=False))
    fed = await start_federation(tmp_path / "fed", pki_dir=own_pki, adapters=(),
                                 config_path=write_config(tmp_path, pki_dir=own_pki,
                                                          registry=listed))
    try:
        await _screen(fed)
        assert handled[id(server)] == 1
        revoke(fed, IMIGRASI)
        assert (await fed.reload_trust())[1]
        async with fed.client(POLRI) as client:
            await expect_error(client.call(SCREEN, name_query("Budi Santoso"),
                                           purpose="criminal_investigation",
                                           legal_basis=LEGAL_BASIS),
                               grpc.StatusCode.UNAVAILABLE, "PROVIDER_CERT_REVOKED")
        assert handled[id(server)] == 1
    finally:
        await fed.stop()
        await server.stop(0)
