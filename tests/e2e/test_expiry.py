"""Expiry over real mTLS, no process restarted: the broker's clock moves on (injected), it
warns before certificates and CRLs expire and refuses them once they have (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import structlog
from g2g_sdk import envelope

from g2g_harness.federation import LocalFederation, start_federation
from tests.audit_reader import read_records
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query


async def refused(fed: LocalFederation, reason: str) -> dict[str, object]:
    """One POLRI call refused with UNAUTHENTICATED `reason`; its audit record."""
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        await expect_error(client.send(env), grpc.StatusCode.UNAUTHENTICATED, reason)
    (record,) = [r for r in await read_records(fed)
                 if r["message_id"] == envelope.parse_header(env).message_id]
    return record


async def test_expiring_is_warned_about_and_expired_is_refused(
        tmp_path: Path, pki_dir: Path) -> None:
    ahead = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + ahead[0]

    fed = await start_federation(tmp_path, pki_dir=pki_dir, clock=clock)
    try:
        monitor = fed.broker.monitor
        async with fed.client(POLRI) as client:
            await client.call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        assert monitor.check() == []  # nothing due within 30 days (or 24 h for the CRL)
        figures = monitor.figures()
        assert figures[("crl", "CN=g2g development CA,O=g2g development federation",
                        str(pki_dir / "crl.pem"))] > 29 * 86400

        ahead[0] = timedelta(days=31)  # past the dev CRL's nextUpdate (30 days), no grace
        with structlog.testing.capture_logs() as logs:
            assert [e.kind for e in monitor.check()] == ["crl"]
        assert [(e["event"], e["log_level"]) for e in logs] == [("crl_stale", "error")]
        record = await refused(fed, "CRL_STALE")
        assert (record["kind"], record["consumer"], record["reason"]) == (
            "rejected", POLRI, "CRL_STALE")

        ahead[0] = timedelta(days=800)  # certificates (825 days) now within the 30-day window
        with structlog.testing.capture_logs() as logs:
            due = monitor.check()
        expiring = [e for e in logs if e["event"] == "certificate_expiring"]
        assert {e["party"] for e in expiring} >= {"broker", POLRI, "ID/GOV/IMIGRASI"}
        assert all(e["log_level"] == "warning" and 20 < e["days_left"] < 30 for e in expiring)
        assert len(expiring) == len([e for e in due if e.kind == "certificate"])

        ahead[0] = timedelta(days=826)  # POLRI's certificate has expired
        record = await refused(fed, "CERT_EXPIRED")
        assert (record["kind"], record["consumer"], record["reason"]) == (
            "rejected", POLRI, "CERT_EXPIRED")
    finally:
        await fed.stop()
