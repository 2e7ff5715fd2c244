"""Optional Prometheus metrics of a provider's gRPC server (`g2g-sdk[metrics]`).

`ProviderServer(..., metrics_listen="HOST:PORT")` serves them as plain HTTP
(`GET /metrics`); off by default. They are fed by the boundary interceptor's
call observer (g2g_sdk.boundary.CallObserver), so every unary call the
provider answers is counted by gRPC method, g2g service, status code and
ErrorInfo reason. Label values are bounded: methods are only those the server
registered, the service only one the provider routes (else "unknown"), and a
reason that is not an upper-case identifier is counted as "OTHER".
prometheus-client is imported only when metrics are asked for.
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Any

import grpc

from g2g_sdk.errors import ConfigError

OTHER = "OTHER"
UNKNOWN = "unknown"
_REASON = re.compile(r"[A-Z][A-Z0-9_]{0,47}")

_SERVICE: contextvars.ContextVar[str] = contextvars.ContextVar("g2g_provider_service",
                                                               default=UNKNOWN)


def bounded_reason(reason: str) -> str:
    """`reason` as a metric label: itself if an upper-case identifier, else OTHER."""
    return reason if _REASON.fullmatch(reason) else OTHER


def routed(service: str) -> None:
    """Record, for the call being handled, the g2g service it was routed to."""
    _SERVICE.set(service)


class ProviderMetrics:
    """A provider's call counter and latency histogram in their own registry, served on
    `listen` by `start` (a prometheus-client HTTP server thread)."""

    def __init__(self, listen: str) -> None:
        try:
            import prometheus_client
        except ImportError:
            raise ConfigError("metrics_listen needs prometheus-client: "
                              "pip install 'g2g-sdk[metrics]'") from None
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"metrics_listen is HOST:PORT, got {listen!r}")
        self._prometheus: Any = prometheus_client
        self._host, self._port = host.strip("[]"), int(port)
        self.registry = prometheus_client.CollectorRegistry()
        self.calls = prometheus_client.Counter(
            "g2g_provider_calls", "unary calls answered by this provider",
            ("method", "service", "code", "reason"), registry=self.registry)
        self.seconds = prometheus_client.Histogram(
            "g2g_provider_call_duration_seconds", "time to answer a unary call",
            ("method",), registry=self.registry)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def __call__(self, method: str, code: grpc.StatusCode, reason: str,
                 seconds: float) -> None:
        """A unary call finished (g2g_sdk.boundary.CallObserver)."""
        service = _SERVICE.get()
        self.calls.labels(method, service, code.name,
                         bounded_reason(reason) if reason else "").inc()
        self.seconds.labels(method).observe(seconds)

    def start(self) -> int:
        """Serve GET /metrics on the configured address; returns the bound port."""
        self._server, self._thread = self._prometheus.start_http_server(
            self._port, self._host, registry=self.registry)
        self.port = int(self._server.server_port)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(5)
            self._server = None
