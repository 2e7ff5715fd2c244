"""Replay guard: once per window, expiry, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from g2g_sdk.errors import RateLimited, ReplayError

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


async def test_full_cache_fails_closed_as_resource_exhausted() -> None:
    guard = MemoryReplayGuard(lambda: T0, max_entries=2)
    for i in range(2):
        assert await guard.claim(f"S{i}", "m", T0 + timedelta(minutes=1))
    with pytest.raises(RateLimited) as info:
        await guard.claim("S9", "m", T0 + timedelta(minutes=1))
    assert (info.value.code, info.value.reason, info.value.metadata) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED, "REPLAY_CACHE_FULL", {"scope": "broker"})


async def test_one_sender_cannot_fill_the_cache_for_everyone() -> None:
    now = [T0]
    guard = MemoryReplayGuard(lambda: now[0], max_entries=10, max_per_sender=3)
    for i in range(3):
        await check_replay(guard, "FLOOD", f"m-{i}", T0 + timedelta(minutes=1))
    with pytest.raises(RateLimited) as info:
        await check_replay(guard, "FLOOD", "m-3", T0 + timedelta(minutes=1))
    assert info.value.metadata == {"scope": "sender"}
    for i in range(7):  # everyone else still gets the rest of the cache
        await check_replay(guard, f"S{i}", "m-0", T0 + timedelta(minutes=1))
    now[0] = T0 + timedelta(minutes=2)  # the flood's ids expire: it may send again
    await check_replay(guard, "FLOOD", "m-4", T0 + timedelta(minutes=3))
