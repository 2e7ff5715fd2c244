"""Signing keys in an HSM (SoftHSM2 over PKCS#11), end to end over real mTLS: the consumer's
envelope, the broker's attestation and the broker's audit checkpoints are all signed in the
token (`signing.uri` / `log.uri` in the PKI directory); everything verifies as usual."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from g2g_sdk import ca, keys, pki, signer
from g2g_sdk.signer import Pkcs11Signer

from broker.audit.dialect import dialect_for
from broker.audit.log import LogReader
from broker.audit.verify import verify_log
from g2g_harness.federation import start_federation
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, name_query
from tests.softhsm import Token

pytestmark = pytest.mark.pkcs11


async def test_envelopes_attestations_and_checkpoints_signed_in_softhsm2(
        tmp_path: Path, pki_dir: Path, softhsm: Token) -> None:
    token = softhsm
    own = tmp_path / "pki"
    shutil.copytree(pki_dir, own)
    made: dict[str, Pkcs11Signer] = {}
    published = ca.read_published(own)
    parties = ((POLRI, "signing"), ("broker", "signing"), ("broker", "log"))
    token.generate(*(f"{p.replace('/', '-').lower()}-{stem}" for p, stem in parties))
    for party, stem in parties:
        label = f"{party.replace('/', '-').lower()}-{stem}"
        made[label] = token.signer(label)
        (pki.party_dir(own, party) / f"{stem}.uri").write_text(token.uri(label) + "\n")
        if stem == "signing":  # published beside the key file's key, so both verify
            published[party]["signing_keys"].append(ca.key_entry(made[label].public_key()))
    ca.write_published(own, published)
    for hsm in made.values():
        hsm.close()

    fed = await start_federation(tmp_path / "fed", pki_dir=own)
    try:
        identity = pki.load_identity(own, POLRI)
        assert isinstance(identity.signing_key, Pkcs11Signer)
        assert isinstance(fed.broker.broker.signing_key, Pkcs11Signer)
        async with fed.client(POLRI) as client:
            answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                       purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        records = [r for r in await read_records(fed)
                   if r["message_id"] == answer.header.in_reply_to]
        assert [(r["kind"], r["status_code"]) for r in records] == [
            ("request", ""), ("outcome", "OK")]
    finally:
        await fed.stop()  # signs the final checkpoint with the HSM's log key
    log_public = pki.load_log_key(own).public_key()
    assert signer.keyid(made["broker-log"]) == keys.keyid(log_public)
    dialect = dialect_for(fed.config.audit)
    conn = dialect.connect()
    try:
        report = verify_log(LogReader(dialect, conn), fed.config.audit.origin, log_public)
    finally:
        conn.close()
    assert report.ok, report.problems
    assert report.checkpoints >= 1
    assert report.unsigned_tail == 0
