"""Onboarding over real mTLS, no process restarted: `g2g agency add` (development) and the
production CSR path (`g2g pki csr` at the agency, `g2g pki sign` at the CA). The new agency
is refused until a policy allows it, then served."""

from __future__ import annotations

import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from g2g_sdk import ConsumerClient, keys, pki
from g2g_sdk.pki import Identity

from g2g_cli.main import main
from g2g_harness.federation import (
    REGISTRY,
    LocalFederation,
)
from tests.audit_reader import read_records
from tests.e2e.conftest import (
    LEGAL_BASIS,
    SCREEN,
    expect_error,
    federation_with_own,
    name_query,
)

KPK = "ID/GOV/KPK"
PPATK = "ID/GOV/PPATK"
POLICY = """rules:
  - id: imigrasi-watchlist-{slug}
    description: {name} may screen persons against the cekal list.
    agreement: "UU 6/2011 Pasal 91; MoU Ditjen Imigrasi-{name}"
    effect: allow
    provider: ID/GOV/IMIGRASI
    service: g2g.immigration.v1.Watchlist/Screen
    consumers: [{agency}]
    purposes: [criminal_investigation]
    legal_basis: "UU 6/2011( .+)?"
    mask:
      redact: [hits.entry.case_reference]
"""


@pytest.fixture
async def fed(tmp_path: Path, pki_dir: Path) -> AsyncIterator[LocalFederation]:
    """A federation on its own copies of the registry, policies and PKI."""
    async with federation_with_own(tmp_path, pki_dir, pki=True, registry=True,
                                   policies=True) as (federation, _):
        yield federation


async def screen(fed: LocalFederation, identity: Identity) -> str:
    async with ConsumerClient(identity, fed.registry, broker_endpoint=fed.address) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    return answer.header.in_reply_to


async def refused_until_a_policy_allows(fed: LocalFederation, identity: Identity,
                                        slug: str, name: str) -> None:
    await expect_error(screen(fed, identity), grpc.StatusCode.PERMISSION_DENIED,
                       "POLICY_DENIED")
    policies = fed.config.policies
    (policies / f"{slug}.yaml").write_text(POLICY.format(slug=slug, name=name,
                                                         agency=identity.agency_id))
    assert await fed.broker.watcher.reload() is True, fed.broker.watcher.last_error
    message_id = await screen(fed, identity)
    records = [r for r in await read_records(fed) if r["message_id"] == message_id]
    assert [(r["kind"], r["consumer"], r["status_code"]) for r in records] == [
        ("request", identity.agency_id, ""), ("outcome", identity.agency_id, "OK")]
    assert records[0]["rule_id"] == f"imigrasi-watchlist-{slug}"


async def test_agency_add_onboards_a_new_agency_without_a_restart(
        fed: LocalFederation) -> None:
    assert main(["agency", "add", KPK, "--name", "Komisi Pemberantasan Korupsi",
                 "--registry", str(fed.config.registry), "--pki-dir", str(fed.pki_dir)]) == 0
    assert await fed.reload_trust() == [True, False, True, False]
    assert fed.broker.registry.current.registry.agencies[KPK].name == \
        "Komisi Pemberantasan Korupsi"
    identity = pki.load_identity(fed.pki_dir, KPK)
    await refused_until_a_policy_allows(fed, identity, "kpk", "KPK")
    # Adding it twice is refused, and the registry is left as it was.
    before = fed.config.registry.read_bytes()
    assert main(["agency", "add", KPK, "--name", "again", "--registry",
                 str(fed.config.registry), "--pki-dir", str(fed.pki_dir)]) == 1
    assert fed.config.registry.read_bytes() == before


async def test_the_csr_path_onboards_an_agency_whose_keys_never_leave_it(
        tmp_path: Path, fed: LocalFederation) -> None:
    agency_dir = tmp_path / "ppatk"  # the agency's own machine
    assert main(["pki", "csr", PPATK, "--out", str(agency_dir)]) == 0
    for name in ("tls.key", "signing.key"):
        assert stat.S_IMODE((agency_dir / name).stat().st_mode) == 0o600
    # At the federation CA: only the CSR and the public signing key arrive.
    inbox = tmp_path / "ca-inbox"
    inbox.mkdir()
    for name in ("tls.csr", "signing.pub"):
        shutil.copyfile(agency_dir / name, inbox / name)
    assert main(["pki", "sign", PPATK, "--csr", str(inbox / "tls.csr"),
                 "--out", str(inbox / "tls.crt"), "--signing-pub", str(inbox / "signing.pub"),
                 "--registry", str(fed.config.registry), "--pki-dir", str(fed.pki_dir)]) == 0
    # The registry operator adds the entry (its keys come from published.yaml).
    registry = fed.config.registry
    registry.write_text(registry.read_text() + f"  - id: {PPATK}\n    name: PPATK\n")
    assert await fed.reload_trust() == [True, False, True, False]
    identity = Identity(
        agency_id=PPATK, tls_cert_pem=(inbox / "tls.crt").read_bytes(),
        tls_key_pem=(agency_dir / "tls.key").read_bytes(),
        ca_pem=(fed.pki_dir / "ca.crt").read_bytes(),
        signing_key=keys.load_private_key(agency_dir / "signing.key"))
    await refused_until_a_policy_allows(fed, identity, "ppatk", "PPATK")


def test_a_tampered_csr_is_refused(tmp_path: Path, pki_dir: Path) -> None:
    assert main(["pki", "csr", PPATK, "--out", str(tmp_path / "a")]) == 0
    csr = tmp_path / "a" / "tls.csr"
    text = csr.read_text().splitlines()
    body = text[5]
    text[5] = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    csr.write_text("\n".join(text) + "\n")
    own = tmp_path / "pki"
    shutil.copytree(pki_dir, own)
    assert main(["pki", "sign", PPATK, "--csr", str(csr), "--out", str(tmp_path / "x.crt"),
                 "--registry", str(REGISTRY), "--pki-dir", str(own)]) == 1
    assert not (tmp_path / "x.crt").exists()
