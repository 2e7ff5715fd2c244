"""Revocation over real mTLS, no process restarted: `g2g pki revoke` writes the CRL or the
key's revoked_at, the broker and the adapters reload it, and the refusals are audited.
Bad CRLs (malformed, another CA's, half-written, vanished, stale, rolled back) are refused
with a precise message while the previous trust state keeps serving."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from g2g_sdk import ca, envelope

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY, LocalFederation, start_federation
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query

BIN = "ID/GOV/BIN"


@pytest.fixture
async def own_pki(tmp_path: Path, pki_dir: Path) -> Path:
    """A copy of the session PKI this test may revoke in."""
    copy = tmp_path / "pki"
    shutil.copytree(pki_dir, copy)
    return copy


@pytest.fixture
async def fed(tmp_path: Path, own_pki: Path) -> AsyncIterator[LocalFederation]:
    federation = await start_federation(tmp_path / "fed", pki_dir=own_pki)
    try:
        yield federation
    finally:
        await federation.stop()


PURPOSE = {POLRI: "criminal_investigation", "ID/GOV/BIN": "border_control"}


async def screen(fed: LocalFederation, agency: str) -> str:
    """One allowed exchange as `agency`; its message id."""
    async with fed.client(agency) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose=PURPOSE[agency], legal_basis=LEGAL_BASIS)
    return answer.header.in_reply_to


def pki(fed: LocalFederation, *args: str) -> None:
    assert main(["pki", *args, "--registry", str(REGISTRY),
                 "--pki-dir", str(fed.pki_dir)]) == 0


async def test_a_revoked_certificate_is_refused_audited_and_never_forwarded(
        fed: LocalFederation) -> None:
    await screen(fed, POLRI)
    crls = fed.broker.crls
    first = crls.current.version
    pki(fed, "revoke", POLRI, "--reason", "key_compromise")
    assert await fed.reload_trust() == [False, True, False, True]  # CRLs only
    assert crls.current.version != first
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.UNAUTHENTICATED,
                                 "CERT_REVOKED")
    serial = f"{ca.current_certificate(fed.pki_dir, POLRI).serial_number:x}"
    assert err.metadata == {"serial": serial}
    records = [r for r in await read_records(fed)
               if r["message_id"] == envelope.parse_header(env).message_id]
    # Refused before the header was trusted: one `rejected` record, nothing forwarded.
    assert [(r["kind"], r["consumer"], r["status_code"], r["reason"]) for r in records] == [
        ("rejected", POLRI, "UNAUTHENTICATED", "CERT_REVOKED")]
    await screen(fed, BIN)  # everyone else is unaffected


async def test_a_revoked_signing_key_refuses_messages_created_after_it(
        fed: LocalFederation) -> None:
    await screen(fed, BIN)
    async with fed.client(BIN) as client:
        # Signed before the revocation time (and still fresh): accepted after it too.
        early = client.build(SCREEN, name_query("Budi Santoso"), purpose="border_control",
                             legal_basis=LEGAL_BASIS)
        created = envelope.from_timestamp(envelope.parse_header(early).created_at)
        at = (created + dt.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        pki(fed, "revoke", BIN, "--key-only", "--at", at)
        assert await fed.reload_trust() == [True, False, True, False]  # registry only
        await client.send(early)
        late = client.build(SCREEN, name_query("Budi Santoso"), purpose="border_control",
                            legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(late), grpc.StatusCode.UNAUTHENTICATED,
                                 "KEY_REVOKED")
    assert set(err.metadata) == {"keyid"}
    (record,) = [r for r in await read_records(fed)
                 if r["message_id"] == envelope.parse_header(late).message_id]
    assert (record["kind"], record["reason"], record["registry_version"]) == (
        "rejected", "KEY_REVOKED", fed.broker.registry.current.version)


async def test_the_provider_toolkit_refuses_a_revoked_broker_certificate(
        fed: LocalFederation) -> None:
    await screen(fed, POLRI)
    pki(fed, "revoke", "broker", "--reason", "cessation_of_operation")
    await fed.reload_trust()
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        await expect_error(client.send(env), grpc.StatusCode.UNAUTHENTICATED, "CERT_REVOKED")
    # The adapter refused the broker's call; the broker audited the provider's answer.
    records = [r for r in await read_records(fed)
               if r["message_id"] == envelope.parse_header(env).message_id]
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "UNAUTHENTICATED", "CERT_REVOKED")]


def _foreign_crl(pki_dir: Path, *, same_name: bool) -> bytes:
    """A CRL signed by a key that is not the federation CA's."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, _ = ca.load_ca(pki_dir)
    name = ca_cert.subject if same_name else x509.Name(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, "someone else's CA")])
    now = dt.datetime.now(dt.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(now)
           .next_update(now + dt.timedelta(days=1))
           .add_extension(x509.CRLNumber(1000), critical=False).sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM)


