"""Shared type aliases and Protocols of the broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from broker.audit import AuditEvent

Clock = Callable[[], datetime]
"""Returns the current time, tz-aware UTC; injected so tests control time."""


class ReplayGuard(Protocol):
    """Remembers message ids until they expire; shared by all workers where configured."""

    async def claim(self, sender: str, message_id: str, expires_at: datetime) -> bool:
        """True if `sender` did not use `message_id` before (now claimed), False on a replay.

        Raises `RateLimited` / REPLAY_CACHE_FULL when it cannot remember one more.
        """
        ...


class ExchangeObserver(Protocol):
    """Told how long each pipeline stage took and how each exchange ended (metrics)."""

    def stage(self, stage: str, seconds: float) -> None: ...

    def exchange(self, *, consumer: str, provider: str, service: str, code: str, reason: str,
                 seconds: float) -> None: ...


class _NoObserver:
    def stage(self, stage: str, seconds: float) -> None:
        pass

    def exchange(self, *, consumer: str, provider: str, service: str, code: str, reason: str,
                 seconds: float) -> None:
        pass


NO_OBSERVER: ExchangeObserver = _NoObserver()
"""Observes nothing: the pipeline's default when no metrics are kept."""


@runtime_checkable
class EventsObserver(Protocol):
    """Told every audit record the Events service wrote (or tried to): metrics."""

    def event(self, record: AuditEvent) -> None: ...


class _NoEventsObserver:
    def event(self, record: AuditEvent) -> None:
        pass


NO_EVENTS_OBSERVER: EventsObserver = _NoEventsObserver()
"""Observes nothing: the Events service's default when no metrics are kept."""
