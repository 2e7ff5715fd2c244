"""Who was notified of an event, when it was delivered and when acknowledged. Pure.

Folds an event's audit records (`route`, `delivered`, `receipt`,
`delivery_failed`) into one `Notification` per allowed subscriber, so an
auditor sees for a person or an event every recipient, and which deliveries
are still unacknowledged past a deadline (a consular notification the embassy
never confirmed). No I/O: the CLI and services read the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KINDS = ("route", "delivered", "receipt", "delivery_failed")


@dataclass(frozen=True)
class Notification:
    """One event for one subscriber the policy allowed."""

    event_id: str
    event_type: str
    publisher: str
    subscriber: str
    rule_id: str
    routed_at: str
    delivered_at: str = ""
    attempts: int = 0
    acknowledged_at: str = ""
    failed_at: str = ""

    def state(self, now: datetime, deadline: timedelta | None) -> str:
        """ACKNOWLEDGED, FAILED (given up), OVERDUE (past `deadline`), or PENDING."""
        if self.acknowledged_at:
            return "ACKNOWLEDGED"
        if self.failed_at:
            return "FAILED"
        if deadline is not None and _time(self.routed_at) + deadline < now:
            return "OVERDUE"
        return "PENDING"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def track(records: Iterable[dict[str, Any]]) -> list[Notification]:
    """One Notification per allowed (event, subscriber), in routing order."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (r.get("message_id", ""), r.get("consumer", ""))
        kind = r.get("kind")
        if kind == "route" and r.get("decision") == "allow":
            found.setdefault(key, {
                "event_id": key[0], "event_type": r.get("service", ""),
                "publisher": r.get("provider", ""), "subscriber": key[1],
                "rule_id": r.get("rule_id", ""), "routed_at": r["time"]})
        elif key in found and kind == "delivered":
            found[key]["attempts"] = found[key].get("attempts", 0) + 1
            found[key].setdefault("delivered_at", r["time"])
        elif key in found and kind == "receipt":
            found[key].setdefault("acknowledged_at", r["time"])
        elif key in found and kind == "delivery_failed":
            found[key].setdefault("failed_at", r["time"])
    return [Notification(**fields) for fields in found.values()]
