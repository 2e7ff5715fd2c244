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
from dataclasses import dataclass
from datetime import datetime

from g2g_sdk.errors import ReplayError

from broker.typing import Clock, ReplayGuard


class MemoryReplayGuard:
    """Process-local replay cache with expiry."""

    def __init__(self, clock: Clock, max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[str, datetime] = {}
        self._expiry: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._seen)

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


def _key(sender: str, message_id: str) -> str:
    return f"{sender}\x00{message_id}"


async def check_replay(guard: ReplayGuard, sender: str, message_id: str,
                       keep_until: datetime) -> None:
    """Raise ReplayError if `sender` already used `message_id` within the window."""
    if not await guard.claim(_key(sender, message_id), keep_until):
        raise replayed(message_id)
