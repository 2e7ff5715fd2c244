"""While the audit store is unreachable, no refusal is answered as if it were recorded.

PostgreSQL store; its connections are cut with pg_terminate_backend. Every
refusal (policy denial, bad signature, constraint violation, random bytes) is
then UNAVAILABLE / AUDIT_UNAVAILABLE and leaves no record; once the store is
back, refusals are answered and recorded again.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import grpc
import psycopg
import pytest
from g2g_sdk import envelope, pki, status, tls
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk.errors import G2GError

from g2g_harness.federation import start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query
from tests.pg import PG_BASE, pg_schema

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]
CUSTOMS = "ID/GOV/BEA-CUKAI"


async def test_refusals_fail_closed_while_the_store_is_down(
        tmp_path: Path, pki_dir: Path) -> None:
    name = f"g2g-refusals-{os.getpid()}-{id(tmp_path)}"
    for schema_dsn in pg_schema():
        dsn = f"{schema_dsn}&application_name={name}"  # so that only this store's are cut
        config = write_config(tmp_path, pki_dir=pki_dir, audit_yaml=(
            f"  backend: postgres\n  dsn: {dsn}\n  reconnect_seconds: 0.2\n"))
        federation = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config,
                                            adapters=("immigration",))
        fed = Fed(federation)
        try:
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                assert admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (name,)).fetchall()
            police, customs = fed.client(POLRI), fed.client(CUSTOMS)
            denied = customs.build(SCREEN, name_query("Budi Santoso"), purpose="tax_audit")
            tampered = police.build(SCREEN, name_query("Budi Santoso"),
                                    purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            tampered.payload = name_query("Someone Else").SerializeToString()
            invalid = police.build(SCREEN, watchlist_pb2.ScreenRequest(),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            for client, env in ((customs, denied), (police, tampered), (police, invalid)):
                err = await expect_error(client.send(env), grpc.StatusCode.UNAVAILABLE,
                                         "AUDIT_UNAVAILABLE")
                assert err.metadata == {}
            identity = pki.load_identity(pki_dir, POLRI)
            async with grpc.aio.secure_channel(federation.address,
                                               tls.channel_credentials(identity)) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await channel.unary_unary("/g2g.v1.Exchange/Call")(
                        random.Random(5).randbytes(1000), timeout=10)
            assert (info.value.code(), status.error_from_rpc(info.value).reason) == (
                grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
            # Back: the next refusal is answered as itself, and recorded.
            deadline = time.monotonic() + 10.0
            while True:
                back = customs.build(SCREEN, name_query("Budi Santoso"), purpose="tax_audit")
                try:
                    await customs.send(back)
                except G2GError as exc:
                    if exc.reason == "POLICY_DENIED":
                        break
                assert time.monotonic() < deadline, "the store never came back"
                await asyncio.sleep(0.05)  # polling for the reconnect with a deadline
            records = await fed.all_records()
            recorded = {r["message_id"] for r in records}
            for env in (denied, tampered, invalid):
                assert envelope.parse_header(env).message_id not in recorded
            assert [(r["kind"], r["consumer"], r["reason"]) for r in records] == [
                ("rejected", CUSTOMS, "POLICY_DENIED")]
            assert records[0]["message_id"] == envelope.parse_header(back).message_id
        finally:
            await federation.stop()
