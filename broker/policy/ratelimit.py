"""Per-rule, per-consumer rate limits and quotas in fixed windows.

`windows` turns a decision into the counters one request is charged against;
the broker charges them in the audit store, in the request record's
transaction, so every worker on the store counts against the same totals
(broker/audit/store.py `Admission`), which refuses a full window with
`Window.refused()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from g2g_sdk.errors import RateLimited

from broker.policy.model import Decision


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
