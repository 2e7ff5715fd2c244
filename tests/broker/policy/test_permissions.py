"""What one consumer may call (`g2g catalog --as`): read from the compiled index, pure."""

from __future__ import annotations

from datetime import UTC, datetime

from g2g_sdk.catalog import Catalog
from g2g_sdk.registry import Registry

from broker.policy import load_policy_set
from broker.policy.permissions import Permission, permissions
from g2g_harness import example

CHECK = "g2g.interpol.v1.TravelDocuments/Check"
SCREEN = "g2g.immigration.v1.Watchlist/Screen"


def test_a_rule_is_listed_only_inside_its_validity_period(registry: Registry) -> None:
    policy = load_policy_set(example.policies(), registry, Catalog.from_registry(registry))
    during = permissions(policy, "ID/GOV/BEA-CUKAI", datetime(2024, 6, 1, tzinfo=UTC))
    after = permissions(policy, "ID/GOV/BEA-CUKAI", datetime(2025, 6, 1, tzinfo=UTC))
    pilot = Permission(provider="INT/IO/INTERPOL", service=CHECK, purpose="border_control",
                       legal_basis=(), rule_ids=("interpol-documents-customs-pilot",),
                       conditional=True)
    assert pilot in during
    assert pilot not in after
    assert [(p.service, p.purpose) for p in after] == [(SCREEN, "border_control")]


def test_an_agency_without_rules_may_call_nothing(registry: Registry) -> None:
    policy = load_policy_set(example.policies(), registry, Catalog.from_registry(registry))
    assert permissions(policy, "ID/GOV/KEMENKUMHAM-AUDIT", datetime.now(UTC)) == []
