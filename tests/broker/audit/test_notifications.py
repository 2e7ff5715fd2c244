"""broker.audit.notifications: records folded into who-was-notified rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from broker.audit.notifications import track

EMBASSY = "NL/GOV/EMBASSY-JAKARTA"


def rec(kind: str, time: str, consumer: str = EMBASSY, decision: str = "",
        event: str = "e1") -> dict[str, Any]:
    return {"kind": kind, "time": time, "consumer": consumer, "decision": decision,
            "message_id": event, "service": "g2g.consular.v1.DetentionNotification",
            "provider": "ID/GOV/IMIGRASI", "rule_id": "events-detention-nl"}


def test_an_acknowledged_notification_has_every_time() -> None:
    [n] = track([rec("event", "2026-01-02T03:00:00Z", consumer=""),
                 rec("route", "2026-01-02T03:00:00Z", decision="allow"),
                 rec("route", "2026-01-02T03:00:00Z", "AU/GOV/EMBASSY-JAKARTA", "deny"),
                 rec("delivered", "2026-01-02T03:00:01Z"),
                 rec("delivered", "2026-01-02T03:00:05Z"),
                 rec("receipt", "2026-01-02T03:00:06Z")])
    assert (n.subscriber, n.delivered_at, n.attempts, n.acknowledged_at) == (
        EMBASSY, "2026-01-02T03:00:01Z", 2, "2026-01-02T03:00:06Z")
    assert n.state(datetime(2026, 1, 3, tzinfo=UTC), timedelta(hours=1)) == "ACKNOWLEDGED"


def test_unacknowledged_is_overdue_only_past_the_deadline() -> None:
    [n] = track([rec("route", "2026-01-02T03:00:00Z", decision="allow"),
                 rec("delivered", "2026-01-02T03:00:01Z")])
    at = datetime(2026, 1, 2, 4, 30, tzinfo=UTC)
    assert n.state(at, timedelta(hours=1)) == "OVERDUE"
    assert n.state(at, timedelta(hours=2)) == "PENDING"
    assert n.state(at, None) == "PENDING"


def test_a_given_up_delivery_is_failed_and_denied_routes_are_not_notifications() -> None:
    [n] = track([rec("route", "2026-01-02T03:00:00Z", decision="allow"),
                 rec("delivery_failed", "2026-01-02T03:10:00Z"),
                 rec("route", "2026-01-02T03:00:00Z", "AU/GOV/EMBASSY-JAKARTA", "deny")])
    assert n.state(datetime(2026, 1, 2, 4, tzinfo=UTC), timedelta(minutes=1)) == "FAILED"
