"""Registry hot reload over real mTLS: valid versions swap in and are audited by version,
invalid ones are refused with file:line:field and the old registry keeps serving."""

from __future__ import annotations

from pathlib import Path

import grpc
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import keys

from broker.audit.dialect import dialect_for
from broker.audit.log import LogReader
from g2g_harness.federation import LocalFederation
from tests.audit_reader import read_records
from tests.e2e.conftest import (
    LEGAL_BASIS,
    POLRI,
    SCREEN,
    expect_error,
    federation_with_own,
    name_query,
)

OTHER_KEY = keys.public_to_b64(Ed25519PrivateKey.generate().public_key())


def stored_registry(fed: LocalFederation, version: str) -> dict[str, str] | None:
    dialect = dialect_for(fed.config.audit)
    conn = dialect.connect()
    try:
        return LogReader(dialect, conn).registry_sources(version)
    finally:
        conn.close()


async def screen_as_polri(fed: LocalFederation) -> str:
    """One allowed exchange; returns the registry version its records carry."""
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    records = [r for r in await read_records(fed)
               if r["message_id"] == answer.header.in_reply_to]
    assert [r["kind"] for r in records] == ["request", "outcome"]
    assert records[0]["v"] == 2
    assert records[0]["registry_version"] == records[1]["registry_version"]
    return str(records[0]["registry_version"])


async def test_a_valid_registry_swaps_in_and_every_version_is_kept(
        tmp_path: Path, pki_dir: Path) -> None:
    async with federation_with_own(tmp_path, pki_dir, registry=True) as (fed, own):
        registry = own.registry
        reloader = fed.broker.registry
        first = reloader.current.version
        assert await screen_as_polri(fed) == first
        registry.write_text(registry.read_text().replace(
            "name: State Intelligence Agency (BIN)", "name: Badan Intelijen Negara"))
        reloader.request_reload()  # what SIGHUP calls
        await reloader.wait_for(first, timeout=10)
        second = reloader.current.version
        assert reloader.current.registry.agencies["ID/GOV/BIN"].name == "Badan Intelijen Negara"
        assert await screen_as_polri(fed) == second
        stored_first, stored_second = stored_registry(fed, first), stored_registry(fed, second)
        assert stored_first is not None
        assert stored_second is not None
        assert "Badan Intelijen Negara" in stored_second[str(registry)]
        assert "Badan Intelijen Negara" not in stored_first[str(registry)]


async def test_invalid_registries_are_refused_and_the_old_one_keeps_serving(
        tmp_path: Path, pki_dir: Path) -> None:
    async with federation_with_own(tmp_path, pki_dir, registry=True) as (fed, own):
        registry = own.registry
        reloader = fed.broker.registry
        first = reloader.current.version
        good = registry.read_text()
        bad_key = ("    name: State Intelligence Agency (BIN)\n"
                   "    signing_keys: [{public_key: AAAA}]\n")
        cases = {
            # a second ID/GOV/POLRI entry
            good.replace("  - id: ID/GOV/BIN\n", "  - id: ID/GOV/POLRI\n"):
                ": agencies[2].id: duplicate agency id 'ID/GOV/POLRI'",
            good.replace("    name: State Intelligence Agency (BIN)\n", bad_key):
                ": agencies[2].signing_keys[0].public_key: not a base64 Ed25519 public key",
            # a key file the PKI does not have
            good.replace("  - id: ID/GOV/BIN\n", "  - id: ID/GOV/BIN-X\n"):
                ": agencies[2].id: no signing_keys given and ",
            # the policies name ID/GOV/BIN: a registry without it cannot serve them
            good.replace("  - id: ID/GOV/BIN\n", "  - id: ID/GOV/BIN-X\n    signing_keys: "
                         f"[{{public_key: {OTHER_KEY}}}]\n"): "ID/GOV/BIN",
            good[:len(good) // 2]: "",  # half-written
        }
        with structlog.testing.capture_logs() as logs:
            for text, message in cases.items():
                registry.write_text(text)
                assert await reloader.reload() is False
                assert reloader.current.version == first
                assert reloader.last_error is not None
                assert message in reloader.last_error, reloader.last_error
                if message.startswith(":"):
                    assert reloader.last_error.startswith(f"{registry}:")
            registry.unlink()  # a registry file that disappears
            assert await reloader.reload() is False
            assert reloader.last_error == f"{registry}: cannot read: No such file or directory"
        rejected = [e for e in logs if e["event"] == "registry_reload_rejected"]
        assert len(rejected) == len(cases) + 1
        assert {e["keeping_version"] for e in rejected} == {first}
        # Still serving, under the first version.
        assert await screen_as_polri(fed) == first
        registry.write_text(good)
        assert await reloader.reload() is False  # same bytes, same version: nothing to swap
        assert reloader.current.version == first
        # A valid registry revoking POLRI's key (inline, beside the CA's published entry:
        # the stricter time wins): its signatures are refused from then on.
        polri_key = keys.public_to_b64(keys.load_public_key(
            fed.pki_dir / "agencies" / "id-gov-polri" / "signing.pub"))
        registry.write_text(good.replace(
            "    name: Indonesian National Police (Polri)\n",
            f"    name: Indonesian National Police (Polri)\n"
            f"    signing_keys: [{{public_key: {polri_key},\n"
            "                    revoked_at: '2026-01-01T00:00:00Z'}]\n"))
        assert await reloader.reload() is True, reloader.last_error
        async with fed.client(POLRI) as client:
            await expect_error(
                client.call(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                            legal_basis=LEGAL_BASIS),
                grpc.StatusCode.UNAUTHENTICATED, "KEY_REVOKED")
        (record,) = [r for r in await read_records(fed) if r["reason"] == "KEY_REVOKED"]
        assert record["registry_version"] == reloader.current.version != first
