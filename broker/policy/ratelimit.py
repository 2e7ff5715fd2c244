"""Per-rule, per-consumer rate limits and quotas (fixed windows), in process.

Counts live in memory keyed by (rule, consumer, window); each broker process
counts its own share (see docs/PERFORMANCE.md for multi-worker deployments).
"""

from __future__ import annotations

import threading
from datetime import datetime

from broker.policy.model import Decision
from broker.protocol.errors import RateLimited


class RateLimiter:
    """Fixed-window counters; `acquire` raises RateLimited with a retry hint."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[tuple[str, str, int], tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def acquire(self, consumer: str, decision: Decision, now: datetime) -> None:
        """Count one request against every limit of the deciding rule, or refuse it."""
        if not decision.limits:
            return
        t = int(now.timestamp())
        with self._lock:
            pending = []
            for limit in decision.limits:
                key = (decision.rule_id or "", consumer, limit.seconds)
                window = t - t % limit.seconds
                start, count = self._counts.get(key, (window, 0))
                if start != window:
                    start, count = window, 0
                if count >= limit.amount:
                    retry = start + limit.seconds - t
                    raise RateLimited(
                        f"rule {decision.rule_id} allows {limit.amount} requests "
                        f"{limit.name.replace('_', ' ')}; retry in {retry} s",
                        metadata={"rule_id": decision.rule_id or "", "limit": limit.name,
                                  "retry_after_seconds": str(retry)})
                pending.append((key, (start, count + 1)))
            if len(self._counts) > self._max_keys:
                self._counts = {k: v for k, v in self._counts.items()
                                if v[0] + k[2] > t}
            self._counts.update(pending)
