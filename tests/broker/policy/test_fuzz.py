"""Property-based: policy YAML under hostile input.

Any policy text either compiles or is refused with a `ConfigError` (naming file,
line and field); a policy that compiles decides any request without raising.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry
from hypothesis import given
from hypothesis import strategies as st

from broker.policy import RequestContext, compile_sources

pytestmark = pytest.mark.fuzz

REPO = Path(__file__).parents[3]
SHIPPED = sorted((REPO / "config" / "policies").glob("*.yaml"))
SCREEN = "g2g.immigration.v1.Watchlist/Screen"


@pytest.fixture(scope="module")
def catalog(registry: Registry) -> Catalog:
    return Catalog.from_registry(registry)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=30),
                     st.sampled_from(["allow", "deny", "ID/GOV/IMIGRASI", SCREEN, "*",
                                      "g2g.immigration.v1.Watchlist/*", "group:law-enforcement",
                                      "ID/GOV/POLRI", "border_control", "(unclosed",
                                      "UU 6/2011( .+)?", "hits", "hits.entry.full_name",
                                      "2026-01-01", "08:00-17:00", "mon", "nationality"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(
                           ["field", "equals", "in", "matches", "present", "allow", "redact",
                            "per_minute", "per_day", "x"]), inner, max_size=3), max_leaves=6)
_KEYS = st.sampled_from(["id", "description", "agreement", "effect", "provider", "service",
                         "consumers", "purposes", "legal_basis", "mask", "rate_limit", "when",
                         "valid_from", "valid_until", "hours", "weekdays", "extra"])
_BASE: dict[str, Any] = {
    "id": "fuzz-rule", "description": "d", "agreement": "a", "effect": "allow",
    "provider": "ID/GOV/IMIGRASI", "service": SCREEN, "consumers": ["ID/GOV/POLRI"],
    "purposes": ["border_control"]}


@st.composite
def _rules(draw: st.DrawFn) -> dict[str, Any]:
    rule = dict(_BASE)
    for key in draw(st.lists(_KEYS, max_size=4, unique=True)):
        if draw(st.booleans()):
            rule.pop(key, None)
        else:
            rule[key] = draw(_VALUES)
    return rule


def _decide_anything(policy: Any) -> None:
    for purpose in ("border_control", "criminal_investigation"):
        decision = policy.evaluate(RequestContext(
            consumer="ID/GOV/POLRI", provider="ID/GOV/IMIGRASI", service=SCREEN,
            purpose=purpose, legal_basis="UU 6/2011 Pasal 91", request=None,
            now=datetime(2026, 11, 23, 5, 0, tzinfo=UTC)))
        assert decision.allowed in (True, False)


@given(st.lists(_rules(), min_size=1, max_size=3),
       st.dictionaries(st.text(max_size=10), _VALUES, max_size=2))
def test_any_rule_set_compiles_or_is_refused_with_a_location(
        registry: Registry, catalog: Catalog, rules: list[dict[str, Any]],
        groups: dict[str, Any]) -> None:
    doc: dict[str, Any] = {"rules": rules}
    if groups:
        doc["groups"] = groups
    text = yaml.safe_dump(doc).encode()
    try:
        policy = compile_sources({"fuzz.yaml": text}, registry, catalog)
    except ConfigError as exc:
        where = exc.file
    else:
        _decide_anything(policy)
        return
    assert where == "fuzz.yaml"


@given(st.sampled_from(SHIPPED), st.integers(min_value=0), st.text(max_size=6),
       st.integers(min_value=0, max_value=6))
def test_an_edited_shipped_policy_compiles_or_is_refused(
        registry: Registry, catalog: Catalog, path: Path, where: int, insert: str,
        cut: int) -> None:
    text = path.read_text(encoding="utf-8")
    i = where % (len(text) + 1)
    edited = text[:i] + insert + text[i + cut:]
    sources = {p.name: p.read_bytes() for p in SHIPPED} | {path.name: edited.encode()}
    try:
        policy = compile_sources(sources, registry, catalog)
    except ConfigError:
        return
    _decide_anything(policy)


@given(st.binary(max_size=300))
def test_any_bytes_as_a_policy_file_are_refused_or_compile(
        registry: Registry, catalog: Catalog, data: bytes) -> None:
    try:
        compile_sources({"fuzz.yaml": data}, registry, catalog)
    except ConfigError:
        return
