"""`g2g demo` runs every scripted exchange on free ports and each gets its expected outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk.registry import Registry

from g2g_cli.main import main
from g2g_harness import demo


def test_the_script_covers_every_service_allowed_and_refused(registry: Registry) -> None:
    steps = demo._steps()
    offered = {offer.name for agency in registry.agencies.values() for offer in agency.services}
    assert len(offered) == 8
    for service in offered:
        outcomes = {s.expect for s in steps if s.service == service}
        assert "OK" in outcomes, service
        assert outcomes - {"OK"}, f"{service} has no denied or invalid case"


def test_demo_runs_and_every_exchange_is_as_expected(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = len(demo._steps())
    assert f"\n{rows}/{rows} as expected; audit log: {tmp_path / 'audit.db'}" in out
    assert "UNEXPECTED" not in out
    assert "1 permit(s), 0 with sponsor [ACTIVE (expires " in out  # sponsor masked; status derived
    assert " hit(s) shown (add a DOB) [in force until " in out  # a cut answer says so
    assert "documents: must contain no more than 1000 item(s)" in out
    assert "POLICY_DENIED: denied by rule imigrasi-watchlist-no-intelligence-investigation" in out
    assert "rule interpol-documents-customs-pilot does not apply: expi" in out
    assert (tmp_path / "audit.db").is_file()
    # The in-force / expired / history cases (each row's `shows` is also checked above).
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "[in force until " in lines["customs at the border: an order in force"]
    expired = lines["customs at the border: an expired order"]
    assert " 0 hit(s), signed by ID/GOV/IMIGRASI" in expired
    assert "[expired after " in lines["investigator: the same expired order, history"]
    assert "denied by rule imigrasi-watchlist-border-in-force-only" in lines[
        "customs ask the border for history (deny)"]
