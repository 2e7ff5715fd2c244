"""Hot reload: a valid change is swapped in atomically, an invalid one never serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from g2g_sdk import envelope

from broker.audit.dialect import dialect_for
from broker.audit.log import LogReader
from tests.audit_reader import read_records
from tests.e2e.conftest import (
    LEGAL_BASIS,
    SCREEN,
    expect_error,
    federation_with_own,
    name_query,
)


async def test_reload_swaps_valid_sets_and_keeps_serving_on_invalid(
        tmp_path: Path, pki_dir: Path) -> None:
    async with federation_with_own(tmp_path, pki_dir, policies=True) as (fed, own):
        policies = own.policies
        watcher = fed.broker.watcher
        first = watcher.current.version
        async with fed.client("ID/GOV/BEA-CUKAI") as client:
            await expect_error(client.call(SCREEN, name_query("Budi Santoso"),
                                           purpose="tax_audit", legal_basis=LEGAL_BASIS),
                               grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")

            # The broken file goes in first, so no poll can ever see the valid edit alone.
            broken = policies / "broken.yaml"
            broken.write_text("rules:\n  - id: x\n    effect: allow\n")
            rules = policies / "imigrasi-watchlist.yaml"
            rules.write_text(rules.read_text().replace("purposes: [border_control]\n",
                                                       "purposes: [border_control, tax_audit]\n"))
            assert await watcher.reload() is False
            assert watcher.current.version == first
            assert watcher.last_error == (f"{policies}/broken.yaml:2:5: rules[0].agreement: "
                                          "missing required field 'agreement'")
            # The old set keeps deciding: still denied, and audited under the old version.
            env = client.build(SCREEN, name_query("Budi Santoso"), purpose="tax_audit",
                               legal_basis=LEGAL_BASIS)
            err = await expect_error(client.send(env), grpc.StatusCode.PERMISSION_DENIED,
                                     "POLICY_DENIED")
            assert err.metadata["policy_version"] == first
            (record,) = [r for r in await read_records(fed)
                         if r["message_id"] == envelope.parse_header(env).message_id]
            assert (record["decision"], record["policy_version"]) == ("deny", first)

            broken.unlink()
            await watcher.reload()  # True, unless the background poll got there first
            second = watcher.current.version
            assert second != first
            answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                       purpose="tax_audit", legal_basis=LEGAL_BASIS)
            assert answer.payload is not None
            (record, _) = [r for r in await read_records(fed)
                           if r["message_id"] == answer.header.in_reply_to]
            assert (record["decision"], record["rule_id"], record["policy_version"]) == (
                "allow", "imigrasi-watchlist-customs", second)
    dialect = dialect_for(fed.config.audit)
    conn = dialect.connect()
    reader = LogReader(dialect, conn)
    assert reader.policy_sources(first) is not None
    sources = reader.policy_sources(second)
    assert sources is not None
    assert "tax_audit" in sources["imigrasi-watchlist.yaml"]
    conn.close()


async def test_removing_the_deny_lets_the_group_allow_decide_after_a_reload(
        tmp_path: Path, pki_dir: Path) -> None:
    async with federation_with_own(tmp_path, pki_dir, policies=True) as (fed, own):
        policies = own.policies
        watcher = fed.broker.watcher
        first = watcher.current.version
        rules = policies / "imigrasi-watchlist.yaml"
        text = rules.read_text()
        rules.write_text(text[:text.index("  # Explicit deny")])
        watcher.request_reload()  # what SIGHUP calls; the 2 s poll would get there too
        async with watcher.reloaded:
            await asyncio.wait_for(
                watcher.reloaded.wait_for(lambda: watcher.current.version != first), 10)
        async with fed.client("ID/GOV/BIN") as client:
            answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                       purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        (record, _) = [r for r in await read_records(fed)
                       if r["message_id"] == answer.header.in_reply_to]
        assert (record["rule_id"], record["policy_version"]) == (
            "imigrasi-watchlist-law-enforcement", watcher.current.version)
