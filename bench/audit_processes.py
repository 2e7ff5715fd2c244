"""Several broker processes appending to one audit store at once (`--workers N`).

Each of P processes keeps C appends in flight for S seconds; prints the total
records/s and, per process, the append latency p50/p99/max — the max shows
whether one process can hold the others off the write lock.

    .venv/bin/python bench/audit_processes.py [--processes 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.__main__ import postgres_schema  # noqa: E402
from bench.bench_audit import event  # noqa: E402
from broker.audit import AuditConfig, open_store  # noqa: E402

CONCURRENCY = 16


async def _append_for(config: AuditConfig, until: float) -> list[float]:
    store = await open_store(config, log_key=Ed25519PrivateKey.generate(), instance_id="bench")
    latencies: list[float] = []

    async def worker() -> None:
        i = 0
        while time.time() < until:
            started = time.perf_counter()
            await store.append(event(i))
            latencies.append(time.perf_counter() - started)
            i += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await store.close()
    return latencies


def _process(config: AuditConfig, start_at: float, seconds: float, out: object) -> None:
    while time.time() < start_at:  # start together; a bench may wait on the clock
        time.sleep(0.001)
    out.put(asyncio.run(_append_for(config, start_at + seconds)))  # type: ignore[attr-defined]


def run(name: str, config: AuditConfig, processes: int, seconds: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0
    procs = [ctx.Process(target=_process, args=(config, start_at, seconds, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    total = sum(len(r) for r in results)
    print(f"{name:8} {processes} processes x {CONCURRENCY} in flight: "
          f"{total / seconds:>7,.0f} records/s")
    for i, lat in enumerate(results):
        q = statistics.quantiles(lat, n=100)
        print(f"         process {i}: {len(lat) / seconds:>6,.0f}/s  append p50 "
              f"{q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  max {max(lat) * 1000:6.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", AuditConfig(path=Path(tmp) / "audit.db"), args.processes, args.seconds)
    with postgres_schema() as dsn:
        if dsn is None:
            print("postgres: not reachable, skipped")
        else:
            run("postgres", AuditConfig(backend="postgres", dsn=dsn), args.processes,
                args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
