"""Overload run: offered concurrency far above the broker's bound of calls in flight.

A broker process with `limits.max_concurrent_calls` = LIMIT serves the screening
service while the client offers 1x, 4x and 16x that many concurrent calls.
Calls beyond the bound must be refused at once (RESOURCE_EXHAUSTED /
OVERLOADED) instead of queueing, so the latency of the admitted calls stays
bounded as the offer grows. Prints one row per level and writes
bench/results/overload.json. Requests are signed in this process before
their call is timed; the figures include everything else on the machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from bench.__main__ import (
    ADAPTERS,
    RESULTS,
    SCREEN,
    _spawn,
    machine,
    sqlite_federation,
    varied_requests,
)

LIMIT = 16
CALLS_PER_LEVEL = 1200
CONNECTIONS = 8
PY = sys.executable


def _scrape(ops_port: int) -> dict[float, float]:
    """Cumulative counts of the broker's own OK exchange durations, by bucket bound (s)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {float(s.labels["le"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "g2g_exchange_duration_seconds_bucket" and s.labels["code"] == "OK"}


def _bucket_pct(before: dict[float, float], after: dict[float, float], q: float
                ) -> float | None:
    """The upper bucket bound (ms) below which a fraction `q` of the new samples fell."""
    delta = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    if not total:
        return None
    for le, count in delta.items():
        if count >= q * total:
            return le * 1000
    return None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _level(address: str, work: Path, concurrency: int, count: int) -> dict[str, Any]:
    from g2g_sdk import ConsumerClient, pki, tls
    from g2g_sdk._gen.g2g.v1 import broker_pb2_grpc
    from g2g_sdk.catalog import find_method, message_class
    from g2g_sdk.registry import load_registry
    from google.protobuf import json_format

    registry = load_registry(work / "agencies.yaml", work / "pki")
    identity = pki.load_identity(work / "pki", SCREEN["consumer"])
    client = ConsumerClient(identity, registry, broker_endpoint=address)
    channels = [grpc.aio.secure_channel(address, tls.channel_credentials(identity),
                                        options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CONNECTIONS)]
    stubs = [broker_pb2_grpc.ExchangeStub(c) for c in channels]
    method = find_method(SCREEN["service"])
    assert method is not None
    requests = [json_format.ParseDict(r, message_class(method.input_type)())
                for r in varied_requests("screen", 500)]
    admitted: list[float] = []
    shed: list[float] = []
    other: dict[str, int] = {}
    remaining = count
    started = time.perf_counter()

    async def worker(slot: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            env = client.build(SCREEN["service"], requests[remaining % len(requests)],
                               purpose=SCREEN["purpose"], legal_basis=SCREEN["legal_basis"],
                               recipient=SCREEN["provider"])
            t0 = time.perf_counter()
            try:
                await stubs[slot % len(stubs)].Call(env, timeout=30)
            except grpc.aio.AioRpcError as exc:
                ms = (time.perf_counter() - t0) * 1000
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    shed.append(ms)
                else:
                    other[exc.code().name] = other.get(exc.code().name, 0) + 1
                continue
            admitted.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    await client.close()
    return {"offered_concurrency": concurrency, "limit": LIMIT, "calls": count,
            "admitted": len(admitted), "shed": len(shed), "other_errors": other,
            "admitted_per_s": round(len(admitted) / elapsed, 1),
            "admitted_p50_ms": _pct(admitted, 0.5), "admitted_p99_ms": _pct(admitted, 0.99),
            "shed_p50_ms": _pct(shed, 0.5), "shed_p99_ms": _pct(shed, 0.99)}


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="g2g-overload-") as tmp:
        work = Path(tmp)
        with sqlite_federation(work) as (config, _adapters):
            with config.open("a") as out:
                out.write(f"limits:\n  max_concurrent_calls: {LIMIT}\n"
                          f"  max_concurrent_calls_per_consumer: {LIMIT * 64}\n")
            with _spawn("broker", [PY, "-m", "g2g_cli.main", "broker", "serve",
                                   "--config", str(config), "--log-level", "INFO"]) as broker:
                port = broker.wait_event("broker_started")["port"]
                ops_port = broker.wait_event("ops_port_started")["port"]
                for factor in (1, 4, 16):
                    before = _scrape(ops_port)
                    row = asyncio.run(_level(f"127.0.0.1:{port}", work, LIMIT * factor,
                                             CALLS_PER_LEVEL))
                    after = _scrape(ops_port)
                    # The broker's own view (g2g_exchange_duration_seconds), free of the
                    # client's event loop: bucket bounds, so "at most" figures.
                    row["broker_p50_ms_at_most"] = _bucket_pct(before, after, 0.5)
                    row["broker_p99_ms_at_most"] = _bucket_pct(before, after, 0.99)
                    rows.append(row)
    print(f"overload: broker limit {LIMIT} calls in flight, {CALLS_PER_LEVEL} calls per level, "
          f"adapters {', '.join(ADAPTERS)}")
    print("client-side ms include the load generator's own event loop; broker-side ms are "
          "the broker's exchange histogram (upper bucket bounds)")
    print(f"{'offered':>8} {'admitted':>9} {'shed':>6} {'adm/s':>7} {'adm p50':>8} "
          f"{'adm p99':>8} {'shed p99':>9} {'broker p50<=':>13} {'broker p99<=':>13}  other")
    for r in rows:
        print(f"{r['offered_concurrency']:>8} {r['admitted']:>9} {r['shed']:>6} "
              f"{r['admitted_per_s']:>7} {r['admitted_p50_ms'] or '-':>8} "
              f"{r['admitted_p99_ms'] or '-':>8} {r['shed_p99_ms'] or '-':>9} "
              f"{r['broker_p50_ms_at_most'] or '-':>13} {r['broker_p99_ms_at_most'] or '-':>13}"
              f"  {r['other_errors'] or ''}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overload.json").write_text(json.dumps(
        {"machine": machine(), "rows": rows}, indent=2) + "\n")
    # Beyond the bound, calls must be shed (not queued) and nothing else may fail.
    ok = all(not r["other_errors"] for r in rows) and rows[-1]["shed"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
