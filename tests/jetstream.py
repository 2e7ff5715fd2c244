"""NATS JetStream for tests: the shared server at 127.0.0.1:4222 with per-test names.

A test that must stop and start its server runs its own
(`broker.events.embedded.EmbeddedJetStream`).

Every test gets its own stream and subject prefix (other engineers run tests
against the same server at the same time). With CI=true an unreachable server
fails the run instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

JS_URL = os.environ.get("G2G_TEST_NATS", "nats://127.0.0.1:4222")


@dataclass(frozen=True)
class StreamNames:
    url: str
    stream: str
    prefix: str

    def yaml(self, **extra: object) -> str:
        """An `events:` section for a broker config using these names (memory storage)."""
        extra = {"storage": "memory", **extra}
        lines = [f"  url: {self.url}", f"  stream: {self.stream}",
                 f"  subject_prefix: {self.prefix}"]
        lines += [f"  {k}: {v}" for k, v in extra.items()]
        return "events:\n" + "\n".join(lines) + "\n"


async def _reachable(url: str) -> str | None:
    import nats

    try:
        nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False,
                                max_reconnect_attempts=0)
    except Exception as exc:  # any failure means unreachable
        return f"{type(exc).__name__}: {exc}"
    try:
        await nc.jetstream().account_info()
    except Exception as exc:
        return f"JetStream not enabled: {type(exc).__name__}"
    finally:
        await nc.close()
    return None


async def unique_stream(url: str = JS_URL) -> AsyncIterator[StreamNames]:
    """Yield fresh stream/prefix names on a reachable JetStream; delete the stream after."""
    problem = await _reachable(url)
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"NATS JetStream is required in CI and is not reachable at {url}: "
                        f"{problem}")
        pytest.skip(f"NATS JetStream not reachable at {url}: {problem}")
    token = uuid.uuid4().hex[:12]
    names = StreamNames(url, f"G2GT_{token}", f"g2gt.{token}")
    try:
        yield names
    finally:
        import nats

        with contextlib.suppress(Exception):
            nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False,
                                    max_reconnect_attempts=0)
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(names.stream)
            await nc.close()
