"""`g2g broker serve --workers 2`: real processes on one port, real mTLS, one audit store.

Which worker serves a connection is the kernel's choice (SO_REUSEPORT hashes
the connection), so tests open fresh connections until the audit log shows
both workers at work (each record names its worker's instance id), bounded
by a number of attempts, never by time. The last test loses the shared
store (PostgreSQL) under a running broker: requests must fail closed.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
import pytest
from g2g_sdk import ConsumerClient, envelope, keys, pki, tls
from g2g_sdk._gen.g2g.v1 import broker_pb2_grpc, envelope_pb2
from g2g_sdk.errors import G2GError
from g2g_sdk.registry import load_registry

from agency_adapters.runner import start_adapter
from bench.__main__ import PY, REGISTRY, Proc, _federation_files, _spawn
from broker.audit.dialect import dialect_for
from broker.audit.log import Filters, LogReader
from broker.audit.verify import Report, verify_log
from broker.config import load_config
from g2g_harness.federation import start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query
from tests.pg import PG_BASE, pg_schema

WORKERS = ("bench-1/w0", "bench-1/w1")
ATTEMPTS = 48  # fresh connections before giving up on reaching both workers (2^-47)
POLICY = "imigrasi-watchlist.yaml"
SENDERS = 8


@dataclass
class MultiBroker:
    proc: Proc
    port: int
    pids: list[int]
    config: Path
    work: Path
    pki_dir: Path

    def client(self) -> ConsumerClient:
        """A client on its own, fresh connection (the kernel picks its worker)."""
        registry = load_registry(self.work / "agencies.yaml", self.pki_dir)
        return ConsumerClient(pki.load_identity(self.pki_dir, POLRI), registry,
                              broker_endpoint=f"127.0.0.1:{self.port}")

    def build(self) -> envelope_pb2.Envelope:
        """A fresh signed screening request (signing needs no connection)."""
        return self.client().build(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)

    async def send_fresh(self, env: envelope_pb2.Envelope) -> G2GError | None:
        """Send `env` on a fresh connection; the error, or None on success."""
        async with self.client() as client:
            try:
                await client.send(env)
            except G2GError as exc:
                return exc
        return None

    def verify(self) -> Report:
        """Recompute the whole log and check its checkpoints (as `g2g audit verify`)."""
        config = load_config(self.config)
        dialect = dialect_for(config.audit)
        conn = dialect.connect()
        try:
            return verify_log(LogReader(dialect, conn), config.audit.origin,
                              keys.load_public_key(self.pki_dir / "broker" / "log.pub"))
        finally:
            conn.close()

    def records(self, **filters: str) -> list[dict[str, object]]:
        config = load_config(self.config)
        dialect = dialect_for(config.audit)
        conn = dialect.connect()
        try:
            return LogReader(dialect, conn).query(Filters(limit=1_000_000, **filters))
        finally:
            conn.close()


Start = Callable[..., Awaitable[MultiBroker]]


@pytest.fixture
async def start_brokers(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Start]:
    """Factory: the immigration adapter in this process, a 2-worker broker process tree."""
    with ExitStack() as stack:
        servers = []

        async def start(per_minute: int | None = None) -> MultiBroker:
            (tmp_path / "pki").symlink_to(pki_dir)
            adapters = await start_adapter("immigration", load_registry(REGISTRY, pki_dir),
                                           pki_dir, listen="127.0.0.1:0")
            servers.extend(server for server, _ in adapters.values())
            audit = f"  backend: sqlite\n  path: {tmp_path / 'audit.db'}\n"
            config = _federation_files(tmp_path, {a: p for a, (_, p) in adapters.items()},
                                       audit)
            if per_minute is not None:
                policy = tmp_path / "policies" / POLICY
                policy.write_text(re.sub(r"per_minute: \d+", f"per_minute: {per_minute}",
                                         policy.read_text(), count=1))
            proc = stack.enter_context(_spawn("broker", [
                PY, "-m", "g2g_cli.main", "broker", "serve", "--config", str(config),
                "--workers", "2"]))
            started = proc.wait_event("broker_started")
            return MultiBroker(proc, started["port"], started["pids"], config, tmp_path,
                               pki_dir)

        try:
            yield start
        finally:
            for server in servers:
                await server.stop(0)


def by_worker(records: list[dict[str, object]]) -> dict[object, list[dict[str, object]]]:
    out: dict[object, list[dict[str, object]]] = {}
    for r in records:
        out.setdefault(r["instance_id"], []).append(r)
    return out


def worker_of(broker: MultiBroker, env: envelope_pb2.Envelope) -> str:
    """The instance id of the worker whose first record names this envelope's message."""
    records = broker.records(message_id=envelope.parse_header(env).message_id)
    return str(records[0]["instance_id"])


