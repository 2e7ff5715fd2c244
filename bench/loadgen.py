"""Load generator, run as its own process: fixed warm-up, then a fixed number of calls.

Reads a JSON spec on argv[1] (or from the file @PATH), prints one JSON result line. Broker calls are
signed per request (unique message ids) and their answers verified, as a
real agency client would; that cost stays in this process and is timed apart
from the round trip (`sign_ms`, `verify_ms`: mean wall time per call), so latency
is the wire call alone. `sign_cpu_ms` and `verify_cpu_ms` are the same steps'
thread CPU time: with more runnable processes than cores the wall times also
hold the time this process waited for a core (≈ 2x the CPU at c=64 on 2 shared cores).
Requests cycle through the spec's `requests` (varied queries
drawn from the listed data, never one repeated query). Calls spread over
several connections (as many clients would), so a `--workers` broker sees
them on every worker; the baselines get the same number of connections, over
mutual TLS with the consumer's certificate when the spec names a `pki_dir`.
p99.9 is reported only from `MIN_P999` samples up (else null).
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

Caller = Callable[[int], Awaitable[int]]  # one call on a slot -> its round trip (ns)
MAX_CONNECTIONS = 8
# Below this many samples the 99.9th percentile is one of the slowest few calls.
MIN_P999 = 10_000
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


class Timing:
    """Client-side work outside the round trip, summed over the calls (ns)."""

    sign_ns = 0
    verify_ns = 0
    sign_cpu_ns = 0
    verify_cpu_ns = 0


async def _baseline(spec: dict[str, Any], timing: Timing
                    ) -> tuple[Caller, Callable[[], Awaitable[None]]]:
    if spec.get("pki_dir"):
        from g2g_sdk import pki, tls

        identity = pki.load_identity(Path(spec["pki_dir"]), spec["consumer"])
        channels = [grpc.aio.secure_channel(spec["address"], tls.channel_credentials(identity),
                                            options=[_OWN_CONNECTION])
                    for _ in range(connections(spec))]
    else:
        channels = [grpc.aio.insecure_channel(spec["address"], options=[_OWN_CONNECTION])
                    for _ in range(connections(spec))]
    calls = [channel.unary_unary("/bench.Echo/Call", request_serializer=_identity,
                                 response_deserializer=_identity) for channel in channels]
    payload = bytes.fromhex(spec["payload_hex"])

    async def one(slot: int) -> int:
        t = time.perf_counter_ns()
        await calls[slot % len(calls)](payload, timeout=30)
        return time.perf_counter_ns() - t
    return one, lambda: _close_all(channels)


async def _broker(spec: dict[str, Any], timing: Timing
                  ) -> tuple[Caller, Callable[[], Awaitable[None]]]:
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
    requests = [json_format.ParseDict(r, message_class(method.input_type)())
                for r in spec["requests"]]
    turn = 0

    async def one(slot: int) -> int:
        nonlocal turn
        request = requests[turn % len(requests)]
        turn += 1
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        env = client.build(spec["service"], request, purpose=spec["purpose"],
                           legal_basis=spec["legal_basis"], recipient=spec["provider"])
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        answer = await stubs[slot % len(stubs)].Call(env, timeout=30)
        c2, t2 = time.thread_time_ns(), time.perf_counter_ns()
        client.verify(env, answer)
        t3, c3 = time.perf_counter_ns(), time.thread_time_ns()
        timing.sign_ns += t1 - t0
        timing.verify_ns += t3 - t2
        timing.sign_cpu_ns += c1 - c0
        timing.verify_cpu_ns += c3 - c2
        return t2 - t1

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
            try:
                latencies.append(await one(slot))
            except Exception:  # counted and reported, never hidden
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def _pct(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return 0.0
    index = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return sorted_ns[index] / 1e6


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    timing = Timing()
    one, close = await (_baseline(spec, timing) if spec["kind"] == "baseline"
                        else _broker(spec, timing))
    try:
        await _drive(one, spec["concurrency"], spec["warmup"])
        print("warm", flush=True)  # the orchestrator samples broker CPU from here
        sys.stdin.readline()
        timing.sign_ns = timing.verify_ns = timing.sign_cpu_ns = timing.verify_cpu_ns = 0
        cpu = time.process_time()
        latencies, errors, seconds = await _drive(one, spec["concurrency"], spec["count"])
        cpu = time.process_time() - cpu
    finally:
        await close()
    latencies.sort()
    n = len(latencies)
    return {"count": n, "errors": errors, "seconds": round(seconds, 4),
            "cpu_s": round(cpu, 4),
            "rps": round(n / seconds, 1) if seconds else 0.0,
            "p50_ms": round(_pct(latencies, 0.50), 3),
            "p99_ms": round(_pct(latencies, 0.99), 3),
            "p999_ms": round(_pct(latencies, 0.999), 3) if n >= MIN_P999 else None,
            "sign_ms": round(timing.sign_ns / n / 1e6, 4) if n else None,
            "verify_ms": round(timing.verify_ns / n / 1e6, 4) if n else None,
            "sign_cpu_ms": round(timing.sign_cpu_ns / n / 1e6, 4) if n else None,
            "verify_cpu_ms": round(timing.verify_cpu_ns / n / 1e6, 4) if n else None}


if __name__ == "__main__":
    arg = sys.argv[1]  # a JSON spec, or @FILE holding one
    spec = json.loads(Path(arg[1:]).read_text() if arg.startswith("@") else arg)
    print(json.dumps(asyncio.run(main(spec))), flush=True)
