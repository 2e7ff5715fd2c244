"""Rotating the broker itself, over real mTLS, no process restarted: after `g2g pki rotate
broker` and a reload, new TLS handshakes present the new certificate, the broker signs
attestations with the new key and calls providers with the new client certificate, and
exchanges running back to back throughout never fail; after `--retire` (old key
unpublished, old certificate revoked) they still succeed. The same for an adapter
(the provider toolkit's `ProviderServer`)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
from pathlib import Path

from cryptography import x509
from g2g_sdk import ConsumerClient, keys, pki
from g2g_sdk.errors import G2GError
from g2g_sdk.registry import load_registry

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY, LocalFederation, start_federation
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, name_query

EXCHANGES = 36  # back to back, for the whole rotation and retirement
ROTATE_AT, RETIRE_AT = 6, 18


def _presented_certificate(port: int, client_dir: Path, ca_pem: Path) -> x509.Certificate:
    """The certificate the broker presents in a fresh TLS handshake (an mTLS client)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_pem))
    context.check_hostname = False  # the broker's name is its g2g SAN, not 127.0.0.1
    context.load_cert_chain(client_dir / "tls.crt", client_dir / "tls.key")
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw) as tls_socket:
        der = tls_socket.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def _reload_everyone_then_the_broker(fed: LocalFederation) -> None:
    # The documented order (docs/PKI.md §4): the others accept the new key and
    # certificate first, then the broker switches to them.
    assert fed.adapter_registry is not None
    assert fed.adapter_crls is not None
    await fed.adapter_registry.reload()
    await fed.adapter_crls.reload()
    await fed.broker.registry.reload()
    await fed.broker.crls.reload()


async def test_broker_rotation_switches_tls_and_signing_key_with_no_restart(
        tmp_path: Path, pki_dir: Path) -> None:
    own_pki = tmp_path / "pki"
    shutil.copytree(pki_dir, own_pki)
    fed = await start_federation(tmp_path / "fed", pki_dir=own_pki)
    broker_dir = own_pki / "broker"
    client_dir = pki.party_dir(own_pki, POLRI)
    old_cert = x509.load_pem_x509_certificate((broker_dir / "tls.crt").read_bytes())
    old_kid = keys.keyid(fed.broker.broker.signing_key.public_key())
    rotate_now, rotated, retire_now, retired = (asyncio.Event() for _ in range(4))
    failures: list[G2GError] = []
    answered: list[str] = []
    client = fed.client(POLRI)

    async def exchanges() -> None:
        for n in range(EXCHANGES):
            if n == ROTATE_AT:
                rotate_now.set()
                await rotated.wait()
            if n == RETIRE_AT:
                retire_now.set()
                await retired.wait()
            try:
                answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                           purpose="criminal_investigation",
                                           legal_basis=LEGAL_BASIS)
                answered.append(answer.header.in_reply_to)
            except G2GError as exc:
                failures.append(exc)

    def pki_cli(*args: str) -> int:
        return main(["pki", *args, "--registry", str(REGISTRY), "--pki-dir", str(own_pki)])

    try:
        presented = await asyncio.to_thread(_presented_certificate, fed.broker.port,
                                            client_dir, own_pki / "ca.crt")
        assert presented.serial_number == old_cert.serial_number
        assert f"{old_cert.serial_number:x}" in fed.broker.exposition().decode()
        load = asyncio.ensure_future(exchanges())
        await rotate_now.wait()
        assert await asyncio.to_thread(pki_cli, "rotate", "broker") == 0
        new_cert = x509.load_pem_x509_certificate((broker_dir / "tls.crt").read_bytes())
        new_kid = keys.keyid(keys.load_public_key(broker_dir / "signing.pub"))
        assert new_kid != old_kid
        # Until the registry publishes the new pair, the broker keeps the old one.
        assert await fed.broker.identity.reload() is False
        await _reload_everyone_then_the_broker(fed)
        assert await fed.broker.identity.reload() is True
        assert keys.keyid(fed.broker.broker.signing_key.public_key()) == new_kid
        presented = await asyncio.to_thread(_presented_certificate, fed.broker.port,
                                            client_dir, own_pki / "ca.crt")
        assert presented.serial_number == new_cert.serial_number
        rotated.set()

        await retire_now.wait()
        # Retire: the old key is unpublished and the old certificate revoked everywhere.
        # The providers now accept only attestations by the new key, and only calls
        # over the new client certificate: the exchanges after this prove both.
        assert await asyncio.to_thread(pki_cli, "rotate", "broker", "--retire") == 0
        await _reload_everyone_then_the_broker(fed)
        assert fed.adapter_registry is not None
        assert set(fed.adapter_registry.current.broker_keys) == {new_kid}
        # Expiry warnings now watch the new certificate only (not the one it replaced).
        assert {serial for kind, party, serial in fed.broker.monitor.figures()
                if (kind, party) == ("certificate", "broker")} == {f"{new_cert.serial_number:x}"}
        scraped = fed.broker.exposition().decode()
        assert f'certificate="certificate:broker:{new_cert.serial_number:x}"' in scraped
        assert f"{old_cert.serial_number:x}" not in scraped
        retired.set()
        await load
        assert failures == []
        assert len(answered) == EXCHANGES
        outcomes = {r["message_id"]: r for r in await read_records(fed)
                    if r["kind"] == "outcome"}
        assert {outcomes[m]["status_code"] for m in answered} == {"OK"}
    finally:
        await fed.stop()


