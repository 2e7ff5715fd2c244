"""Replay guard: once per window, expiry, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from g2g_sdk.errors import ReplayError

from broker.replay import MemoryReplayGuard, check_replay

T0 = datetime(2026, 11, 23, tzinfo=UTC)


async def test_second_use_is_refused_until_expiry() -> None:
    now = [T0]
    guard = MemoryReplayGuard(lambda: now[0])
    await check_replay(guard, "A", "m-1", T0 + timedelta(minutes=5))
    await check_replay(guard, "B", "m-1", T0 + timedelta(minutes=5))  # per sender
    with pytest.raises(ReplayError) as info:
        await check_replay(guard, "A", "m-1", T0 + timedelta(minutes=5))
    assert info.value.reason == "REPLAYED"
    now[0] = T0 + timedelta(minutes=6)
    await check_replay(guard, "A", "m-1", T0 + timedelta(minutes=11))


async def test_full_cache_fails_closed() -> None:
    guard = MemoryReplayGuard(lambda: T0, max_entries=2)
    for i in range(2):
        assert await guard.claim(str(i), T0 + timedelta(minutes=1))
    with pytest.raises(ReplayError) as info:
        await guard.claim("x", T0 + timedelta(minutes=1))
    assert info.value.reason == "REPLAY_CACHE_FULL"