async def test_an_envelope_replayed_to_the_other_worker_is_refused_and_audited(
        start_brokers: Start) -> None:
    broker = await start_brokers()
    env = broker.build()
    assert await broker.send_fresh(env) is None
    message_id = envelope.parse_header(env).message_id
    served_by = worker_of(broker, env)
    elsewhere: list[dict[str, object]] = []
    for _ in range(ATTEMPTS):
        error = await broker.send_fresh(env)
        assert error is not None
        assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "REPLAYED")
        elsewhere = [r for r in broker.records(message_id=message_id, kind="rejected")
                     if r["instance_id"] != served_by]
        if elsewhere:
            break
    assert elsewhere, f"no connection reached the other worker in {ATTEMPTS} attempts"
    assert (elsewhere[0]["status_code"], elsewhere[0]["reason"]) == ("ALREADY_EXISTS", "REPLAYED")
    # Forwarded exactly once: one request record and one outcome, both by the first worker.
    forwarded = [(r["kind"], r["instance_id"]) for r in broker.records(message_id=message_id)
                 if r["kind"] != "rejected"]
    assert sorted(forwarded) == [("outcome", served_by), ("request", served_by)]


async def test_a_rate_limit_across_two_workers_admits_exactly_the_limit(
        start_brokers: Start) -> None:
    limit = 5
    broker = await start_brokers(per_minute=limit)
    attempts: list[tuple[int, str, bool]] = []  # (minute window, worker, admitted)
    for _ in range(ATTEMPTS):
        env = broker.build()
        error = await broker.send_fresh(env)
        if error is not None:
            assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                  "RATE_LIMITED")
            assert error.metadata["limit"] == "per_minute"
        [first, *_] = broker.records(message_id=envelope.parse_header(env).message_id)
        # The record's time is the decision's clock: it fixes the window counted against.
        when = datetime.fromisoformat(str(first["time"]).replace("Z", "+00:00"))
        attempts.append((int(when.timestamp()) // 60, str(first["instance_id"]), error is None))
        served = [sum(1 for _, w, _ in attempts if w == worker) for worker in WORKERS]
        if len(attempts) >= 3 * limit and min(served) >= limit:
            break
    assert min(served) >= limit, f"one worker got too few of {len(attempts)} attempts"
    for window in sorted({w for w, _, _ in attempts}):
        admitted = [ok for w, _, ok in attempts if w == window]
        # Across both workers, the first `limit` in each window pass and no more.
        assert admitted == [True] * min(limit, len(admitted)) + [False] * (len(admitted) - limit)


async def test_sighup_reloads_the_policy_in_every_worker(start_brokers: Start) -> None:
    broker = await start_brokers()
    policy = broker.work / "policies" / POLICY
    text = policy.read_text()
    narrowed = text.replace("purposes: [border_control, criminal_investigation]",
                            "purposes: [border_control]", 1)
    assert narrowed != text
    # Swapped in whole, as an administrator's deploy does: a worker's 2 s poll must
    # never read a half-written file and count a reload of its own.
    staged = policy.with_suffix(".staged")
    staged.write_text(narrowed)
    staged.replace(policy)
    broker.proc.popen.send_signal(signal.SIGHUP)
    reloaded = broker.proc.wait_events("policy_reloaded", 2)
    assert sorted(e["worker"] for e in reloaded) == [0, 1]
    denied_by: set[str] = set()
    for _ in range(ATTEMPTS):
        env = broker.build()
        error = await broker.send_fresh(env)
        assert error is not None
        assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
        denied_by.add(worker_of(broker, env))
        if len(denied_by) == 2:
            break
    assert denied_by == set(WORKERS)


async def test_sighup_reloads_the_registry_in_every_worker(start_brokers: Start) -> None:
    broker = await start_brokers()
    registry = broker.work / "agencies.yaml"
    polri = keys.public_to_b64(keys.load_public_key(
        broker.pki_dir / "agencies" / "id-gov-polri" / "signing.pub"))
    text = registry.read_text()
    # POLRI's key is revoked in the registry: every worker must refuse its signatures.
    changed = re.sub(r"\n( +)name: Indonesian National Police \(Polri\)\n",
                     lambda m: f"{m.group(0)}{m.group(1)}signing_keys: [{{public_key: {polri}, "
                               "revoked_at: '2026-01-01T00:00:00Z'}]\n",
                     text, count=1)
    assert changed != text
    staged = registry.with_suffix(".staged")
    staged.write_text(changed)
    staged.replace(registry)
    broker.proc.popen.send_signal(signal.SIGHUP)
    reloaded = broker.proc.wait_events("registry_reloaded", 2)
    assert sorted(e["worker"] for e in reloaded) == [0, 1]
    assert len({e["version"] for e in reloaded}) == 1
    refused_by: set[str] = set()
    for _ in range(ATTEMPTS):
        env = broker.build()
        error = await broker.send_fresh(env)
        assert error is not None
        assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "KEY_REVOKED")
        refused_by.add(worker_of(broker, env))
        (record,) = broker.records(message_id=envelope.parse_header(env).message_id)
        assert record["registry_version"] == reloaded[0]["version"]
        if len(refused_by) == 2:
            break
    assert refused_by == set(WORKERS)


async def test_a_killed_worker_is_restarted_and_the_log_is_sealed_on_stop(
        start_brokers: Start) -> None:
    broker = await start_brokers()
    os.kill(broker.pids[0], signal.SIGKILL)
    restarted = broker.proc.wait_event("worker_restarted")
    assert restarted["worker"] == 0
    assert restarted["pid"] not in broker.pids
    served_by: set[str] = set()
    for _ in range(ATTEMPTS):
        env = broker.build()
        assert await broker.send_fresh(env) is None
        served_by.add(worker_of(broker, env))
        if len(served_by) == 2:
            break
    assert served_by == set(WORKERS)
    broker.proc.popen.send_signal(signal.SIGTERM)
    assert broker.proc.popen.wait(30) == 0
    report = broker.verify()
    assert report.ok, report.problems
    assert report.unsigned_tail == 0


@pytest.mark.postgres
async def test_requests_fail_closed_when_the_shared_store_is_lost(
        tmp_path: Path, pki_dir: Path) -> None:
    import psycopg

    name = f"g2g-test-{os.getpid()}-{id(tmp_path)}"
    for schema_dsn in pg_schema():
        # Named, so that only this store's connections are cut.
        dsn = f"{schema_dsn}&application_name={name}"
        config = write_config(tmp_path, pki_dir=pki_dir,
                              audit_yaml=f"  backend: postgres\n  dsn: {dsn}\n")
        federation = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config,
                                            adapters=("immigration",))
        try:
            client = federation.client(POLRI)
            await client.call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (name,)).fetchall()
            assert killed  # the store's writer connection is gone
            for _ in range(2):  # refused, and still serving
                await expect_error(
                    client.call(SCREEN, name_query("Budi Santoso"),
                                purpose="criminal_investigation", legal_basis=LEGAL_BASIS),
                    grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
        finally:
            await federation.stop()


async def test_a_worker_failing_at_start_up_fails_the_whole_broker(
        tmp_path: Path, pki_dir: Path) -> None:
    (tmp_path / "pki").symlink_to(pki_dir)
    config = _federation_files(tmp_path, {}, f"  backend: sqlite\n  path: {tmp_path / 'a.db'}\n")
    (tmp_path / "policies" / POLICY).write_text("rules: [")  # unparseable: workers refuse it
    with _spawn("broker", [PY, "-m", "g2g_cli.main", "broker", "serve", "--config",
                           str(config), "--workers", "2"]) as proc:
        assert proc.popen.wait(60) == 1
    assert not any(e.get("event") == "broker_started" for e in proc.events)


@pytest.mark.slow
async def test_sigkill_of_a_worker_under_load_loses_no_acknowledged_exchange(
        start_brokers: Start) -> None:
    broker = await start_brokers()
    signer = broker.client()
    identity = pki.load_identity(broker.pki_dir, POLRI)
    # One connection per sender (a local subchannel pool each), so both workers get load.
    channels = [grpc.aio.secure_channel(f"127.0.0.1:{broker.port}",
                                        tls.channel_credentials(identity),
                                        options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(SENDERS)]
    acknowledged: list[str] = []
    victim: list[int] = []
    target: list[int] = []
    enough = asyncio.Event()

    async def sender(channel: grpc.aio.Channel) -> None:
        stub = broker_pb2_grpc.ExchangeStub(channel)
        while not enough.is_set():
            env = broker.build()
            try:
                signer.verify(env, await stub.Call(env, timeout=10))
            except (grpc.aio.AioRpcError, G2GError):
                continue  # its worker was killed under it: not acknowledged
            acknowledged.append(envelope.parse_header(env).message_id)
            if target and len(acknowledged) >= target[0]:
                enough.set()  # 40 more answered after the restart
            if len(acknowledged) == 20:
                # Kill the worker that served this exchange: it is certainly under load.
                index = int(worker_of(broker, env).rsplit("w", 1)[1])
                victim.append(broker.pids[index])
                os.kill(broker.pids[index], signal.SIGKILL)

    async def until_restarted_and_more() -> None:
        await asyncio.to_thread(broker.proc.wait_event, "worker_restarted")
        target.append(len(acknowledged) + 40)

    try:
        await asyncio.gather(until_restarted_and_more(), *(sender(c) for c in channels))
    finally:
        for channel in channels:
            await channel.close()
        await signer.close()
    assert victim
    broker.proc.popen.send_signal(signal.SIGTERM)
    assert broker.proc.popen.wait(30) == 0
    kinds: dict[str, set[str]] = {}
    for record in broker.records():
        kinds.setdefault(str(record["message_id"]), set()).add(str(record["kind"]))
    missing = [m for m in acknowledged if kinds.get(m) != {"request", "outcome"}]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged exchanges lack records"
    report = broker.verify()
    assert report.ok, report.problems
