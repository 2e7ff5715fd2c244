"""The policy language: evaluation semantics, masks, and load-time errors with locations."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError, RateLimited
from g2g_sdk.registry import Registry

from broker.policy import PolicySet, RequestContext, compile_sources
from broker.policy.ratelimit import Window, windows
from g2g_cli.main import main as g2g

SCREEN = "g2g.immigration.v1.Watchlist/Screen"
IMI = "ID/GOV/IMIGRASI"
MONDAY_NOON = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 12:00 in Asia/Jakarta
REPO = Path(__file__).parents[3]

BASE = """
groups:
  police: [ID/GOV/POLRI]
  le: [group:police, ID/GOV/BIN]
rules:
  - id: le-screen
    description: law enforcement screen
    agreement: UU 6/2011
    effect: allow
    provider: ID/GOV/IMIGRASI
    service: g2g.immigration.v1.Watchlist/*
    consumers: [group:le]
    purposes: [border_control]
    legal_basis: "UU 6/2011( .+)?"
    mask: {redact: [hits.entry.case_reference, hits.entry.national_id]}
    rate_limit: {per_minute: 2}
"""


@pytest.fixture
def catalog(registry: Registry) -> Catalog:
    return Catalog.from_registry(registry)


def compile_text(registry: Registry, catalog: Catalog, *texts: str) -> PolicySet:
    sources = {f"p{i}.yaml": textwrap.dedent(t).encode() for i, t in enumerate(texts)}
    return compile_sources(sources, registry, catalog)


def ctx(consumer: str = "ID/GOV/POLRI", purpose: str = "border_control",
        legal_basis: str = "UU 6/2011 Pasal 91", request: wl.ScreenRequest | None = None,
        now: datetime = MONDAY_NOON) -> RequestContext:
    return RequestContext(consumer=consumer, provider=IMI, service=SCREEN, purpose=purpose,
                          legal_basis=legal_basis, request=request, now=now)


def test_allow_via_nested_group_and_wildcard_with_redact_mask(registry: Registry,
                                                              catalog: Catalog) -> None:
    policy = compile_text(registry, catalog, BASE)
    d = policy.evaluate(ctx())
    assert (d.allowed, d.rule_id, d.policy_version) == (True, "le-screen", policy.version)
    assert "hits.entry.full_name" in d.field_mask
    assert "hits.entry.case_reference" not in d.field_mask
    assert "hits" not in d.field_mask
    assert "threshold" in d.field_mask
    assert policy.evaluate(ctx(consumer="ID/GOV/BIN")).allowed


@pytest.mark.parametrize("change", [{"consumer": "ID/GOV/BEA-CUKAI"}, {"purpose": "tax_audit"}])
def test_default_deny_names_no_rule(registry: Registry, catalog: Catalog,
                                    change: dict[str, str]) -> None:
    d = compile_text(registry, catalog, BASE).evaluate(ctx(**change))  # type: ignore[arg-type]
    assert (d.allowed, d.rule_id, d.reason, d.unmet_rule) == (False, None, "no rule matched", "")


@pytest.mark.parametrize("legal_basis", ["KUHP", ""])
def test_default_deny_names_the_consumers_own_rule_that_did_not_apply(
        registry: Registry, catalog: Catalog, legal_basis: str) -> None:
    d = compile_text(registry, catalog, BASE).evaluate(ctx(legal_basis=legal_basis))
    assert (d.allowed, d.rule_id, d.unmet_rule) == (False, None, "le-screen")
    assert d.reason == ("no rule matched: rule le-screen does not apply: "
                        "legal basis does not match /UU 6/2011( .+)?/")


def test_explicit_deny_beats_allow(registry: Registry, catalog: Catalog) -> None:
    deny = """
    rules:
      - id: no-bin-weekends
        description: BIN not on weekends
        agreement: MoU 2025
        effect: deny
        provider: ID/GOV/IMIGRASI
        service: g2g.immigration.v1.Watchlist/Screen
        consumers: [ID/GOV/BIN]
        purposes: [border_control]
        weekdays: [sat, sun]
        timezone: Asia/Jakarta
    """
    policy = compile_text(registry, catalog, BASE, deny)
    assert policy.evaluate(ctx(consumer="ID/GOV/BIN")).allowed
    saturday = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    d = policy.evaluate(ctx(consumer="ID/GOV/BIN", now=saturday))
    assert (d.allowed, d.rule_id) == (False, "no-bin-weekends")


def test_hours_validity_and_request_conditions(registry: Registry, catalog: Catalog) -> None:
    text = """
    rules:
      - id: nl-own-nationals
        description: embassy may screen its own nationals in office hours
        agreement: Vienna Convention on Consular Relations art. 36
        effect: allow
        provider: ID/GOV/IMIGRASI
        service: g2g.immigration.v1.Watchlist/Screen
        consumers: [NL/GOV/EMBASSY-JAKARTA]
        purposes: [consular_assistance]
        hours: "08:00-16:00"
        timezone: Asia/Jakarta
        valid_from: 2026-01-01
        valid_until: 2026-12-31
        when:
          - {field: by_name.nationality, equals: NLD}
        mask: {allow: [hits.entry_id, hits.score]}
    """
    policy = compile_text(registry, catalog, text)

    def ask(nationality: str, now: datetime = MONDAY_NOON) -> bool:
        request = wl.ScreenRequest(by_name=wl.NameQuery(full_name="Jan de Vries",
                                                        nationality=nationality))
        return policy.evaluate(ctx("NL/GOV/EMBASSY-JAKARTA", "consular_assistance", "",
                                   request, now)).allowed

    assert ask("NLD")
    assert not ask("IDN")
    assert not ask("")  # an unset field never satisfies a condition
    assert not ask("NLD", datetime(2026, 11, 23, 10, 0, tzinfo=UTC))  # 17:00 Jakarta
    assert not ask("NLD", datetime(2027, 1, 4, 5, 0, tzinfo=UTC))  # after valid_until
    ex = policy.explain(ctx("NL/GOV/EMBASSY-JAKARTA", "consular_assistance", "",
                            wl.ScreenRequest(by_name=wl.NameQuery(full_name="X Y",
                                                                  nationality="IDN"))))
    assert ex.near_misses[0][1] == ("condition failed: by_name.nationality == 'NLD'",)


ERRORS = {
    "unknown agency": ("consumers: [group:le]", "consumers: [ID/GOV/NOPE]", 12,
                       "unknown agency 'ID/GOV/NOPE'"),
    "unknown service": ("service: g2g.immigration.v1.Watchlist/*",
                        "service: g2g.immigration.v1.Watchlist/Delete", 11,
                        "offers no service matching"),
    "unknown mask path": ("hits.entry.national_id]", "hits.entry.passport]", 15,
                          "unknown field path 'hits.entry.passport'"),
    "unknown group": ("[group:le]", "[group:lawyers]", 12, "unknown group 'lawyers'"),
    "bad regex": ('"UU 6/2011( .+)?"', '"(unclosed"', 14, "invalid regular expression"),
    "unknown field": ("    purposes:", "    purpose_of_use: x\n    purposes:", 13,
                      "unknown field 'purpose_of_use'"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_load_errors_name_file_line_and_field(registry: Registry, catalog: Catalog,
                                              name: str) -> None:
    old, new, line, message = ERRORS[name]
    assert old in BASE
    with pytest.raises(ConfigError) as info:
        compile_text(registry, catalog, BASE.replace(old, new, 1))
    err = info.value
    assert (err.file, err.line) == ("p0.yaml", line), str(err)
    assert message in err.message


def test_shadowed_allow_and_conflicting_masks_are_refused(registry: Registry,
                                                          catalog: Catalog) -> None:
    deny_all = BASE + """
  - id: freeze
    description: all screening frozen
    agreement: court order
    effect: deny
    provider: ID/GOV/IMIGRASI
    service: "*"
    consumers: ["*"]
    purposes: [border_control]
"""
    with pytest.raises(ConfigError, match=r"unreachable: .* denied by freeze"):
        compile_text(registry, catalog, deny_all)
    second = BASE + """
  - id: police-more
    description: police see more
    agreement: MoU
    effect: allow
    provider: ID/GOV/IMIGRASI
    service: g2g.immigration.v1.Watchlist/Screen
    consumers: [ID/GOV/POLRI]
    purposes: [border_control]
"""
    with pytest.raises(ConfigError, match="overlaps rule 'le-screen'") as info:
        compile_text(registry, catalog, second)
    assert info.value.line == 18
    with pytest.raises(ConfigError, match="already used"):
        compile_text(registry, catalog, BASE, "rules:" + BASE.split("rules:")[1])


def test_version_is_a_content_hash(registry: Registry, catalog: Catalog) -> None:
    a = compile_text(registry, catalog, BASE).version
    assert compile_text(registry, catalog, BASE).version == a
    assert compile_text(registry, catalog, BASE.replace("per_minute: 2", "per_minute: 3")
                        ).version != a


def test_rate_limit_windows_and_the_retry_hint(registry: Registry, catalog: Catalog) -> None:
    # Counting happens in the audit store, shared by every worker
    # (tests/broker/audit/test_admission.py); here: which window a request is charged to.
    d = compile_text(registry, catalog, BASE).evaluate(ctx())
    now = datetime(2026, 11, 23, 5, 0, 10, tzinfo=UTC)
    start = int(datetime(2026, 11, 23, 5, 0, 0, tzinfo=UTC).timestamp())
    (window,) = windows("ID/GOV/POLRI", d, now)
    assert window == Window(key="le-screen ID/GOV/POLRI 60", start=start, limit=2,
                            expires=start + 60, rule_id="le-screen", name="per_minute",
                            now=start + 10)
    assert windows("ID/GOV/BIN", d, now)[0].key == "le-screen ID/GOV/BIN 60"  # per consumer
    refused = window.refused()
    assert isinstance(refused, RateLimited)
    assert refused.metadata == {"rule_id": "le-screen", "limit": "per_minute",
                                "retry_after_seconds": "50"}
    assert refused.message == "rule le-screen allows 2 requests per minute; retry in 50 s"


def test_shipped_policies_pass_their_test_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (REPO / "config" / "policy-tests").glob("*.yaml"))
    code = g2g(["policy", "--registry", str(REPO / "config/agencies.yaml"), "--pki-dir",
                "/nonexistent", "test", "--require-coverage", "--policies",
                str(REPO / "config/policies"), *files])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out


def test_hours_until_midnight_read_as_written(registry: Registry, catalog: Catalog) -> None:
    policy = compile_text(registry, catalog, BASE + '    hours: "18:00-24:00"\n')
    d = policy.evaluate(ctx(now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))
    assert d.reason == "no rule matched: rule le-screen does not apply: outside hours " \
                       "18:00-24:00 (UTC)"
    assert policy.evaluate(ctx(now=datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))).allowed
