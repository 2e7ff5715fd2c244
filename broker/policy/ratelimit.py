"""Per-rule, per-consumer rate limits and quotas in fixed windows.

`windows` turns a decision into the counters one request is charged against;
the broker charges them in the audit store, in the request record's
transaction, so every worker on the store counts against the same totals
(broker/audit/store.py `Admission`). `RateLimiter` counts the same windows
in memory, for a single process. Both refuse with the same `RateLimited`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from broker.policy.model import Decision
from broker.protocol.errors import RateLimited


@dataclass(frozen=True)
class Window:
    """One limit's current fixed window for one rule and consumer."""

    key: str      # rule, consumer and window length
    start: int    # unix seconds
    limit: int
    expires: int  # unix seconds: when the count no longer matters
    rule_id: str
    name: str     # "per_minute", ...
    now: int

    def refused(self) -> RateLimited:
        retry = self.expires - self.now
        return RateLimited(
            f"rule {self.rule_id} allows {self.limit} requests "
            f"{self.name.replace('_', ' ')}; retry in {retry} s",
            metadata={"rule_id": self.rule_id, "limit": self.name,
                      "retry_after_seconds": str(retry)})


def windows(consumer: str, decision: Decision, now: datetime) -> tuple[Window, ...]:
    """The windows of every limit of the deciding rule that `now` falls in."""
    if not decision.limits:
        return ()
    t = int(now.timestamp())
    # Rule ids and agency ids hold no spaces (policy and header patterns): unambiguous.
    rule = decision.rule_id or ""
    return tuple(
        Window(key=f"{rule} {consumer} {limit.seconds}", start=t - t % limit.seconds,
               limit=limit.amount, expires=t - t % limit.seconds + limit.seconds,
               rule_id=rule, name=limit.name, now=t)
        for limit in decision.limits)


class RateLimiter:
    """In-memory counters for one process; `acquire` raises RateLimited with a retry hint."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._expires: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def acquire(self, consumer: str, decision: Decision, now: datetime) -> None:
        """Count one request against every limit of the deciding rule, or refuse it."""
        charged = windows(consumer, decision, now)
        if not charged:
            return
        with self._lock:
            for w in charged:
                if self._counts.get((w.key, w.start), 0) >= w.limit:
                    raise w.refused()
            if len(self._counts) > self._max_keys:
                t = charged[0].now
                self._counts = {k: v for k, v in self._counts.items() if self._expires[k] > t}
                self._expires = {k: self._expires[k] for k in self._counts}
            for w in charged:
                self._counts[(w.key, w.start)] = self._counts.get((w.key, w.start), 0) + 1
                self._expires[(w.key, w.start)] = w.expires
