"""The operations port: plain HTTP for Prometheus and load balancers, nothing else.

    GET /metrics  Prometheus text exposition
    GET /healthz  200 "ok" while the process runs its event loop
    GET /readyz   200 "ready", or 503 with one line per failing check

It serves no exchange data and takes no commands (draining is a signal), so it
needs no TLS; bind it to an interface only monitoring can reach. Requests are
bounded: a header section of at most 8 KiB read within 5 s, one request per
connection, GET and HEAD only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

log = structlog.get_logger("g2g.ops")

MAX_HEADER_BYTES = 8 << 10
READ_TIMEOUT = 5.0

Metrics = Callable[[], bytes]
"""The current Prometheus exposition text."""
Readiness = Callable[[], list[str]]
"""The checks that fail now (empty: ready)."""


@dataclass
class OpsPort:
    """A started operations port; `port` is the bound port (port 0 picks one)."""

    server: asyncio.Server
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_ops_port(listen: str, metrics: Metrics, readiness: Readiness) -> OpsPort:
    """Serve /metrics, /healthz and /readyz on `listen` ("host:port")."""
    host, _, port = listen.rpartition(":")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status, ctype, body = _route(head, metrics, readiness)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            writer.close()
            return
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + (b"" if head.startswith(b"HEAD ") else body))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host.strip("[]") or None, int(port),
                                        limit=MAX_HEADER_BYTES)
    bound = server.sockets[0].getsockname()[1]
    log.info("ops_port_started", port=bound)
    return OpsPort(server=server, port=bound)


def _route(head: bytes, metrics: Metrics, readiness: Readiness) -> tuple[str, str, bytes]:
    """(status line, content type, body) for one request head."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or parts[0] not in (b"GET", b"HEAD"):
        return "405 Method Not Allowed", "text/plain", b"GET or HEAD only\n"
    path = parts[1].split(b"?", 1)[0]
    if path == b"/metrics":
        return "200 OK", CONTENT_TYPE_LATEST, metrics()
    if path == b"/healthz":
        return "200 OK", "text/plain", b"ok\n"
    if path == b"/readyz":
        failing = readiness()
        if failing:
            return ("503 Service Unavailable", "text/plain",
                    "".join(f"{check}\n" for check in failing).encode())
        return "200 OK", "text/plain", b"ready\n"
    return "404 Not Found", "text/plain", b"not found\n"
