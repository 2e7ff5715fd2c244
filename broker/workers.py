"""`--workers N`: N broker processes on one port (SO_REUSEPORT) under one supervising parent.

The parent serves nothing and holds no keys. It reserves the port (a bound,
never listening SO_REUSEPORT socket, so port 0 works and a restarted worker
gets the same port back), starts the workers (`g2g broker serve --worker I`),
forwards SIGHUP to every worker (policy reload) and on SIGTERM/SIGINT stops
them; each drains its calls and seals the audit log. Workers share one audit
store, which serialises their commits and holds the shared replay claims and
rate-limit counters (broker/audit/store.py).

Failure policy: a worker that fails during start-up fails the whole broker.
A worker that dies later is restarted (the audit store is transactional, so
nothing it acknowledged is lost and no claim is forgotten) unless workers
died more than MAX_RESTARTS times within RESTART_WINDOW seconds; then the
broker stops with exit 1 rather than flap (fail closed). A worker exits when
its stdin (a pipe from the parent) closes, so none outlives a killed parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from g2g_sdk.errors import ConfigError, G2GError, StartupError
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

log = structlog.get_logger("g2g.broker")

MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
STOP_TIMEOUT = 30.0
START_TIMEOUT = 60.0  # above the store's own bounds: PostgreSQL connect 10 s, SQLite busy 30 s
READY = b"ready\n"


def worker_instance_id(instance_id: str, index: int) -> str:
    """The instance id a worker writes into its audit records (which process did it)."""
    return f"{instance_id}/w{index}"


def split_listen(listen: str) -> tuple[str, int]:
    """("host", port) of a "host:port" or "[v6]:port" listen address."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"listen address {listen!r} is not host:port")
    return host.strip("[]"), int(port)


def reserve_port(listen: str) -> tuple[socket.socket, str]:
    """Bind (never listen) an SO_REUSEPORT socket on `listen`; returns it and the address.

    A bound socket that does not listen receives no connections; it only keeps
    the port ours while workers come and go, and resolves port 0 once for all.
    """
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:
        # SO_REUSEPORT would let us share the port with any other listener of this
        # user (a stale broker, say): refuse a port someone already listens on.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _bind(probe, host, port, listen)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        _bind(sock, host, port, listen)
    except G2GError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    return sock, f"[{host}]:{bound}" if family == socket.AF_INET6 else f"{host}:{bound}"


def _bind(sock: socket.socket, host: str, port: int, listen: str) -> None:
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise StartupError(f"could not bind {listen}: {exc.strerror}",
                           reason="BIND_FAILED") from None


@dataclass
class RestartBudget:
    """At most `limit` restarts within any `window` seconds; past that, stop (fail closed)."""

    limit: int = MAX_RESTARTS
    window: float = RESTART_WINDOW
    _deaths: deque[float] = field(default_factory=deque)

    def allow(self, now: float) -> bool:
        """Count a death at `now` (monotonic seconds); may the worker be restarted?"""
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.window:
            self._deaths.popleft()
        return len(self._deaths) <= self.limit

    @property
    def recent(self) -> int:
        return len(self._deaths)


@dataclass
class _Worker:
    index: int
    argv: list[str]
    process: asyncio.subprocess.Process | None = None


