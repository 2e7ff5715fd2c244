"""Logging: a logger cached on first use follows later swaps of sys.stderr."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from g2g_sdk.logs import configure


def test_a_cached_logger_writes_to_the_stderr_of_the_moment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure("INFO")
    log = structlog.get_logger("g2g.test")
    log.info("before", n=1)  # caches the logger with the stream of the moment
    monkeypatch.setattr("sys.stderr", second)
    log.info("after", n=2)
    assert [json.loads(line)["event"] for line in first.getvalue().splitlines()] == ["before"]
    assert [json.loads(line)["event"] for line in second.getvalue().splitlines()] == ["after"]


def test_a_grpc_core_line_becomes_one_json_event_and_json_passes_unchanged() -> None:
    from g2g_sdk.logs import native_event

    event = json.loads(native_event(
        "E1201 23:21:53.652022   29424 add_port.cc:83] Failed to add port to server\n"))
    assert (event["event"], event["level"], event["source"], event["message"]) == (
        "native_log", "error", "add_port.cc:83", "Failed to add port to server")
    assert json.loads(native_event("Traceback (most recent call last):"))["level"] == "info"
    line = '{"event": "broker_started", "port": 1}'
    assert native_event(line + "\n") == line


_NOISY_SERVER = """
import asyncio, socket, sys, warnings
from pathlib import Path
import grpc
from g2g_sdk import logs, pki, tls

logs.configure("INFO")
logs.json_stderr()

async def main() -> None:
    server = grpc.aio.server()
    identity = pki.load_identity(Path(sys.argv[1]), "broker")
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(identity))
    await server.start()
    with socket.create_connection(("127.0.0.1", port)) as plain:  # not TLS: grpc-core logs
        plain.sendall(b"GET / HTTP/1.1\\r\\n\\r\\n")
        plain.recv(100)
    print("a plain line on stderr", file=sys.stderr)
    warnings.warn("a warning", RuntimeWarning, stacklevel=1)
    await server.stop(0)
    raise ValueError("Budi Santoso 1980-01-01")  # a traceback that would quote data

asyncio.run(main())
"""


def test_every_stderr_line_of_a_server_is_json_even_grpc_core_and_tracebacks(
        pki_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _NOISY_SERVER, str(pki_dir)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    events = [json.loads(line) for line in done.stderr.splitlines()]  # every line parses
    names = [e["event"] for e in events]
    assert "native_log" in names  # gRPC's C core (the refused TLS handshake)
    assert names[-1] == "uncaught_exception"
    assert (events[-1]["error_type"], events[-1]["level"]) == ("ValueError", "critical")
    assert any(e.get("message") == "a plain line on stderr" for e in events)
    assert any(e.get("logger") == "py.warnings" for e in events)
    assert "Budi" not in done.stderr
