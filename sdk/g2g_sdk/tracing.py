"""OpenTelemetry tracing across consumer → broker → provider (optional in the SDK).

W3C trace context (`traceparent`, `tracestate`) travels in gRPC metadata: the
consumer and the broker's forwarding inject it (`outgoing()`), every g2g
server's boundary interceptor continues it (`server_span`). Spans carry ids,
codes and the correlation id, never payloads or personal data. Without the
`opentelemetry-api` package (extra `g2g-sdk[tracing]`) every function here
does nothing; with it but no tracer provider configured, the API's no-op
tracer makes spans free. Exporting (OTLP) is the application's choice: the
broker's `tracing:` configuration section, off by default.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - the SDK without its tracing extra
    trace = None  # type: ignore[assignment]

_TRACER = "g2g"
# One (proxy) tracer for the process: it follows a tracer provider set later, and
# looking it up per span cost more than the no-op span itself.
_tracer = trace.get_tracer(_TRACER) if trace is not None else None


def outgoing() -> list[tuple[str, str]]:
    """gRPC metadata carrying the current trace context (empty without one)."""
    if trace is None:
        return []
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return list(carrier.items())


@contextlib.contextmanager
def client_span(name: str, **attributes: str) -> Iterator[None]:
    """A CLIENT span around an outgoing call (its context goes out via `outgoing()`)."""
    if trace is None:
        yield
        return
    assert _tracer is not None
    with _tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def spans_server(metadata: Sequence[tuple[str, Any]] | None) -> bool:
    """Whether `server_span` would open a span for a call with this metadata (when it
    would not, it yields None: a caller may then skip it)."""
    if trace is None:
        return False
    return _propagating(_carrier(metadata))


def _carrier(metadata: Sequence[tuple[str, Any]] | None) -> dict[str, str]:
    return {key: value for key, value in metadata or () if isinstance(value, str)}


@contextlib.contextmanager
def server_span(method: str, metadata: Sequence[tuple[str, Any]] | None) -> Iterator[Any]:
    """A SERVER span for one incoming call, continuing the caller's trace if it sent one."""
    if trace is None:
        yield None
        return
    carrier = _carrier(metadata)
    if not _propagating(carrier):
        yield None  # no tracer and no caller's trace: every span would be a no-op
        return
    parent = propagate.extract(carrier)
    assert _tracer is not None
    with _tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": method},
            record_exception=False, set_status_on_exception=False) as span:
        yield span


def _propagating(carrier: dict[str, str]) -> bool:
    """Whether a server span can matter: a tracer provider is set, or the caller sent a
    trace context (passed on to the provider even by a broker that records nothing)."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    return any(key in carrier for key in _fields(propagate.get_global_textmap()))


# The global textmap last asked about and the keys it reads (one pair, replaced whole).
_textmap_fields: list[tuple[object, frozenset[str]]] = [(None, frozenset())]


def _fields(textmap: Any) -> frozenset[str]:
    """The metadata keys `textmap` reads, asked once per textmap (a composite
    propagator builds a new set of them on every read, for every call)."""
    known, fields = _textmap_fields[0]
    if known is not textmap:
        fields = frozenset(textmap.fields)
        _textmap_fields[0] = (textmap, fields)
    return fields


def finish(span: Any, code: str, reason: str) -> None:
    """Record a call's outcome (a status code name and ErrorInfo reason) on its span."""
    if trace is None or span is None:
        return
    span.set_attribute("rpc.grpc.status_code", code)
    if reason:
        span.set_attribute("g2g.reason", reason)
    if code != "OK":
        span.set_status(Status(StatusCode.ERROR, reason or code))


def annotate(**attributes: str) -> None:
    """Add attributes (e.g. correlation_id) to the current span."""
    if trace is None:
        return
    span = trace.get_current_span()
    for key, value in attributes.items():
        if value:
            span.set_attribute(f"g2g.{key}", value)


def stage(name: str, seconds: float) -> None:
    """A finished span for a pipeline stage that just took `seconds` (child of the current).

    Only under a recording span: a stage span is a child of the call's server span,
    which a tracer records only when tracing is on and the trace is sampled.
    """
    if trace is None or not trace.get_current_span().is_recording():
        return
    assert _tracer is not None
    end = time.time_ns()
    span = _tracer.start_span(f"g2g.stage.{name}",
                                                start_time=end - int(seconds * 1e9))
    span.end(end_time=end)
