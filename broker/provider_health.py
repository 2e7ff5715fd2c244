"""Provider health for /readyz (`ops.ready_requires_providers`, docs/OPERATIONS.md).

A background task probes every endpoint of each listed provider with the
standard gRPC health service (`grpc.health.v1.Health/Check` of
`g2g.v1.Provider`), over the broker's own pinned mTLS channel to that endpoint
(forward.ProviderClients), each probe bounded by a timeout, every
`interval` seconds. /readyz only reads the last result, so it never waits on a
probe. A provider is healthy when at least one endpoint answered SERVING in
the last round; a provider not (yet) probed, or without an endpoint in the
registry, counts as failing: readiness fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import grpc
import structlog
from g2g_sdk.provider import PROVIDER_SERVICE
from g2g_sdk.registry import Registry
from grpc_health.v1 import health_pb2, health_pb2_grpc

log = structlog.get_logger("g2g.broker")

Channel = Callable[[str, str], grpc.aio.Channel]
"""The broker's channel to (provider, endpoint)."""


def failing_providers(required: Sequence[str], healthy: frozenset[str] | None) -> list[str]:
    """The /readyz lines for `required` providers not in `healthy` (None: no round yet)."""
    if healthy is None:
        return [f"provider {p} not yet checked" for p in required]
    return [f"provider {p} unreachable" for p in required if p not in healthy]


class ProviderHealth:
    """Probes `required` providers' endpoints every `interval` s; `failing()` reads the
    last round's result."""

    def __init__(self, required: Sequence[str], registry: Callable[[], Registry],
                 channel: Channel, *, interval: float, timeout: float) -> None:
        self._required = tuple(required)
        self._registry = registry
        self._channel = channel
        self._interval = interval
        self._timeout = timeout
        self._healthy: frozenset[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # completed probe rounds (tests wait on it)

    def failing(self) -> list[str]:
        """The readiness lines of listed providers without a SERVING endpoint."""
        return failing_providers(self._required, self._healthy)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            results = await asyncio.gather(*(self._serving(p) for p in self._required))
            healthy = frozenset(p for p, ok in zip(self._required, results, strict=True) if ok)
            if healthy != self._healthy:
                log.info("provider_health", healthy=sorted(healthy),
                         failing=sorted(set(self._required) - healthy))
            self._healthy = healthy
            self.rounds += 1
            await asyncio.sleep(self._interval)  # the probe period, not synchronisation

    async def _serving(self, provider: str) -> bool:
        agency = self._registry().agency(provider)
        endpoints = agency.all_endpoints if agency is not None else ()
        results = await asyncio.gather(*(self._probe(provider, e) for e in endpoints))
        return any(results)

    async def _probe(self, provider: str, endpoint: str) -> bool:
        stub = health_pb2_grpc.HealthStub(self._channel(provider, endpoint))
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=PROVIDER_SERVICE),
                                      timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
