"""The audit log's write side: one writer thread, group commit, Merkle nodes, checkpoints.

`append` hands the event to the writer thread and returns once the record is
committed (durable). Everything queued while a commit runs goes into the next
one, so under load many requests share one fsync. Each transaction takes the
backend's write lock, reads the current size, numbers its records densely and
stores the tree nodes they complete; checkpoints are signed every N records,
every T seconds of activity and on close.

A request record may carry an `Admission`: its replay claim and rate-limit
counters are checked and charged in the same transaction, under the same
lock, so every broker worker on the store shares them at no extra commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import structlog
from g2g_sdk import logs
from g2g_sdk.errors import AuditUnavailable, G2GError
from g2g_sdk.signer import Signer

from broker.audit import checkpoint, merkle
from broker.audit.config import AuditConfig
from broker.audit.dialect import Dialect, dialect_for
from broker.audit.log import LogReader
from broker.audit.record import AuditEvent, AuditReceipt, encode_timed, format_time

log = structlog.get_logger("g2g.audit")

MAX_BATCH = 512
EXPIRE_EVERY_SECONDS = 10.0  # how often expired claims and counters are deleted
EXPIRE_CLAIMS = 10_000  # at most this many claims deleted in one transaction
T = TypeVar("T")
_STOP = object()


class Claim(Protocol):
    """A key that may be admitted once until it expires (broker.replay.Claim)."""

    @property
    def key(self) -> str: ...
    @property
    def expires(self) -> int: ...  # unix seconds
    def refused(self) -> G2GError: ...


class Counter(Protocol):
    """One rate-limit window a request is charged against (broker.policy.ratelimit.Window)."""

    @property
    def key(self) -> str: ...
    @property
    def start(self) -> int: ...  # unix seconds
    @property
    def limit(self) -> int: ...
    @property
    def expires(self) -> int: ...
    def refused(self) -> G2GError: ...


@dataclass(frozen=True)
class Admission:
    """What a request record must clear, atomically and across workers, to be written."""

    claim: Claim
    counters: Sequence[Counter]
    now: int  # unix seconds, by the broker's clock


@dataclass
class _Count:
    used: int     # committed before this batch
    added: int    # charged by this batch
    expires: int


@dataclass
class _Pending:
    event: AuditEvent
    future: asyncio.Future[AuditReceipt]
    loop: asyncio.AbstractEventLoop
    admission: Admission | None = None


def _settle(fut: asyncio.Future[AuditReceipt], value: AuditReceipt | BaseException) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
    else:
        fut.set_result(value)


def _settle_all(settled: list[tuple[asyncio.Future[AuditReceipt],
                                    AuditReceipt | BaseException]]) -> None:
    for fut, value in settled:
        _settle(fut, value)


def _hand_back(batch: Sequence[_Pending],
               values: Sequence[AuditReceipt | BaseException]) -> None:
    """Settle a batch's futures with one wake-up per event loop, not one per record.

    Each `call_soon_threadsafe` writes to the loop's self-pipe; a commit group
    of 30 records would otherwise cost the loop 30 wake-ups and the writer 30
    syscalls. Futures are settled in record order either way.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[
        tuple[asyncio.Future[AuditReceipt], AuditReceipt | BaseException]]] = {}
    for p, value in zip(batch, values, strict=True):
        by_loop.setdefault(p.loop, []).append((p.future, value))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle_all, settled)


def collect_batch(pending: queue.SimpleQueue[Any], first: Any, until: float,
                  max_batch: int = MAX_BATCH) -> tuple[list[Any], bool]:
    """The records to commit together, `first` and what follows it; and whether to stop.

    Takes what is queued, and what arrives until the monotonic time `until` (0: no
    waiting), up to `max_batch` records; the stop marker ends the batch.
    """
    if first is _STOP:
        return [], True
    batch = [first]
    while len(batch) < max_batch:
        try:
            left = until - time.monotonic()
            item = pending.get(timeout=left) if left > 0 else pending.get_nowait()
        except queue.Empty:
            break
        if item is _STOP:
            return batch, True
        batch.append(item)
    return batch, False


