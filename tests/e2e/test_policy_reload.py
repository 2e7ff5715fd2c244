"""Hot reload: a valid change is swapped in atomically, an invalid one never serves."""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc

from broker.audit.dialect import dialect_for
from broker.audit.log import LogReader
from broker.federation import POLICIES, start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, SCREEN, expect_error, name_query


async def test_reload_swaps_valid_sets_and_keeps_serving_on_invalid(
        tmp_path: Path, pki_dir: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    config = write_config(tmp_path, pki_dir=pki_dir, policies=policies)
    fed = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config)
    try:
        watcher = fed.broker.watcher
        first = watcher.current.version
        async with fed.client("ID/GOV/BEA-CUKAI") as client:
            await expect_error(client.call(SCREEN, name_query("Budi Santoso"),
                                           purpose="tax_audit", legal_basis=LEGAL_BASIS),
                               grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")

            rules = policies / "imigrasi-watchlist.yaml"
            rules.write_text(rules.read_text().replace("purposes: [border_control]\n",
                                                       "purposes: [border_control, tax_audit]\n"))
            broken = policies / "broken.yaml"
            broken.write_text("rules:\n  - id: x\n    effect: allow\n")
            assert await watcher.reload() is False
            assert watcher.current.version == first
            assert watcher.last_error is not None
            assert "missing required field" in watcher.last_error

            broken.unlink()
            assert await watcher.reload() is True
            second = watcher.current.version
            assert second != first
            answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                       purpose="tax_audit", legal_basis=LEGAL_BASIS)
            assert answer.payload is not None
    finally:
        await fed.stop()
    dialect = dialect_for(fed.config.audit)
    conn = dialect.connect()
    reader = LogReader(dialect, conn)
    assert reader.policy_sources(first) is not None
    sources = reader.policy_sources(second)
    assert sources is not None
    assert "tax_audit" in sources["imigrasi-watchlist.yaml"]
    conn.close()
