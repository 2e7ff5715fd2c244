"""Rotation under load, over real mTLS, no process restarted: `g2g pki rotate` publishes a
new signing key and certificate beside the old ones while exchanges run back to back, the
agency switches, no exchange fails; `--retire` then refuses the old key and certificate."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import grpc
from g2g_sdk import ConsumerClient, keys, pki
from g2g_sdk.errors import G2GError

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY, start_federation
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query

EXCHANGES = 40  # back to back, one after another, for the whole rotation
ROTATE_AT, SWITCH_AT = 8, 20


async def test_rotation_under_continuous_exchanges_loses_none_then_retires_the_old_key(
        tmp_path: Path, pki_dir: Path) -> None:
    own_pki = tmp_path / "pki"
    shutil.copytree(pki_dir, own_pki)
    fed = await start_federation(tmp_path / "fed", pki_dir=own_pki)
    old_identity = pki.load_identity(own_pki, POLRI)
    identities = [old_identity]
    clients = [ConsumerClient(old_identity, fed.registry, broker_endpoint=fed.address)]
    rotate_now, switched = asyncio.Event(), asyncio.Event()
    failures: list[G2GError] = []
    answered: list[str] = []
    signed_by: list[str] = []

    async def exchanges() -> None:
        for n in range(EXCHANGES):
            if n == ROTATE_AT:
                rotate_now.set()  # and carry on: the rotation happens under this load
            if n == SWITCH_AT:
                await switched.wait()  # the agency moves to its new key from here
            current = 0 if n < SWITCH_AT else 1  # the agency's identity at this point
            signed_by.append(keys.keyid(identities[current].signing_key.public_key()))
            try:
                answer = await clients[current].call(
                    SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                    legal_basis=LEGAL_BASIS)
                answered.append(answer.header.in_reply_to)
            except G2GError as exc:
                failures.append(exc)

    def pki_cli(*args: str) -> int:
        return main(["pki", *args, "--registry", str(REGISTRY), "--pki-dir", str(own_pki)])

    try:
        load = asyncio.ensure_future(exchanges())
        await rotate_now.wait()
        # Rotate while exchanges keep running (the CLI runs in a thread).
        assert await asyncio.to_thread(pki_cli, "rotate", POLRI) == 0
        assert await fed.reload_trust() == [True, False, True, False]  # registry, everywhere
        assert len(fed.broker.registry.current.registry.agencies[POLRI].signing_keys) == 2
        assert not load.done()
        new_identity = pki.load_identity(own_pki, POLRI)
        assert new_identity.tls_cert_pem != old_identity.tls_cert_pem
        clients.append(ConsumerClient(new_identity, fed.registry, broker_endpoint=fed.address))
        identities.append(new_identity)
        switched.set()
        await load
        assert failures == []
        assert len(answered) == EXCHANGES
        old_kid = keys.keyid(old_identity.signing_key.public_key())
        new_kid = keys.keyid(new_identity.signing_key.public_key())
        assert signed_by == [old_kid] * SWITCH_AT + [new_kid] * (EXCHANGES - SWITCH_AT)
        # Both keys signed exchanges that were answered, and every one is audited OK.
        outcomes = {r["message_id"]: r for r in await read_records(fed)
                    if r["kind"] == "outcome"}
        assert {outcomes[m]["status_code"] for m in answered} == {"OK"}

        assert await asyncio.to_thread(pki_cli, "rotate", POLRI, "--retire") == 0
        assert await fed.reload_trust() == [True, True, True, True]  # registry and CRL
        # The old certificate is revoked (superseded) ...
        await expect_error(clients[0].call(SCREEN, name_query("Budi Santoso"),
                                           purpose="criminal_investigation",
                                           legal_basis=LEGAL_BASIS),
                           grpc.StatusCode.UNAUTHENTICATED, "CERT_REVOKED")
        # ... and the old signing key, even on the new certificate, is no longer known.
        old_key = keys.load_private_key(
            own_pki / "agencies" / "id-gov-polri" / "previous"
            / keys.keyid(old_identity.signing_key.public_key())[:16] / "signing.key")
        assert keys.keyid(old_key.public_key()) == keys.keyid(
            old_identity.signing_key.public_key())
        clients.append(ConsumerClient(dataclasses.replace(new_identity, signing_key=old_key),
                                      fed.registry, broker_endpoint=fed.address))
        await expect_error(clients[-1].call(SCREEN, name_query("Budi Santoso"),
                                            purpose="criminal_investigation",
                                            legal_basis=LEGAL_BASIS),
                           grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_KEY")
        await clients[1].call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    finally:
        for client in clients:
            await client.close()
        await fed.stop()
