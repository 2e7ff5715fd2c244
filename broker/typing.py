"""Shared type aliases and Protocols of the broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

Clock = Callable[[], datetime]
"""Returns the current time, tz-aware UTC; injected so tests control time."""


class ReplayGuard(Protocol):
    """Remembers message ids until they expire; shared by all workers where configured."""

    async def claim(self, sender: str, message_id: str, expires_at: datetime) -> bool:
        """True if `sender` did not use `message_id` before (now claimed), False on a replay.

        Raises `RateLimited` / REPLAY_CACHE_FULL when it cannot remember one more.
        """
        ...
