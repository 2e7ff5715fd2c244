"""Admission of Exchange calls: bounded per process and per consumer, refused at once.

A call beyond either bound is refused with RESOURCE_EXHAUSTED / OVERLOADED
instead of queueing (a queue only turns overload into timeouts for everyone);
once draining, every new call is refused with UNAVAILABLE / DRAINING. Pure
bookkeeping on the event loop, no I/O: the server audits the refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

from g2g_sdk.errors import Draining, Overloaded


class Gate:
    """Counts calls in flight; `admit(consumer)` holds one slot for the call's duration."""

    def __init__(self, limit: int, per_consumer: int) -> None:
        self.limit = limit
        self.per_consumer = per_consumer
        self.in_flight = 0
        self.draining = False
        self._by_consumer: Counter[str] = Counter()
        self._idle = asyncio.Event()
        self._idle.set()

    def check(self, consumer: str) -> None:
        """Raise the refusal a new call from `consumer` would get now, if any."""
        if self.draining:
            raise Draining("the broker is draining; use another broker")
        if self.in_flight >= self.limit:
            raise Overloaded(f"the broker is at its limit of {self.limit} calls in flight",
                             metadata={"scope": "broker"})
        if self._by_consumer[consumer] >= self.per_consumer:
            raise Overloaded(f"{consumer} is at its limit of {self.per_consumer} calls "
                             "in flight", metadata={"scope": "consumer"})

    @contextlib.contextmanager
    def admit(self, consumer: str) -> Iterator[None]:
        """Hold a slot for `consumer` (raises as `check` does when there is none)."""
        self.check(consumer)
        self.in_flight += 1
        self._by_consumer[consumer] += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._by_consumer[consumer] -= 1
            if not self._by_consumer[consumer]:
                del self._by_consumer[consumer]
            if not self.in_flight:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Refuse new calls; wait up to `timeout` s for those in flight. True if all ended."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
