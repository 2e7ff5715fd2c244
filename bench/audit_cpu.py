"""Audit writer CPU per append, in one process: `python bench/audit_cpu.py [COUNT] [TASKS]`.

Appends COUNT records from TASKS concurrent tasks to a fresh SQLite store
(WAL, synchronous=FULL) and prints process CPU µs per append (event loop and
writer thread together) and appends/s. Isolates the writer loop and the
thread hand-off from the rest of the exchange, for A/B runs of store changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.bench_audit import event  # noqa: E402
from broker.audit import AuditConfig, open_store  # noqa: E402


def _thread_cpu(native_id: int | None) -> float:
    """CPU seconds so far of one thread of this process (Linux /proc)."""
    stat = Path(f"/proc/self/task/{native_id}/stat")
    if native_id is None or not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(count: int, tasks: int) -> tuple[float, float, float]:
    """(process CPU µs per append, appends/s, writer thread CPU µs per append) for
    `count` appends from `tasks` tasks."""
    with tempfile.TemporaryDirectory(prefix="g2g-audit-cpu-") as tmp:
        store = await open_store(AuditConfig(path=Path(tmp) / "audit.db"),
                                 log_key=Ed25519PrivateKey.generate(), instance_id="bench")
        numbers = iter(range(count))

        async def appender() -> None:
            for i in numbers:
                await store.append(event(i))

        writer = store._thread.native_id
        cpu, wall, own = time.process_time(), time.perf_counter(), _thread_cpu(writer)
        await asyncio.gather(*(appender() for _ in range(tasks)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        own = _thread_cpu(writer) - own
        await store.close()
    return cpu / count * 1e6, count / wall, own / count * 1e6


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    cpu_us, rate, writer_us = asyncio.run(measure(count, tasks))
    print(f"{REPO}: {cpu_us:.1f} µs CPU per append ({writer_us:.1f} in the writer thread), "
          f"{rate:.0f} appends/s ({count} appends from {tasks} tasks, SQLite FULL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
