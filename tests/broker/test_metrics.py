"""Metrics: label bounds, and the alert rules only name metrics the broker exports."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
from g2g_sdk.catalog import Catalog
from g2g_sdk.metrics import OTHER
from g2g_sdk.registry import Registry
from prometheus_client import generate_latest

from broker.metrics import METRICS, UNKNOWN, BrokerMetrics

REPO = Path(__file__).resolve().parents[2]
SCREEN = "g2g.immigration.v1.Watchlist/Screen"


def test_every_metric_an_alert_rule_names_is_exported() -> None:
    rules = (REPO / "deploy" / "prometheus" / "g2g-rules.yaml").read_text()
    named = {re.sub(r"_(total|bucket|sum|count)$", "", m)
             for m in re.findall(r"\bg2g_[a-z_]+", rules)}
    assert named, "no metric found in the rules"
    assert named <= {d.name for d in METRICS}


def test_label_values_come_from_the_registry_never_from_requests(registry: Registry) -> None:
    catalog = Catalog.from_registry(registry)
    metrics = BrokerMetrics(lambda: registry, lambda: catalog)
    metrics.exchange(consumer="ID/GOV/POLRI", provider="ID/GOV/IMIGRASI", service=SCREEN,
                     code="OK", reason="", seconds=0.01)
    metrics.exchange(consumer="XX/MADE/UP", provider="YY/ALSO/MADE-UP",
                     service="g2g.x.v1.Made/Up", code="NOT_FOUND", reason="lower case?",
                     seconds=0.01)
    metrics.rpc("/attacker.Chosen/Method", grpc.StatusCode.UNIMPLEMENTED, "", 0.001)
    text = generate_latest(metrics.registry).decode()
    assert "MADE" not in text
    assert "g2g.x.v1" not in text
    assert "attacker" not in text
    assert (f'g2g_exchanges_total{{code="NOT_FOUND",consumer="{UNKNOWN}",provider="{UNKNOWN}",'
            f'reason="{OTHER}",service="{UNKNOWN}"}} 1.0') in text
    assert f'g2g_rpcs_total{{code="UNIMPLEMENTED",method="{UNKNOWN}"}} 1.0' in text
