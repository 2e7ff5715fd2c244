"""Audit append throughput with group commit: records/s on SQLite and PostgreSQL.

Each row appends N records from C concurrent tasks and waits for every commit
(durable: SQLite WAL synchronous=FULL, PostgreSQL default fsync). Baseline in
the same run: one fsync'd SQLite commit per record, i.e. what durability costs
without group commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.__main__ import postgres_schema  # noqa: E402
from broker.audit import AuditConfig, AuditEvent, open_store  # noqa: E402

COUNT = 5000


def event(i: int) -> AuditEvent:
    return AuditEvent(kind="request", time=datetime.now(UTC), message_id=f"m-{i}",
                      consumer="ID/GOV/POLRI", provider="ID/GOV/IMIGRASI",
                      service="g2g.immigration.v1.Watchlist/Screen", purpose="border_control",
                      decision="allow", rule_id="r", policy_version="v",
                      request_digest="ab" * 32, subject_keys=("cd" * 32,))


async def run(config: AuditConfig, concurrency: int, count: int = COUNT) -> float:
    """Records/s appending `count` records from `concurrency` tasks, each awaiting its commit."""
    store = await open_store(config, log_key=Ed25519PrivateKey.generate(), instance_id="bench")
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await store.append(event(i))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await store.close()
    return count / elapsed


def baseline(path: Path, n: int = 500) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, record BLOB)")
    started = time.perf_counter()
    for i in range(n):
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 400))
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(Path(tmp) / "baseline.db")
        print(f"baseline: one fsync'd SQLite commit per record: {base:,.0f} records/s")
        rows.append({"backend": "sqlite-commit-per-record", "concurrency": 1,
                     "records_per_s": round(base)})
        backends: list[tuple[str, AuditConfig]] = [
            ("sqlite", AuditConfig(path=Path(tmp) / "audit.db"))]
        with postgres_schema() as dsn:
            if dsn is None:
                print("postgres: skipped (not reachable)")
            else:
                backends.append(("postgres", AuditConfig(backend="postgres", dsn=dsn)))
            for name, config in backends:
                for concurrency in (1, 16, 64):
                    rate = asyncio.run(run(config, concurrency))
                    print(f"{name:8} concurrency {concurrency:>3}: {rate:>8,.0f} records/s "
                          f"({rate / base:.1f}x baseline)")
                    rows.append({"backend": name, "concurrency": concurrency,
                                 "records_per_s": round(rate)})
    out = REPO / "bench" / "results" / "audit.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