class AuditStore:
    """Durable, append-only, tamper-evident exchange log."""

    def __init__(self, dialect: Dialect, config: AuditConfig, log_key: Signer,
                 instance_id: str) -> None:
        self.dialect = dialect
        self.config = config
        self.instance_id = instance_id
        self._key = log_key
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._conn = dialect.connect()
        try:
            self._write_lock = dialect.writer_lock()
        except BaseException:
            self._conn.close()  # a store that failed to open leaves nothing open
            raise
        self._reader = LogReader(dialect, self._conn)
        self._last_cp_time = time.monotonic()
        self._last_expiry = 0.0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._closed = False
        self._reconnect_at: float | None = None  # set while the connection is dead
        self._write_failed = False  # the last write or probe failed
        # Told (from the writer thread) how many records each commit carried and its time.
        self.on_commit: Callable[[int, float], None] | None = None
        self._thread.start()

    @property
    def origin(self) -> str:
        return self.config.origin

    def public_key_name(self) -> str:
        return self.config.origin

    @property
    def writable(self) -> bool:
        """False while the connection is lost or the last write (or idle probe) failed."""
        return not self._closed and self._reconnect_at is None and not self._write_failed

    @property
    def queue_depth(self) -> int:
        """Records waiting for the writer thread."""
        return self._queue.qsize()

    def checkpoint_age(self) -> float:
        """Seconds since this writer last checkpointed (or started, or found nothing new)."""
        return time.monotonic() - self._last_cp_time

    # --- async API -----------------------------------------------------------

    async def append(self, event: AuditEvent, admission: Admission | None = None
                     ) -> AuditReceipt:
        """Write one record; returns once it is committed.

        With an `admission`, the record is written only if its claim is new
        and no counter is at its limit; otherwise the claim's or counter's
        `refused()` error is raised and no record is written (a claim taken
        before a full counter refused stays taken: the message id is spent).
        """
        return await self.submit(event, admission)

    def submit(self, event: AuditEvent, admission: Admission | None = None
               ) -> asyncio.Future[AuditReceipt]:
        """Queue one record now; the future settles once it is committed (as `append`).

        For callers that must not lose a queued record when they are cancelled: the
        record is queued before this returns, and no task is needed to await it.
        """
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[AuditReceipt] = loop.create_future()
        self._queue.put(_Pending(event, fut, loop, admission))
        return fut

    async def close(self) -> None:
        """Flush, sign a final checkpoint, stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    async def read(self, fn: Callable[[LogReader], T]) -> T:
        """Run a read-only query on its own connection, off the event loop."""
        def run() -> T:
            conn = self.dialect.connect()
            try:
                return fn(LogReader(self.dialect, conn))
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    def record_policy(self, version: str, sources: Mapping[str, bytes]) -> None:
        """Keep a policy set's sources by version so auditors can re-run `explain`."""
        self._record_sources("policy_sets", version, sources)

    def record_registry(self, version: str, sources: Mapping[str, bytes]) -> None:
        """Keep a registry version's files (registry YAML, published keys) by version."""
        self._record_sources("registry_versions", version, sources)

    def _record_sources(self, table: Literal["policy_sets", "registry_versions"],
                        version: str, sources: Mapping[str, bytes]) -> None:
        text = json.dumps({k: v.decode("utf-8", "replace") for k, v in sources.items()},
                          sort_keys=True)
        conn = self.dialect.connect()
        try:
            # `table` is one of two fixed names; every value is a bound parameter.
            conn.execute(self.dialect.sql(
                f"INSERT INTO {table} (version, sources, first_loaded) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (version) DO NOTHING"),
                (version, text, format_time(datetime.now(UTC))))
        finally:
            conn.close()

    # --- writer thread -------------------------------------------------------

    def _run(self) -> None:
        stop = False
        busy = False  # the last commit carried more than one record
        while not stop:
            try:
                first = self._queue.get(timeout=self.config.checkpoint_seconds)
            except queue.Empty:
                self._guarded(self._timed_checkpoint)
                self._probe()
                continue
            # Group commit: under load, wait a moment for more records so that more
            # requests share one transaction and one fsync (the writer's CPU is mostly
            # per commit, not per record). A record that comes alone is written at once.
            until = time.monotonic() + self.config.commit_delay_ms / 1000 if busy else 0.0
            batch, stop = collect_batch(self._queue, first, until)
            if batch:
                self._write(batch)
            busy = len(batch) > 1
        self._guarded(lambda: self._checkpoint_txn(force=True))
        self._conn.close()
        self._write_lock.close()

    def _guarded(self, fn: Any) -> None:
        with self._write_lock:
            try:
                fn()
            except Exception as exc:
                log.error("audit_checkpoint_failed", **_db_error(exc))
                self._rollback()

    def _probe(self) -> None:
        """While idle, find out whether the database still answers (for readiness)."""
        self._reconnect_if_due()
        if self._reconnect_at is not None:
            return
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            self._write_failed = True
            self._after_failure()
        else:
            self._write_failed = False

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):  # no transaction open is fine
            self._conn.execute("ROLLBACK")
        self._after_failure()

    def _after_failure(self) -> None:
        """Forget what the failed write cached; if the connection is dead, drop it.

        Nodes cached by a batch that never committed would fork the tree: their
        positions go to another process's records. A dead connection (a database
        restart, a killed backend) is replaced `reconnect_seconds` later; until
        then writes fail fast, closed, instead of each waiting on a connect.
        """
        self._reader.forget_cached_nodes()
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            with contextlib.suppress(Exception):
                self._conn.close()
            if self._reconnect_at is None:
                log.error("audit_connection_lost", retry_in=self.config.reconnect_seconds)
                self._reconnect_at = time.monotonic() + self.config.reconnect_seconds

    def _reconnect_if_due(self) -> None:
        if self._reconnect_at is None or time.monotonic() < self._reconnect_at:
            return
        try:
            conn = self.dialect.connect()
        except Exception as exc:
            log.error("audit_reconnect_failed", **_db_error(exc))
            self._reconnect_at = time.monotonic() + self.config.reconnect_seconds
            return
        self._conn, self._reader, self._reconnect_at = conn, LogReader(self.dialect, conn), None

    def _write(self, batch: list[_Pending]) -> None:
        self._reconnect_if_due()
        started = time.perf_counter()
        try:
            with self._write_lock:
                try:
                    outcomes = self._insert(batch)
                except Exception:
                    self._rollback()
                    raise
        except Exception as exc:
            log.error("audit_write_failed", records=len(batch), **_db_error(exc))
            self._write_failed = True
            _hand_back(batch, [AuditUnavailable("the audit record could not be written")
                               for _ in batch])
            return
        self._write_failed = False
        if self.on_commit is not None:
            self.on_commit(len(batch), time.perf_counter() - started)
        _hand_back(batch, outcomes)

    def _insert(self, batch: list[_Pending]) -> list[AuditReceipt | G2GError]:
        sql = self.dialect.sql
        cur = self._conn.cursor()
        self.dialect.begin_write(cur)
        self._expire(cur, max((p.admission.now for p in batch if p.admission), default=0))
        size = self._reader.size()
        new_nodes: dict[tuple[int, int], bytes] = {}

        def node(level: int, idx: int) -> bytes:
            return new_nodes.get((level, idx)) or self._reader.node(level, idx)

        records, subjects, nodes = [], [], []
        outcomes: list[AuditReceipt | G2GError] = []
        counts: dict[tuple[str, int], _Count] = {}
        seq = size
        for p in batch:
            refusal = self._admit(cur, p.admission, counts) if p.admission else None
            if refusal is not None:
                outcomes.append(refusal)
                continue
            data, time_text = encode_timed(p.event, seq, self.instance_id)
            leaf = merkle.leaf_hash(data)
            e = p.event
            records.append((seq, time_text, e.kind, e.message_id, e.correlation_id,
                            e.consumer, e.provider, e.service, e.purpose, e.decision,
                            e.status_code, self.instance_id, data, leaf))
            subjects += [(key, seq) for key in dict.fromkeys(e.subject_keys)]
            for level, idx, h in merkle.completed_nodes(seq, leaf, node):
                new_nodes[(level, idx)] = h
                nodes.append((level, idx, h))
            outcomes.append(AuditReceipt(seq, leaf))
            seq += 1
        if records:
            cur.executemany(sql(
                "INSERT INTO records (seq, time, kind, message_id, correlation_id, consumer, "
                "provider, service, purpose, decision, status_code, instance_id, record, "
                "leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), records)
        if subjects:
            cur.executemany(sql("INSERT INTO subjects (key, seq) VALUES (?, ?)"), subjects)
        if nodes:
            cur.executemany(sql("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)"), nodes)
        charged = [(key, start, c.added, c.expires) for (key, start), c in counts.items()
                   if c.added]
        if charged:
            cur.executemany(sql(
                "INSERT INTO rate_counts (counter, window_start, used, expires) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (counter, window_start) "
                "DO UPDATE SET used = rate_counts.used + excluded.used"), charged)
        self._reader.remember_nodes(new_nodes)
        new_size = seq
        if new_size - self._reader.latest_checkpoint_size() >= self.config.checkpoint_every:
            self._sign_checkpoint(cur, new_size)
        cur.execute("COMMIT")
        return outcomes

    def _admit(self, cur: Any, admission: Admission,
               counts: dict[tuple[str, int], _Count]) -> G2GError | None:
        """Take the claim and charge the counters, or name the first that refuses.

        Counters are read once per batch and written once at its end (`counts`
        holds what this batch added), all under the transaction's write lock.
        """
        sql = self.dialect.sql
        claim = admission.claim
        # An expired claim may be taken again; its message is past its freshness window.
        cur.execute(sql(
            "INSERT INTO claims (claim, expires) VALUES (?, ?) ON CONFLICT (claim) "
            "DO UPDATE SET expires = excluded.expires WHERE claims.expires < ?"),
            (claim.key, claim.expires, admission.now))
        if cur.rowcount != 1:
            return claim.refused()
        for counter in admission.counters:
            count = counts.get((counter.key, counter.start))
            if count is None:
                row = cur.execute(sql(
                    "SELECT used FROM rate_counts WHERE counter = ? AND window_start = ?"),
                    (counter.key, counter.start)).fetchone()
                count = counts[(counter.key, counter.start)] = _Count(
                    int(row[0]) if row else 0, 0, counter.expires)
            if count.used + count.added >= counter.limit:
                return counter.refused()
        for counter in admission.counters:
            counts[(counter.key, counter.start)].added += 1
        return None

    def _expire(self, cur: Any, now: int) -> None:
        """Every few seconds, drop claims and counters past their windows.

        At most EXPIRE_CLAIMS claims a transaction; while a clean-up hits that
        bound the next transaction cleans up again, so a backlog is drained
        whatever the request rate, never in one long transaction.
        """
        if now == 0 or time.monotonic() - self._last_expiry < EXPIRE_EVERY_SECONDS:
            return
        sql = self.dialect.sql
        cur.execute(sql("DELETE FROM claims WHERE claim IN "
                        "(SELECT claim FROM claims WHERE expires < ? LIMIT ?)"),
                    (now, EXPIRE_CLAIMS))
        if cur.rowcount < EXPIRE_CLAIMS:
            self._last_expiry = time.monotonic()
        cur.execute(sql("DELETE FROM rate_counts WHERE expires < ?"), (now,))

    def _sign_checkpoint(self, cur: Any, size: int) -> None:
        root = self._reader.root(size)
        note = checkpoint.sign(checkpoint.Checkpoint(self.config.origin, size, root),
                               self.config.origin, self._key)
        cur.execute(self.dialect.sql(
            "INSERT INTO checkpoints (size, root, note, time) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (size) DO NOTHING"), (size, root, note, format_time(datetime.now(UTC))))
        self._last_cp_time = time.monotonic()

    def _checkpoint_txn(self, force: bool = False) -> None:
        self._reconnect_if_due()
        cur = self._conn.cursor()
        self.dialect.begin_write(cur)
        size = self._reader.size()
        latest = self._reader.latest_checkpoint()
        if size > (latest[0] if latest else 0) or (force and latest is None):
            self._sign_checkpoint(cur, size)
        cur.execute("COMMIT")

    def _timed_checkpoint(self) -> None:
        if time.monotonic() - self._last_cp_time >= self.config.checkpoint_seconds:
            self._checkpoint_txn()
            self._last_cp_time = time.monotonic()


async def open_store(config: AuditConfig, *, log_key: Signer,
                     instance_id: str) -> AuditStore:
    """Open (creating if needed) the configured backend; fails closed if unreachable."""
    dialect: Dialect = dialect_for(config)
    try:
        return await asyncio.to_thread(AuditStore, dialect, config, log_key, instance_id)
    except G2GError:
        raise  # already says why, without the DSN (dialect.Postgres.connect)
    except Exception as exc:
        # An SQLite error names the file at most; a database's text is never echoed.
        text = str(exc) if isinstance(exc, (sqlite3.Error, OSError)) else ""
        raise AuditUnavailable(f"cannot open the audit log ({dialect.describe()}): "
                               f"{type(exc).__name__}" + (f": {text}" if text else "")) from None


def _db_error(exc: Exception) -> dict[str, str]:
    """Log fields for a failed database call: its type and error code, never its text.

    A database's message can quote the row it refused (PostgreSQL's DETAIL),
    and a row here is an audit record.
    """
    code = getattr(exc, "sqlstate", None) or getattr(exc, "sqlite_errorname", None) or ""
    return {**logs.fault_fields(exc), "code": str(code)}
