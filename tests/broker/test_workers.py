"""The supervisor's port reservation and listen-address parsing (real sockets, no workers)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from g2g_sdk.errors import ConfigError, StartupError

from broker.workers import (
    RestartBudget,
    Supervisor,
    _Worker,
    reserve_port,
    split_listen,
    worker_instance_id,
)


def test_split_listen() -> None:
    assert split_listen("127.0.0.1:7443") == ("127.0.0.1", 7443)
    assert split_listen("[::1]:0") == ("::1", 0)
    for bad in ("127.0.0.1", "host:port", ":"):
        with pytest.raises(ConfigError):
            split_listen(bad)


def test_port_zero_is_resolved_once_and_shareable_by_workers() -> None:
    reservation, address = reserve_port("127.0.0.1:0")
    try:
        host, port = split_listen(address)
        assert (host, port != 0) == ("127.0.0.1", True)
        # What a worker does (gRPC with grpc.so_reuseport): bind the same port and listen.
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind((host, port))
            worker.listen()
    finally:
        reservation.close()


def test_a_port_another_process_listens_on_is_refused_even_with_reuseport() -> None:
    with socket.socket() as stale:  # e.g. a broker still running from before
        stale.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        stale.bind(("127.0.0.1", 0))
        stale.listen()
        port = stale.getsockname()[1]
        with pytest.raises(StartupError) as info:
            reserve_port(f"127.0.0.1:{port}")
        assert info.value.reason == "BIND_FAILED"


def test_each_worker_names_itself_in_the_audit_log() -> None:
    assert worker_instance_id("broker-1", 1) == "broker-1/w1"


def test_restart_budget_stops_a_crash_loop_and_recovers_after_the_window() -> None:
    budget = RestartBudget(limit=2, window=60.0)
    assert budget.allow(0.0)
    assert budget.allow(10.0)
    assert not budget.allow(20.0)  # a third death within 60 s: stop the broker
    budget = RestartBudget(limit=2, window=60.0)
    assert budget.allow(0.0)
    assert budget.allow(10.0)
    assert budget.allow(61.0)  # the first death has left the window
    assert budget.recent == 2


async def test_a_worker_that_never_reports_ready_is_killed_and_fails_start_up(
        tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "broker.yaml", "127.0.0.1:0", 1, start_timeout=0.5)
    # Reads its stdin (the parent's pipe) forever and never says "ready".
    stuck = _Worker(0, [sys.executable, "-c", "import sys; sys.stdin.read()"])
    with pytest.raises(StartupError) as info:
        await supervisor._start(stuck)
    assert (info.value.reason, info.value.message) == (
        "WORKER_FAILED", "broker worker 0 did not report ready within 0.5 s")
    assert stuck.process is not None
    assert stuck.process.returncode is not None  # killed, not left behind
