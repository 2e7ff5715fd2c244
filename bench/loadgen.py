"""Load generator, run as its own process: fixed warm-up, then a fixed number of calls.

Reads a JSON spec on argv[1], prints one JSON result line. Broker calls are
signed per request (unique message ids) and their answers verified, as a
real agency client would; that cost stays in this process.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

Caller = Callable[[], Awaitable[None]]


def _identity(data: bytes) -> bytes:
    return data


async def _baseline(spec: dict[str, Any]) -> tuple[Caller, Callable[[], Awaitable[None]]]:
    channel = grpc.aio.insecure_channel(spec["address"])
    call = channel.unary_unary("/bench.Echo/Call", request_serializer=_identity,
                               response_deserializer=_identity)
    payload = bytes.fromhex(spec["payload_hex"])

    async def one() -> None:
        await call(payload, timeout=30)
    return one, channel.close


async def _broker(spec: dict[str, Any]) -> tuple[Caller, Callable[[], Awaitable[None]]]:
    from google.protobuf import json_format

    from agency_adapters.toolkit import ConsumerClient
    from broker.protocol import pki
    from broker.protocol.catalog import find_method, message_class
    from broker.protocol.registry import load_registry

    pki_dir = Path(spec["pki_dir"])
    registry = load_registry(Path(spec["registry"]), pki_dir)
    client = ConsumerClient(pki.load_identity(pki_dir, spec["consumer"]), registry,
                            broker_endpoint=spec["address"])
    method = find_method(spec["service"])
    assert method is not None
    request = json_format.ParseDict(spec["request"], message_class(method.input_type)())

    async def one() -> None:
        await client.call(spec["service"], request, purpose=spec["purpose"],
                          legal_basis=spec["legal_basis"], recipient=spec["provider"],
                          timeout=30)
    return one, client.close


async def _drive(one: Caller, concurrency: int, count: int) -> tuple[list[int], int, float]:
    latencies: list[int] = []
    errors = 0
    remaining = count

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter_ns()
            try:
                await one()
            except Exception:  # counted and reported, never hidden
                errors += 1
                continue
            latencies.append(time.perf_counter_ns() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def _pct(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return 0.0
    index = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return sorted_ns[index] / 1e6


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    one, close = await (_baseline(spec) if spec["kind"] == "baseline" else _broker(spec))
    try:
        await _drive(one, spec["concurrency"], spec["warmup"])
        print("warm", flush=True)  # the orchestrator samples broker CPU from here
        sys.stdin.readline()
        latencies, errors, seconds = await _drive(one, spec["concurrency"], spec["count"])
    finally:
        await close()
    latencies.sort()
    return {"count": len(latencies), "errors": errors, "seconds": round(seconds, 4),
            "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
            "p50_ms": round(_pct(latencies, 0.50), 3),
            "p99_ms": round(_pct(latencies, 0.99), 3),
            "p999_ms": round(_pct(latencies, 0.999), 3)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
