"""One trace per exchange across consumer, broker and provider (W3C context in metadata)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query

pytestmark = pytest.mark.asyncio

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    # The global tracer provider can be set once per process; this module's exporter stays.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    return _EXPORTER


async def test_one_trace_spans_consumer_broker_and_provider(
        fed: Fed, spans: InMemorySpanExporter) -> None:
    subject = fed.listed_subject
    async with fed.client(POLRI) as client:
        for _ in range(2):
            await client.call(SCREEN, name_query(subject.full_name, subject.date_of_birth),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS,
                              correlation_id="case-2026-0042")
    finished = spans.get_finished_spans()
    traces = {s.context.trace_id for s in finished}
    assert len(traces) == 2  # one per exchange
    first = [s for s in finished if s.context.trace_id == min(traces)]
    clients = [s for s in first if s.kind == SpanKind.CLIENT]
    servers = {s.name: s for s in first if s.kind == SpanKind.SERVER}
    (consumer,) = clients
    broker, provider = servers["/g2g.v1.Exchange/Call"], servers["/g2g.v1.Provider/Handle"]
    # consumer → broker → provider, each the parent of the next
    assert consumer.parent is None
    assert broker.parent is not None
    assert broker.parent.span_id == consumer.context.span_id
    assert provider.parent is not None
    assert provider.parent.span_id == broker.context.span_id
    stages = {s.name for s in first if s.parent is not None
              and s.parent.span_id == broker.context.span_id and s.name.startswith("g2g.stage.")}
    assert stages == {f"g2g.stage.{name}" for name in (
        "verify", "validate", "policy", "audit_commit", "provider_call", "response_verify",
        "audit_outcome")}
    for span in (consumer, broker, provider):
        assert span.attributes is not None
        assert span.attributes["g2g.correlation_id"] == "case-2026-0042"
    assert broker.attributes is not None
    assert broker.attributes["rpc.grpc.status_code"] == "OK"
