"""A `--workers 2` broker: one coherent /metrics and /readyz from the supervisor; drain CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from tests.e2e.test_operations import http_get, scrape, value
from tests.e2e.test_workers import MultiBroker, Start, start_brokers  # noqa: F401 (fixture)

pytestmark = pytest.mark.asyncio
SCREEN = "g2g.immigration.v1.Watchlist/Screen"


async def _ready(port: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while (await http_get(port, "/readyz"))[0] != 200:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)  # polling a condition with a deadline (workers sample 1/s)


async def test_the_supervisor_serves_every_workers_metrics_and_drains_on_the_cli(
        start_brokers: Start) -> None:  # noqa: F811 (the imported fixture)
    broker: MultiBroker = await start_brokers()
    ops_port = broker.proc.wait_event("ops_port_started")["port"]
    await _ready(ops_port)
    sent = 6
    for _ in range(sent):  # fresh connections: the kernel spreads them over the workers
        assert await broker.send_fresh(broker.build()) is None
    samples = await scrape(ops_port)
    assert value(samples, "g2g_exchanges_total", consumer="ID/GOV/POLRI",
                 provider="ID/GOV/IMIGRASI", service=SCREEN, code="OK", reason="") == sent
    assert value(samples, "g2g_exchange_duration_seconds_count", service=SCREEN,
                 code="OK") == sent
    drained = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "g2g_cli.main", "broker", "drain", "--pid",
        str(broker.proc.popen.pid), "--timeout", "30"], capture_output=True, text=True,
        check=False)
    assert drained.returncode == 0, drained.stderr
    assert broker.proc.popen.wait(5) == 0
    stopping = [e for e in broker.proc.events if e.get("event") == "broker_draining"]
    assert len(stopping) == 2  # each worker drained
    report = broker.verify()  # the log was sealed: it verifies to its last checkpoint
    assert report.ok, report