@dataclass
class Supervisor:
    """Starts, restarts and stops the workers; see the module docstring for the policy."""

    config_path: Path
    listen: str
    workers: int
    log_level: str = "INFO"
    start_timeout: float = START_TIMEOUT
    _workers: list[_Worker] = field(default_factory=list)
    _budget: RestartBudget = field(default_factory=RestartBudget)

    metrics_dir: str = ""  # PROMETHEUS_MULTIPROC_DIR of this broker run, if any
    stopping: bool = False

    def _argv(self, index: int) -> list[str]:
        return [sys.executable, "-m", "g2g_cli.main", "broker", "serve",
                "--config", str(self.config_path), "--listen", self.listen,
                "--log-level", self.log_level, "--workers", str(self.workers),
                "--worker", str(index)]

    async def _start(self, worker: _Worker) -> None:
        """Start one worker and wait until it serves; raise if it dies first."""
        if worker.process is not None and self.metrics_dir:
            # Its live gauges leave the merged view; its counters stay counted.
            multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
                worker.process.pid, self.metrics_dir)
        env = ({**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
               if self.metrics_dir else None)
        worker.process = await asyncio.create_subprocess_exec(
            *worker.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=env)
        assert worker.process.stdout is not None
        try:
            line = await asyncio.wait_for(worker.process.stdout.readline(), self.start_timeout)
        except TimeoutError:
            # A worker stuck in start-up (a database that never answers) must not hold
            # the supervisor, and with it SIGTERM, hostage.
            worker.process.kill()
            await worker.process.wait()
            raise StartupError(f"broker worker {worker.index} did not report ready within "
                               f"{self.start_timeout:g} s", reason="WORKER_FAILED") from None
        if line != READY:
            code = await worker.process.wait()
            raise StartupError(f"broker worker {worker.index} exited with {code} during start-up",
                               reason="WORKER_FAILED")

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process]

    def signal_all(self, sig: signal.Signals) -> None:
        for worker in self._workers:
            if worker.process and worker.process.returncode is None:
                worker.process.send_signal(sig)

    async def run(self, stop: asyncio.Event) -> int:
        """Start every worker, supervise until `stop`, then stop them; the exit code."""
        self._workers = [_Worker(i, self._argv(i)) for i in range(self.workers)]
        try:
            # The first worker alone creates a new store's schema (SQLite cannot switch a
            # fresh file to WAL from two processes at once); the rest then start together.
            await self._start(self._workers[0])
            await asyncio.gather(*(self._start(w) for w in self._workers[1:]))
        except G2GError:
            await self._stop_all()
            raise
        log.info("broker_started", port=split_listen(self.listen)[1], workers=self.workers,
                 pids=self.pids())
        code = await self._watch(stop)
        return max(code, await self._stop_all())

    async def _watch(self, stop: asyncio.Event) -> int:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                exits = {asyncio.ensure_future(w.process.wait()): w
                         for w in self._workers if w.process}
                done, _ = await asyncio.wait([stopper, *exits],
                                             return_when=asyncio.FIRST_COMPLETED)
                for task in exits:
                    task.cancel()
                if stop.is_set():  # workers stopping on our signal (or Ctrl-C) are not crashes
                    return 0
                for task in done:
                    worker = exits[task]
                    if not await self._restart(worker, task.result()):
                        return 1
        finally:
            stopper.cancel()

    async def _restart(self, worker: _Worker, code: int) -> bool:
        allowed = self._budget.allow(time.monotonic())
        log.error("worker_exited", worker=worker.index, code=code,
                  deaths_in_window=self._budget.recent)
        if not allowed:
            log.error("broker_failed", reason="workers keep dying; stopping (fail closed)")
            return False
        try:
            await self._start(worker)
        except G2GError as exc:
            log.error("broker_failed", reason=exc.message)
            return False
        log.info("worker_restarted", worker=worker.index, pid=worker.process.pid
                 if worker.process else None)
        return True

    def exposition(self) -> bytes:
        """Every worker's metrics merged (prometheus-client multiprocess mode)."""
        return generate_latest(self._collector())

    def readiness(self) -> list[str]:
        """Ready while not stopping and every live worker reports itself ready."""
        if self.stopping:
            return ["draining"]
        for metric in self._collector().collect():
            if metric.name == "g2g_ready":
                if any(sample.value == 1 for sample in metric.samples):
                    return []
                break
        return ["a worker is not ready"]

    def _collector(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=self.metrics_dir)
        return registry

    async def _stop_all(self) -> int:
        """SIGTERM every live worker and wait (bounded); worst exit code, 0 if all clean."""
        self.stopping = True
        self.signal_all(signal.SIGTERM)
        code = 0
        for worker in self._workers:
            process = worker.process
            if process is None:
                continue
            try:
                result = await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("worker_stop_timeout", worker=worker.index)
                process.kill()
                result = await process.wait()
            code = max(code, 1 if result else 0)
        return code


async def supervise(config_path: Path, listen: str, workers: int, log_level: str,
                    ops_listen: str = "") -> int:
    """Run `workers` broker processes on `listen` until SIGINT/SIGTERM; the exit code.

    With `ops_listen` the supervisor serves the operations port for all of them:
    /metrics merges every worker's values, /readyz is 200 while all are ready.
    """
    from broker.opsport import start_ops_port

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reservation, address = reserve_port(listen)
    with tempfile.TemporaryDirectory(prefix="g2g-metrics-") as metrics_dir:
        supervisor = Supervisor(config_path, address, workers, log_level,
                                metrics_dir=metrics_dir)
        loop.add_signal_handler(signal.SIGHUP, supervisor.signal_all, signal.SIGHUP)
        ops = (await start_ops_port(ops_listen, supervisor.exposition, supervisor.readiness)
               if ops_listen else None)
        try:
            return await supervisor.run(stop)
        finally:
            reservation.close()
            if ops is not None:
                await ops.close()


async def parent_gone(stop: asyncio.Event) -> None:
    """In a worker: set `stop` when the parent's pipe on stdin closes (it stopped or died)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    with contextlib.suppress(ConnectionError):
        await reader.read()
    stop.set()
