"""Load generator, run as its own process: fixed warm-up, then a fixed number of calls.

Reads a JSON spec on argv[1], prints one JSON result line. Broker calls are
signed per request (unique message ids) and their answers verified, as a
real agency client would; that cost stays in this process. Calls spread over
several connections (as many clients would), so a `--workers` broker sees
them on every worker; the baseline gets the same number of connections.
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

Caller = Callable[[int], Awaitable[None]]
MAX_CONNECTIONS = 8
# Channels with identical arguments would share one connection (gRPC's global
# subchannel pool); a local pool per channel gives each its own.
_OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)


def connections(spec: dict[str, Any]) -> int:
    return min(int(spec["concurrency"]), MAX_CONNECTIONS)


def _identity(data: bytes) -> bytes:
    return data


async def _close_all(channels: list[grpc.aio.Channel]) -> None:
    for channel in channels:
        await channel.close()


async def _baseline(spec: dict[str, Any]) -> tuple[Caller, Callable[[], Awaitable[None]]]:
    channels = [grpc.aio.insecure_channel(spec["address"], options=[_OWN_CONNECTION])
                for _ in range(connections(spec))]
    calls = [channel.unary_unary("/bench.Echo/Call", request_serializer=_identity,
                                 response_deserializer=_identity) for channel in channels]
    payload = bytes.fromhex(spec["payload_hex"])

    async def one(slot: int) -> None:
        await calls[slot % len(calls)](payload, timeout=30)
    return one, lambda: _close_all(channels)


async def _broker(spec: dict[str, Any]) -> tuple[Caller, Callable[[], Awaitable[None]]]:
    from g2g_sdk import ConsumerClient, pki, tls
    from g2g_sdk._gen.g2g.v1 import broker_pb2_grpc
    from g2g_sdk.catalog import find_method, message_class
    from g2g_sdk.registry import load_registry
    from google.protobuf import json_format

    pki_dir = Path(spec["pki_dir"])
    registry = load_registry(Path(spec["registry"]), pki_dir)
    identity = pki.load_identity(pki_dir, spec["consumer"])
    # The toolkit client signs and verifies; the calls go over our own connections.
    client = ConsumerClient(identity, registry, broker_endpoint=spec["address"])
    channels = [grpc.aio.secure_channel(spec["address"], tls.channel_credentials(identity),
                                        options=[_OWN_CONNECTION])
                for _ in range(connections(spec))]
    stubs = [broker_pb2_grpc.ExchangeStub(channel) for channel in channels]
    method = find_method(spec["service"])
    assert method is not None
    request = json_format.ParseDict(spec["request"], message_class(method.input_type)())

    async def one(slot: int) -> None:
        env = client.build(spec["service"], request, purpose=spec["purpose"],
                           legal_basis=spec["legal_basis"], recipient=spec["provider"])
        client.verify(env, await stubs[slot % len(stubs)].Call(env, timeout=30))

    async def close() -> None:
        await _close_all(channels)
        await client.close()
    return one, close


async def _drive(one: Caller, concurrency: int, count: int) -> tuple[list[int], int, float]:
    latencies: list[int] = []
    errors = 0
    remaining = count

    async def worker(slot: int) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter_ns()
            try:
                await one(slot)
            except Exception:  # counted and reported, never hidden
                errors += 1
                continue
            latencies.append(time.perf_counter_ns() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
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
        cpu = time.process_time()
        latencies, errors, seconds = await _drive(one, spec["concurrency"], spec["count"])
        cpu = time.process_time() - cpu
    finally:
        await close()
    latencies.sort()
    return {"count": len(latencies), "errors": errors, "seconds": round(seconds, 4),
            "cpu_s": round(cpu, 4),
            "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
            "p50_ms": round(_pct(latencies, 0.50), 3),
            "p99_ms": round(_pct(latencies, 0.99), 3),
            "p999_ms": round(_pct(latencies, 0.999), 3)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
