"""The audit store on SQLite and PostgreSQL: dense sequence, proofs, checkpoints, tampering."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.audit import AuditConfig, AuditEvent, AuditStore, merkle, open_store
from broker.audit import checkpoint as cpmod
from broker.audit.dialect import dialect_for
from broker.audit.log import Filters, LogReader
from broker.audit.record import encode
from broker.audit.store import _STOP as STOP
from broker.audit.store import _Pending, collect_batch
from broker.audit.verify import verify_log


def event(i: int, **kw: Any) -> AuditEvent:
    base: dict[str, Any] = {
        "kind": "request", "time": datetime(2026, 11, 24, 10, 0, i % 60, tzinfo=UTC),
        "message_id": f"m-{i}", "consumer": "ID/GOV/POLRI", "provider": "ID/GOV/IMIGRASI",
        "service": "g2g.immigration.v1.Watchlist/Screen", "purpose": "border_control",
        "decision": "allow", "rule_id": "r1", "policy_version": "v1",
        "subject_keys": (f"subject-{i % 3}",)}
    base.update(kw)
    return AuditEvent(**base)


class Db:
    """Direct SQL on the store's database, as a tampering operator would."""

    def __init__(self, config: AuditConfig) -> None:
        self.dialect = dialect_for(config)
        self.conn = self.dialect.connect()

    def run(self, sql: str, *params: object) -> None:
        self.conn.execute(self.dialect.sql(sql), params)
        if self.dialect.name == "sqlite":
            self.conn.commit()

    def reader(self) -> LogReader:
        return LogReader(self.dialect, self.conn)


async def fill(store: AuditStore, n: int) -> None:
    await asyncio.gather(*(store.append(event(i)) for i in range(n)))


async def test_concurrent_appends_get_dense_sequence_numbers(store: AuditStore) -> None:
    receipts = await asyncio.gather(*(store.append(event(i)) for i in range(200)))
    assert sorted(r.seq for r in receipts) == list(range(200))
    for r in receipts:
        assert len(r.leaf_hash) == 32


async def test_record_bytes_are_canonical_json_and_leaf_is_rfc6962(
        store: AuditStore, audit_config: AuditConfig) -> None:
    receipt = await store.append(event(7))
    db = Db(audit_config)
    data, leaf = db.reader().record(receipt.seq) or (b"", b"")
    assert data == encode(event(7), receipt.seq, "test-1")[0]
    assert leaf == merkle.leaf_hash(data) == receipt.leaf_hash
    assert json.loads(data)["message_id"] == "m-7"


async def test_proofs_from_stored_nodes_verify(store: AuditStore,
                                               audit_config: AuditConfig) -> None:
    await fill(store, 45)
    reader = Db(audit_config).reader()
    assert reader.size() == 45
    root = reader.root(45)
    for seq in (0, 1, 17, 44):
        _data, leaf = reader.record(seq) or (b"", b"")
        assert merkle.verify_inclusion(seq, 45, leaf, reader.inclusion_proof(seq, 45), root)
    for old in (1, 10, 31, 45):
        assert merkle.verify_consistency(old, 45, reader.root(old), root,
                                         reader.consistency_proof(old, 45))


