"""Replay protection: a message id is accepted once within its validity window.

Two layers. Each broker process keeps an in-memory guard that refuses a
replay early (step 8, before any schema or policy work). The authority is the
audit store's `claims` table: the request record is written only together
with its `Claim`, in one transaction, so a message is forwarded at most once
across every worker on the store and across restarts. The memory guard is
bounded: entries expire with their message and past a hard cap new messages
are refused rather than old ids forgotten (fail closed).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from g2g_sdk.errors import RateLimited, ReplayError

from broker.typing import Clock, ReplayGuard


class MemoryReplayGuard:
    """Process-local replay cache with expiry, bounded in total and per sender.

    Past either bound a new message is refused (`RESOURCE_EXHAUSTED` /
    `REPLAY_CACHE_FULL`, metadata `scope` = `sender` or `broker`) rather than an
    old id forgotten. The per-sender bound keeps one sender, however fast, from
    filling the cache for everyone: it is refused alone.
    """

    def __init__(self, clock: Clock, max_entries: int = 1_000_000,
                 max_per_sender: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._max_per_sender = max_per_sender
        self._seen: dict[tuple[str, str], datetime] = {}
        self._per_sender: Counter[str] = Counter()
        self._expiry: list[tuple[datetime, str, str]] = []

    def __len__(self) -> int:
        return len(self._seen)

    async def claim(self, sender: str, message_id: str, expires_at: datetime) -> bool:
        self._evict(self._clock())
        key = (sender, message_id)
        if key in self._seen:
            return False
        if self._per_sender[sender] >= self._max_per_sender:
            raise _full("this sender has too many messages in flight; try again shortly",
                        "sender")
        if len(self._seen) >= self._max:
            raise _full("replay cache is full; try again shortly", "broker")
        self._seen[key] = expires_at
        self._per_sender[sender] += 1
        heapq.heappush(self._expiry, (expires_at, sender, message_id))
        return True

    def _evict(self, now: datetime) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, sender, message_id = heapq.heappop(self._expiry)
            if self._seen.pop((sender, message_id), None) is not None:
                self._per_sender[sender] -= 1
                if not self._per_sender[sender]:
                    del self._per_sender[sender]


def _full(message: str, scope: str) -> RateLimited:
    return RateLimited(message, reason="REPLAY_CACHE_FULL", metadata={"scope": scope})


def replayed(message_id: str) -> ReplayError:
    return ReplayError("message_id was already used", reason="REPLAYED",
                       metadata={"message_id": message_id})


@dataclass(frozen=True)
class Claim:
    """A sender's message id, to be claimed in the shared store until `expires`."""

    key: str
    expires: int  # unix seconds
    message_id: str

    def refused(self) -> ReplayError:
        return replayed(self.message_id)


def claim(sender: str, message_id: str, keep_until: datetime) -> Claim:
    """The shared-store claim for `message_id` from `sender`, kept until `keep_until`."""
    # Neither part can hold a space (the header's declared patterns, checked at
    # step 3), so the key is unambiguous; and it is text every backend stores.
    return Claim(f"{sender} {message_id}", int(keep_until.timestamp()) + 1, message_id)


async def check_replay(guard: ReplayGuard, sender: str, message_id: str,
                       keep_until: datetime) -> None:
    """Raise ReplayError if `sender` already used `message_id` within the window."""
    if not await guard.claim(sender, message_id, keep_until):
        raise replayed(message_id)
