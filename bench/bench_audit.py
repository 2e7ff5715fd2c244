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
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from broker.audit import AuditConfig, AuditEvent, open_store  # noqa: E402

PG = "postgresql://root@127.0.0.1:5432/test"
COUNT = 5000


def event(i: int) -> AuditEvent:
    return AuditEvent(kind="request", time=datetime.now(UTC), message_id=f"m-{i}",
                      consumer="ID/GOV/POLRI", provider="ID/GOV/IMIGRASI",
                      service="g2g.immigration.v1.Watchlist/Screen", purpose="border_control",
                      decision="allow", rule_id="r", policy_version="v",
                      request_digest="ab" * 32, subject_keys=("cd" * 32,))


async def run(config: AuditConfig, concurrency: int) -> float:
    store = await open_store(config, log_key=Ed25519PrivateKey.generate(), instance_id="bench")
    queue = iter(range(COUNT))

    async def worker() -> None:
        for i in queue:
            await store.append(event(i))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await store.close()
    return COUNT / elapsed


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
        try:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = psycopg.connect(PG, autocommit=True, connect_timeout=3)
            admin.execute(f'CREATE SCHEMA "{schema}"')
            backends.append(("postgres", AuditConfig(
                backend="postgres", dsn=f"{PG}?options=-csearch_path%3D{schema}")))
        except Exception as exc:
            print(f"postgres: skipped ({exc})")
            admin = None
        try:
            for name, config in backends:
                for concurrency in (1, 16, 64):
                    rate = asyncio.run(run(config, concurrency))
                    print(f"{name:8} concurrency {concurrency:>3}: {rate:>8,.0f} records/s "
                          f"({rate / base:.1f}x baseline)")
                    rows.append({"backend": name, "concurrency": concurrency,
                                 "records_per_s": round(rate)})
        finally:
            if admin is not None:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    out = REPO / "bench" / "results" / "audit.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