IMIGRASI = "ID/GOV/IMIGRASI"  # the provider of SCREEN


async def test_adapter_rotation_switches_its_tls_and_signing_key_with_no_restart(
        tmp_path: Path, pki_dir: Path) -> None:
    own_pki = tmp_path / "pki"
    shutil.copytree(pki_dir, own_pki)
    fed = await start_federation(tmp_path / "fed", pki_dir=own_pki)
    server, port = fed.providers[IMIGRASI]
    own = server.own
    assert own is not None
    provider_dir = pki.party_dir(own_pki, IMIGRASI)
    old_kid = keys.keyid(own.signer().public_key())
    clients = [fed.client(POLRI)]
    failures: list[G2GError] = []
    answered: list[str] = []

    async def exchange() -> None:
        try:
            answer = await clients[-1].call(SCREEN, name_query("Budi Santoso"),
                                       purpose="criminal_investigation",
                                       legal_basis=LEGAL_BASIS)
            answered.append(answer.header.in_reply_to)
            # The response is signed by the provider's key of this moment.
            signed_by = answer.envelope.signatures[0].keyid
            assert signed_by == keys.keyid(own.signer().public_key())
        except G2GError as exc:
            failures.append(exc)

    def pki_cli(*args: str) -> int:
        return main(["pki", *args, "--registry", str(REGISTRY), "--pki-dir", str(own_pki)])

    try:
        await exchange()
        assert await asyncio.to_thread(pki_cli, "rotate", IMIGRASI) == 0
        new_cert = x509.load_pem_x509_certificate((provider_dir / "tls.crt").read_bytes())
        assert await own.reload() is False  # its registry does not publish it yet
        await exchange()
        # The broker accepts the new pair first, then the adapter switches.
        await fed.broker.registry.reload()
        await fed.broker.crls.reload()
        assert fed.adapter_registry is not None
        await fed.adapter_registry.reload()
        assert await own.reload() is True
        new_kid = keys.keyid(own.signer().public_key())
        assert new_kid != old_kid
        presented = await asyncio.to_thread(_presented_certificate, port, own_pki / "broker",
                                            own_pki / "ca.crt")
        assert presented.serial_number == new_cert.serial_number
        # A ConsumerClient verifies responses against the registry it was given: the
        # consumer takes the registry that publishes the provider's new key.
        clients.append(ConsumerClient(pki.load_identity(own_pki, POLRI),
                                      load_registry(REGISTRY, own_pki),
                                      broker_endpoint=fed.address))
        await exchange()
        assert await asyncio.to_thread(pki_cli, "rotate", IMIGRASI, "--retire") == 0
        assert await fed.reload_trust() == [True, True, True, True]
        assert set(fed.broker.registry.current.registry.agencies[IMIGRASI].signing_keys) \
            == {new_kid}
        for _ in range(3):
            await exchange()
        assert failures == []
        assert len(answered) == 6
    finally:
        await clients[-1].close()
        await fed.stop()