async def test_checkpoints_every_n_records_and_on_close(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    for i in range(25):  # one at a time: each commit crosses the every-10 mark exactly
        await store.append(event(i))
    await store.close()
    reader = Db(audit_config).reader()
    sizes = [size for size, _, _ in reader.checkpoints()]
    assert sizes == [10, 20, 25]
    for size, _root, note in reader.checkpoints():
        cp = cpmod.verify(note, audit_config.origin, log_key.public_key())
        assert (cp.size, cp.root) == (size, reader.root(size))


async def test_query_filters_and_subject(store: AuditStore, audit_config: AuditConfig) -> None:
    await store.append(event(1, consumer="ID/GOV/BIN"))
    await store.append(event(2, decision="deny", status_code="PERMISSION_DENIED",
                             kind="rejected"))
    await store.append(event(3))
    reader = Db(audit_config).reader()
    assert [r["message_id"] for r in reader.query(Filters(agency="ID/GOV/BIN"))] == ["m-1"]
    assert [r["message_id"] for r in reader.query(Filters(status_code="PERMISSION_DENIED"))] \
        == ["m-2"]
    assert [r["message_id"] for r in reader.query(Filters(subject="subject-0"))] == ["m-3"]


async def _sealed_log(audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> Db:
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    await fill(store, 30)
    await store.close()
    db = Db(audit_config)
    report = verify_log(db.reader(), audit_config.origin, log_key.public_key())
    assert report.ok, report.problems
    assert report.size == 30
    assert report.unsigned_tail == 0
    return db


def _edit_record(db: Db) -> None:
    data, _ = db.reader().record(12) or (b"", b"")
    forged = data.replace(b'"ID/GOV/POLRI"', b'"ID/GOV/BIN"')
    db.run("UPDATE records SET record = ?, leaf_hash = ?, consumer = ? WHERE seq = 12",
           forged, merkle.leaf_hash(forged), "ID/GOV/BIN")


def _swap_records(db: Db) -> None:
    a, la = db.reader().record(3) or (b"", b"")
    b, lb = db.reader().record(4) or (b"", b"")
    db.run("UPDATE records SET record = ?, leaf_hash = ?, message_id = ? WHERE seq = 3",
           b, lb, "m-4")
    db.run("UPDATE records SET record = ?, leaf_hash = ?, message_id = ? WHERE seq = 4",
           a, la, "m-3")


def _append_row(db: Db) -> None:
    data, leaf = encode(event(99), 30, "test-1")
    db.run("INSERT INTO records (seq, time, kind, message_id, correlation_id, consumer, "
           "provider, service, purpose, decision, status_code, instance_id, record, leaf_hash) "
           "VALUES (30, '', 'request', 'm-99', '', 'ID/GOV/POLRI', 'ID/GOV/IMIGRASI', "
           "'g2g.immigration.v1.Watchlist/Screen', 'border_control', 'allow', '', 'test-1', "
           "?, ?)", data, leaf)


TAMPERING = {
    "edit a record (and its leaf hash)": (_edit_record, 12),
    "edit an indexed column only": (lambda db: db.run(
        "UPDATE records SET decision = 'deny' WHERE seq = 5"), 5),
    "delete a record": (lambda db: db.run("DELETE FROM records WHERE seq = 8"), 8),
    "delete the last records": (lambda db: db.run("DELETE FROM records WHERE seq >= 28"), 28),
    "reorder two records": (_swap_records, 3),
    "append a row behind the broker's back": (_append_row, 30),
}


@pytest.mark.parametrize("name", list(TAMPERING))
async def test_verify_detects_tampering(name: str, audit_config: AuditConfig,
                                        log_key: Ed25519PrivateKey) -> None:
    db = await _sealed_log(audit_config, log_key)
    tamper, first_bad = TAMPERING[name]
    tamper(db)
    report = verify_log(Db(audit_config).reader(), audit_config.origin, log_key.public_key())
    assert not report.ok
    if first_bad is not None:
        assert report.first_bad_seq == first_bad, report.problems


async def test_verify_rejects_a_checkpoint_signed_by_another_key(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    db = await _sealed_log(audit_config, log_key)
    rogue = Ed25519PrivateKey.generate()
    root = db.reader().root(30)
    note = cpmod.sign(cpmod.Checkpoint(audit_config.origin, 30, root), audit_config.origin, rogue)
    db.run("UPDATE checkpoints SET note = ? WHERE size = 30", note)
    report = verify_log(db.reader(), audit_config.origin, log_key.public_key())
    assert any("signature" in p for p in report.problems)


async def test_pinned_checkpoint_proves_append_only(audit_config: AuditConfig,
                                                    log_key: Ed25519PrivateKey) -> None:
    db = await _sealed_log(audit_config, log_key)
    pinned = db.reader().latest_checkpoint()
    assert pinned is not None
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    await fill(store, 5)
    await store.close()
    assert verify_log(db.reader(), audit_config.origin, log_key.public_key(),
                      [pinned[2]]).ok
    _edit_record(db)
    assert not verify_log(db.reader(), audit_config.origin, log_key.public_key(),
                          [pinned[2]]).ok


@pytest.mark.postgres
async def test_the_writer_reconnects_after_its_database_connection_is_killed(
        log_key: Ed25519PrivateKey) -> None:
    import psycopg
    from g2g_sdk.errors import AuditUnavailable

    from tests.pg import PG_BASE, pg_schema

    for dsn in pg_schema():
        config = AuditConfig(backend="postgres", dsn=dsn, checkpoint_every=10,
                             checkpoint_seconds=60, reconnect_seconds=0)
        store = await open_store(config, log_key=log_key, instance_id="test-1")
        waits = await open_store(replace(config, reconnect_seconds=3600), log_key=log_key,
                                 instance_id="test-2")
        other = await open_store(config, log_key=log_key, instance_id="test-3")
        try:
            await fill(store, 5)
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                for s in (store, waits):
                    admin.execute("SELECT pg_terminate_backend(%s)", (s._conn.info.backend_pid,))
            for s in (store, waits):
                with pytest.raises(AuditUnavailable):  # the batch on the dead connection
                    await s.append(event(5))
            with pytest.raises(AuditUnavailable):  # fails closed until its reconnect is due
                await waits.append(event(5))
            await fill(other, 7)  # meanwhile another process takes the next positions
            receipt = await store.append(event(6))  # due at once: reconnected, written
        finally:
            for s in (store, waits, other):
                await s.close()
        assert receipt.seq == 12
        report = verify_log(Db(config).reader(), config.origin, log_key.public_key())
        assert report.ok, report.problems
        assert report.size == 13


def test_a_failed_database_call_is_logged_by_type_and_code_never_its_text() -> None:
    import sqlite3

    from broker.audit.store import _db_error

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES ('Budi Santoso 1980-02-03')")
    with pytest.raises(sqlite3.IntegrityError) as info:
        conn.execute("INSERT INTO t VALUES ('Budi Santoso 1980-02-03')")
    fields = _db_error(info.value)
    assert (fields["error_type"], fields["code"]) == ("IntegrityError",
                                                      "SQLITE_CONSTRAINT_PRIMARYKEY")
    assert "Budi" not in str(fields)


@pytest.mark.postgres
def test_a_failed_postgres_call_is_logged_by_sqlstate() -> None:
    import psycopg

    from broker.audit.store import _db_error
    from tests.pg import pg_schema

    for dsn in pg_schema():
        with psycopg.connect(dsn, autocommit=True) as conn, \
                pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT * FROM no_such_table_budi")
        fields = _db_error(info.value)
        assert (fields["error_type"], fields["code"]) == ("UndefinedTable", "42P01")
        assert "budi" not in str(fields)


async def test_a_store_that_fails_to_open_leaves_no_connection_open(
        tmp_path: Path, log_key: Ed25519PrivateKey) -> None:
    from g2g_sdk.errors import AuditUnavailable

    path = tmp_path / "audit.db"
    (tmp_path / "audit.db.writer-lock").mkdir()  # the writers' lock file cannot be opened

    def open_on_log() -> list[str]:
        fds = Path("/proc/self/fd")
        return [t for t in (os.path.realpath(fds / n) for n in os.listdir(fds))
                if t.startswith(str(path))]

    with pytest.raises(AuditUnavailable, match="IsADirectoryError"):
        await open_store(AuditConfig(path=path), log_key=log_key, instance_id="t")
    assert open_on_log() == []


async def test_a_large_commit_group_is_written_whole_in_chunks(
        store: AuditStore, audit_config: AuditConfig) -> None:
    # One commit group of 100 records (the writer's own step, run directly so the
    # group is exactly this): numbered densely, tree and subject index consistent.
    sizes: list[int] = []
    store.on_commit = lambda n, _seconds: sizes.append(n)
    loop = asyncio.get_running_loop()
    batch = [_Pending(event(i), loop.create_future(), loop) for i in range(100)]
    await asyncio.to_thread(store._write, batch)
    receipts = [await p.future for p in batch]
    assert sizes == [100]
    assert [r.seq for r in receipts] == list(range(100))
    leaves = [encode(event(i), i, "test-1")[1] for i in range(100)]
    assert [r.leaf_hash for r in receipts] == leaves
    reader = Db(audit_config).reader()
    assert reader.size() == 100
    assert reader.root(100) == merkle.root_from_leaves(leaves)
    assert [r["seq"] for r in reader.query(Filters(subject="subject-1"))] == list(range(1, 100, 3))


def test_a_batch_takes_what_is_queued_and_waits_only_when_told() -> None:
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for item in ("b", "c"):
        pending.put(item)
    assert collect_batch(pending, "a", until=0.0) == (["a", "b", "c"], False)
    # A record arriving later joins the batch only while the writer waits for it
    # (group commit under load). The late producer is the scenario under test,
    # not a synchronisation: with `until` ahead the result does not depend on timing.
    late = threading.Timer(0.05, pending.put, args=("e",))
    late.start()
    assert collect_batch(pending, "d", until=0.0) == (["d"], False)
    late.join()
    late = threading.Timer(0.05, pending.put, args=("f",))
    late.start()
    assert collect_batch(pending, pending.get_nowait(), until=time.monotonic() + 60,
                         max_batch=2) == (["e", "f"], False)
    late.join()
    pending.put(STOP)
    pending.put("never")
    assert collect_batch(pending, "g", until=time.monotonic() + 60) == (["g"], True)
    assert collect_batch(pending, STOP, until=0.0) == ([], True)
