"""Metrics: label bounds, and the alert rules only name metrics the broker exports."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import grpc
from g2g_sdk.catalog import Catalog
from g2g_sdk.metrics import OTHER
from g2g_sdk.registry import Registry
from prometheus_client import generate_latest

from broker.audit import AuditEvent
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


def test_event_records_are_counted_with_bounded_labels(registry: Registry) -> None:
    catalog = Catalog.from_registry(registry)
    metrics = BrokerMetrics(lambda: registry, lambda: catalog)
    (hit_type,) = [name for name in catalog.events if name.endswith("WatchlistHit")]
    now = datetime.now(UTC)
    for record in (
            AuditEvent(kind="event_outcome", time=now, provider="ID/GOV/IMIGRASI",
                       service=hit_type, status_code="OK"),
            AuditEvent(kind="event_rejected", time=now, provider="XX/MADE/UP",
                       service="g2g.x.v1.Made", status_code="NOT_FOUND", reason="lower?"),
            AuditEvent(kind="route", time=now, consumer="ID/GOV/BIN", service=hit_type),
            AuditEvent(kind="delivered", time=now, consumer="ID/GOV/BIN", service=hit_type,
                       status_code="OK", reason="DELIVERED"),
            AuditEvent(kind="delivered", time=now, consumer="ID/GOV/BIN", service=hit_type,
                       status_code="OK", reason="REDELIVERED"),
            AuditEvent(kind="receipt", time=now, consumer="ID/GOV/BIN", service=hit_type,
                       status_code="OK"),
            AuditEvent(kind="receipt_rejected", time=now, consumer="YY/NOT/KNOWN",
                       status_code="INVALID_ARGUMENT", reason="ACK_TOKEN_INVALID"),
            AuditEvent(kind="delivery_failed", time=now, consumer="ID/GOV/BIN",
                       service=hit_type, status_code="DEADLINE_EXCEEDED",
                       reason="UNACKNOWLEDGED")):
        metrics.event(record)
    text = generate_latest(metrics.registry).decode()
    assert "MADE" not in text
    assert "NOT/KNOWN" not in text
    assert (f'g2g_events_published_total{{code="OK",event_type="{hit_type}",'
            f'publisher="ID/GOV/IMIGRASI",reason=""}} 1.0') in text
    assert (f'g2g_events_published_total{{code="NOT_FOUND",event_type="{UNKNOWN}",'
            f'publisher="{UNKNOWN}",reason="{OTHER}"}} 1.0') in text
    for outcome in ("delivered", "redelivered", "acknowledged", "dead_lettered"):
        assert (f'g2g_event_deliveries_total{{event_type="{hit_type}",outcome="{outcome}",'
                f'subscriber="ID/GOV/BIN"}} 1.0') in text
    assert ('g2g_event_receipts_total{outcome="verified",reason="",'
            'subscriber="ID/GOV/BIN"} 1.0') in text
    assert (f'g2g_event_receipts_total{{outcome="refused",reason="ACK_TOKEN_INVALID",'
            f'subscriber="{UNKNOWN}"}} 1.0') in text
