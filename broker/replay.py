"""Replay protection: a message id is accepted once within its validity window.

The in-memory guard serves a single broker process; multi-worker brokers use
the audit store's shared claim table (see broker/audit). Bounded: entries
expire with their message and the table has a hard cap, past which new
messages are refused rather than old ids forgotten (fail closed).
"""

from __future__ import annotations

import heapq
from datetime import datetime

from broker.protocol.errors import ReplayError
from broker.typing import Clock, ReplayGuard


class MemoryReplayGuard:
    """Process-local replay cache with expiry."""

    def __init__(self, clock: Clock, max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[str, datetime] = {}
        self._expiry: list[tuple[datetime, str]] = []

    async def claim(self, key: str, expires_at: datetime) -> bool:
        self._evict(self._clock())
        if key in self._seen:
            return False
        if len(self._seen) >= self._max:
            raise ReplayError("replay cache is full; try again shortly",
                              reason="REPLAY_CACHE_FULL")
        self._seen[key] = expires_at
        heapq.heappush(self._expiry, (expires_at, key))
        return True

    def _evict(self, now: datetime) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, key = heapq.heappop(self._expiry)
            self._seen.pop(key, None)


async def check_replay(guard: ReplayGuard, sender: str, message_id: str,
                       keep_until: datetime) -> None:
    """Raise ReplayError if `sender` already used `message_id` within the window."""
    if not await guard.claim(f"{sender}\x00{message_id}", keep_until):
        raise ReplayError("message_id was already used", reason="REPLAYED",
                          metadata={"message_id": message_id})
