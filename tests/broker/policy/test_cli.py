"""`g2g policy explain|diff|test|check` through the CLI's main(), asserting exact output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from g2g_sdk.catalog import Catalog
from g2g_sdk.registry import Registry

from broker.policy import load_policy_set
from g2g_cli.main import main as g2g

REPO = Path(__file__).parents[3]
SHIPPED = REPO / "config" / "policies"
SCREEN = "g2g.immigration.v1.Watchlist/Screen"
GET_STATUS = "g2g.consular.v1.StayPermits/GetStatus"
AT = "2026-11-25T08:00:00+00:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = g2g(["policy", "--registry", str(REPO / "config/agencies.yaml"),
                "--pki-dir", "/nonexistent", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture
def version(registry: Registry) -> str:
    return load_policy_set(SHIPPED, registry, Catalog.from_registry(registry)).version


def explain(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code, out, err = run(capsys, "explain", "--policies", str(SHIPPED), "--at", AT, *argv)
    assert (code, err) == (0, "")
    return out


def test_explain_default_deny_lists_the_nearest_rules(capsys: pytest.CaptureFixture[str],
                                                      version: str) -> None:
    out = explain(capsys, "--consumer", "ID/GOV/BEA-CUKAI", "--service", SCREEN,
                  "--purpose", "tax_audit")
    w = f"{SHIPPED}/imigrasi-watchlist.yaml"
    h = f"{SHIPPED}/imigrasi-watchlist-history.yaml"
    assert out == [
        f"DENY by no rule (default deny) [policy {version}, at {AT}]",
        "  reason: no rule matched",
        f"  nearest rule imigrasi-watchlist-border-in-force-only ({h}:26:5) did not match: "
        "purpose not in ['border_control']",
        f"  nearest rule imigrasi-watchlist-customs ({w}:19:5) did not match: "
        "purpose not in ['border_control']",
        f"  nearest rule imigrasi-watchlist-history-investigation ({h}:10:5) did not match: "
        "consumer not in ['ID/GOV/POLRI']; purpose not in ['criminal_investigation']"]


def test_explain_a_deny_rule_names_the_allow_it_overrides(capsys: pytest.CaptureFixture[str],
                                                          version: str) -> None:
    out = explain(capsys, "--consumer", "ID/GOV/BIN", "--service", SCREEN, "--purpose",
                  "criminal_investigation", "--legal-basis", "UU 6/2011 Pasal 91")
    w = f"{SHIPPED}/imigrasi-watchlist.yaml"
    assert out == [
        f"DENY by imigrasi-watchlist-no-intelligence-investigation [policy {version}, at {AT}]",
        f"  rule: {w}:37:5  Intelligence may not screen for a criminal investigation "
        "(no investigative powers).",
        "  implements: UU 17/2011 (Intelijen Negara) Pasal 30-31; MoU Ditjen Imigrasi-Polri-BIN,"
        " clause 3.2",
        f"  overrides allow rule imigrasi-watchlist-law-enforcement ({w}:5:5): a deny beats any "
        "allow"]


def test_explain_conditions_on_a_request_file(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, version: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"passport_number": "NA1234567", "nationality": "NLD"}))
    args = ("--consumer", "NL/GOV/EMBASSY-JAKARTA", "--service", GET_STATUS, "--purpose",
            "consular_assistance", "--legal-basis", "VCCR Art. 5")
    c = f"{SHIPPED}/consular.yaml"
    assert explain(capsys, *args, "--json", str(request)) == [
        f"ALLOW by consular-nl-stay-permits [policy {version}, at {AT}]",
        f"  rule: {c}:7:5  The NL embassy may see stay permits of its own nationals, "
        "without sponsor.",
        "  implements: VCCR Art. 5; UU 6/2011 Pasal 48-63; consular arrangement Imigrasi-NL "
        "embassy",
        "  requires: legal basis matches /VCCR( .+)?/; nationality == 'NLD'",
        "  field mask: found, permits.permit_number, permits.type, permits.status, "
        "permits.issued_on, permits.expires_on, permits.holder_name, permits.first_expires_on, "
        "permits.extensions, permits.ended_on, checked_on",
        "  rate limits: 60 per_minute, 2000 per_day"]
    out = explain(capsys, *args, "--json", '{"passportNumber": "AA1234567", '
                  '"nationality": "AUS"}')
    assert out[:3] == [
        f"DENY by no rule (default deny) [policy {version}, at {AT}]",
        "  reason: no rule matched: rule consular-nl-stay-permits does not apply: "
        "condition failed: nationality == 'NLD'",
        f"  nearest rule consular-nl-stay-permits ({c}:7:5) did not match: condition failed: "
        "nationality == 'NLD'"]


def test_explain_json_format_at_a_past_time(capsys: pytest.CaptureFixture[str],
                                            version: str) -> None:
    code, out, _ = run(capsys, "explain", "--policies", str(SHIPPED), "--format", "json",
                       "--consumer", "ID/GOV/BEA-CUKAI", "--service",
                       "g2g.interpol.v1.TravelDocuments/Check", "--purpose", "border_control",
                       "--at", "2024-06-01T08:00Z")
    result = json.loads("\n".join(out))
    assert code == 0
    assert {k: result[k] for k in ("decision", "rule_id", "policy_version", "at",
                                   "rate_limits")} == {
        "decision": "allow", "rule_id": "interpol-documents-customs-pilot",
        "policy_version": version, "at": "2024-06-01T08:00:00+00:00",
        "rate_limits": ["60 per_minute", "2000 per_day"]}
    assert result["rule"]["requires"] == ["valid 2023-07-01..2024-12-31 (Asia/Jakarta)"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--json", '{"a": '], "g2g: CONFIG_INVALID: --json:1:7: invalid JSON: Expecting value"),
    (["--json", "/nonexistent/request.json"],
     "g2g: CONFIG_INVALID: /nonexistent/request.json: cannot read: No such file or directory"),
    (["--json", '{"byName": {"fullName": 3}}'],
     "g2g: CONFIG_INVALID: request: not a g2g.immigration.v1.ScreenRequest: Failed to parse "
     "fullName field: expected string or bytes-like object, got 'int'."),
    (["--at", "yesterday"], "g2g: CONFIG_INVALID: at: expected an ISO time like "
     "2026-01-31T08:00Z, got 'yesterday'"),
])
def test_explain_refuses_bad_input_with_one_line(capsys: pytest.CaptureFixture[str],
                                                 extra: list[str], message: str) -> None:
    code, out, err = run(capsys, "explain", "--policies", str(SHIPPED), "--consumer",
                         "ID/GOV/POLRI", "--service", SCREEN, "--purpose", "border_control",
                         *extra)
    assert (code, out, err) == (1, [], message + "\n")


def test_explain_names_where_a_request_file_is_not_utf8(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_bytes(b'{"byName":\n {"fullName": "Jos\xe9"}}')
    code, out, err = run(capsys, "explain", "--policies", str(SHIPPED), "--consumer",
                         "ID/GOV/POLRI", "--service", SCREEN, "--purpose", "border_control",
                         "--json", str(request))
    assert (code, out, err) == (1, [], f"g2g: CONFIG_INVALID: {request}:2:19: not UTF-8 text "
                                "(byte 0xe9: invalid continuation byte)\n")


def test_explain_refuses_an_unknown_consumer(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "--policies", str(SHIPPED), "--consumer", "ID/GOV/X",
                       "--service", SCREEN, "--purpose", "border_control")
    assert (code, err) == (1, "g2g: CONFIG_INVALID: consumer: unknown agency 'ID/GOV/X'\n")


def _edited_copy(tmp_path: Path) -> Path:
    new = tmp_path / "new"
    shutil.copytree(SHIPPED, new)
    watchlist = new / "imigrasi-watchlist.yaml"
    text = watchlist.read_text()
    text = text.replace("purposes: [border_control]\n    legal_basis",
                        "purposes: [border_control, tax_audit]\n    legal_basis")
    watchlist.write_text(text[:text.index("  # Explicit deny")])
    return new


def test_diff_lists_each_changed_decision(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          registry: Registry, version: str) -> None:
    new = _edited_copy(tmp_path)
    new_version = load_policy_set(new, registry, Catalog.from_registry(registry)).version
    code, out, err = run(capsys, "diff", str(SHIPPED), str(new))
    assert (code, err) == (0, "")
    assert out == [
        f"--- {SHIPPED} (policy {version})",
        f"+++ {new} (policy {new_version})",
        f"ID/GOV/BEA-CUKAI -> ID/GOV/IMIGRASI {SCREEN} [tax_audit]",
        "  - deny by default (no rule)",
        "  + allow by imigrasi-watchlist-customs if legal basis matches /UU 6/2011( .+)?/ (allow "
        "hits.entry_id, hits.score, hits.matched_fields, hits.entry.full_name, "
        "hits.entry.date_of_birth, hits.entry.nationality, hits.entry.ban_type, hits.status, "
        "hits.entry.valid_until, hits.in_force, hits.decisive_date, checked_on, threshold, "
        "listed_entries, total_matches, truncated)",
        f"ID/GOV/BIN -> ID/GOV/IMIGRASI {SCREEN} [criminal_investigation]",
        "  - deny by imigrasi-watchlist-no-intelligence-investigation",
        "  - allow by imigrasi-watchlist-law-enforcement if legal basis matches /UU 6/2011( .+)?/ "
        "(redact hits.entry.case_reference)",
        "  + allow by imigrasi-watchlist-law-enforcement if legal basis matches /UU 6/2011( .+)?/ "
        "(redact hits.entry.case_reference)",
        "2 decision(s) change"]
    assert run(capsys, "diff", str(SHIPPED), str(SHIPPED))[1][2:] == ["0 decision(s) change"]


def test_test_reports_mismatches_coverage_and_exits_non_zero(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, version: str) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: police screen at the border\n"
        "    consumer: ID/GOV/POLRI\n"
        f"    service: {SCREEN}\n"
        "    purpose: border_control\n"
        "    legal_basis: UU 6/2011 Pasal 91\n"
        "    expect: {decision: allow, rule: imigrasi-watchlist-law-enforcement,\n"
        "             mask_excludes: [hits.entry.case_reference]}\n"
        "  - name: a wrong expectation\n"
        "    consumer: ID/GOV/POLRI\n"
        f"    service: {SCREEN}\n"
        "    purpose: border_control\n"
        "    expect: {decision: allow, mask_includes: [hits.entry.case_reference]}\n")
    code, out, err = run(capsys, "test", "--policies", str(SHIPPED), str(cases))
    assert (code, err) == (1, "")
    assert out[:3] == [
        "ok   police screen at the border",
        f"FAIL {cases}:9 a wrong expectation: decision deny, expected allow; "
        "mask lacks hits.entry.case_reference",
        f"1/2 cases passed against policy {version}"]
    assert out[3].startswith("rules covered: 1/30; never decided a case: ")


def test_test_case_errors_are_located(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: typo\n    consumer: ID/GOV/POLRI\n"
                     "    service: g2g.immigration.v1.Watchlist/Scren\n"
                     "    purpose: border_control\n    expect: {decision: allow}\n")
    code, _, err = run(capsys, "test", "--policies", str(SHIPPED), str(cases))
    assert (code, err) == (1, f"g2g: CONFIG_INVALID: {cases}:4:14: cases[0].service: unknown "
                              "service 'g2g.immigration.v1.Watchlist/Scren'\n")


def test_check_summarises_the_shipped_set(capsys: pytest.CaptureFixture[str],
                                          version: str) -> None:
    code, out, err = run(capsys, "check", str(SHIPPED))
    assert (code, err) == (0, "")
    assert out[0] == f"OK {SHIPPED}: version {version}, 30 rules (27 allow, 3 deny), 7 files"
    assert out[2] == "  services covered: 10"
    assert out[-1:] == [f"  note: interpol-documents-customs-pilot ({SHIPPED}/interpol.yaml:51:5) "
                        "expired on 2024-12-31"]


def test_explain_an_expired_agreement_puts_it_nearest(capsys: pytest.CaptureFixture[str],
                                                      version: str) -> None:
    out = explain(capsys, "--consumer", "ID/GOV/BEA-CUKAI", "--service",
                  "g2g.interpol.v1.TravelDocuments/Check", "--purpose", "border_control")
    assert out[:3] == [
        f"DENY by no rule (default deny) [policy {version}, at {AT}]",
        "  reason: no rule matched: rule interpol-documents-customs-pilot does not apply: "
        "expired on 2024-12-31",
        f"  nearest rule interpol-documents-customs-pilot ({SHIPPED}/interpol.yaml:51:5) did "
        "not match: expired on 2024-12-31"]


def test_diff_exit_code_says_whether_any_decision_changes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    new = _edited_copy(tmp_path)
    assert run(capsys, "diff", "--exit-code", str(SHIPPED), str(new))[0] == 1
    assert run(capsys, "diff", "--exit-code", str(SHIPPED), str(SHIPPED))[0] == 0
    assert run(capsys, "diff", str(SHIPPED), str(new))[0] == 0  # without it: a report only