async def test_bad_crls_are_refused_and_the_previous_state_keeps_serving(
        fed: LocalFederation) -> None:
    crl_path = fed.pki_dir / ca.CRL_FILE
    original = crl_path.read_bytes()
    pki(fed, "revoke", POLRI)
    await fed.reload_trust()
    revoked_state = fed.broker.crls.current.version
    good = crl_path.read_bytes()
    now = dt.datetime.now(dt.UTC)
    stale = ca.issue_crl  # reissued below with a past nextUpdate
    cases: list[tuple[bytes | None, str]] = [
        (b"-----BEGIN X509 CRL-----\nnot base64 at all\n-----END X509 CRL-----\n",
         "not an X.509 CRL in PEM (malformed, or incomplete: half-written?)"),
        (good[: len(good) // 2],  # half-written
         "not an X.509 CRL in PEM (malformed, or incomplete: half-written?)"),
        (_foreign_crl(fed.pki_dir, same_name=True),
         "the CRL's signature does not verify with the key of the federation CA "
         "'CN=g2g development CA,O=g2g development federation' (signed by another CA, or "
         "altered)"),
        (_foreign_crl(fed.pki_dir, same_name=False),
         "the CRL is issued by \"CN=someone else's CA\", which is not a federation CA"),
        (original, "CRL number 1 is lower than the serving CRL's 2: refusing to roll "
                   "revocations back"),
        (None, "cannot read: No such file or directory (the federation CA's CRL or "
               "certificate; `g2g pki init` writes the development CA's, `trust.crls` names "
               "others)"),  # the file disappears
    ]
    with structlog.testing.capture_logs() as logs:
        for data, message in cases:
            if data is None:
                crl_path.unlink()
            else:
                crl_path.write_bytes(data)
            assert await fed.broker.crls.reload() is False
            assert fed.broker.crls.last_error == f"{crl_path}: {message}"
            assert fed.broker.crls.current.version == revoked_state
            # The previous state keeps serving: POLRI still revoked, BIN still served.
            async with fed.client(POLRI) as client:
                await expect_error(
                    client.call(SCREEN, name_query("Budi Santoso"),
                                purpose="criminal_investigation", legal_basis=LEGAL_BASIS),
                    grpc.StatusCode.UNAUTHENTICATED, "CERT_REVOKED")
            await screen(fed, BIN)
        crl_path.write_bytes(good)
        stale(fed.pki_dir, [], now=now - dt.timedelta(days=2), days=1)
        assert await fed.broker.crls.reload() is False
        assert fed.broker.crls.last_error is not None
        assert "the CRL is stale: its nextUpdate" in fed.broker.crls.last_error
    rejected = [e for e in logs if e["event"] == "crl_reload_rejected"]
    # Logged once per distinct error (the two malformed files say the same), plus stale.
    assert len(rejected) == len(cases)
    assert {e["keeping_version"] for e in rejected} == {revoked_state}


async def test_providers_refuse_attestations_by_a_revoked_broker_key(
        fed: LocalFederation) -> None:
    await screen(fed, POLRI)
    pki(fed, "revoke", "broker", "--key-only")
    assert await fed.reload_trust() == [True, False, True, False]
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        await expect_error(client.send(env), grpc.StatusCode.PERMISSION_DENIED,
                           "ATTESTATION_INVALID")
    records = [r for r in await read_records(fed)
               if r["message_id"] == envelope.parse_header(env).message_id]
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "PERMISSION_DENIED", "ATTESTATION_INVALID")]
