"""End-to-end: a provider's optional metrics port (ProviderServer(metrics_listen=...)),
scraped over plain HTTP after a brokered exchange and a refused direct call."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from g2g_sdk import pki, tls
from g2g_sdk._gen.g2g.v1 import provider_pb2, provider_pb2_grpc
from g2g_sdk.registry import load_registry

from agency_adapters.runner import start_adapters
from g2g_harness.federation import REGISTRY, start_federation
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, name_query
from tests.e2e.test_operations import scrape, value

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
HANDLE = "/g2g.v1.Provider/Handle"


async def test_a_providers_calls_are_counted_by_service_code_and_reason(
        tmp_path: Path, pki_dir: Path) -> None:
    registry = load_registry(REGISTRY, pki_dir)
    started = await start_adapters(("immigration",), registry, pki_dir, listen="127.0.0.1:0",
                                   metrics_listen="127.0.0.1:0")
    server, port = started[IMIGRASI]
    assert server.metrics_port > 0
    federation = await start_federation(tmp_path, pki_dir=pki_dir, adapters=(),
                                        endpoints={IMIGRASI: f"127.0.0.1:{port}"})
    try:
        before = await scrape(server.metrics_port)
        assert value(before, "g2g_provider_calls_total", method=HANDLE, service=SCREEN,
                     code="OK", reason="") == 0
        await federation.client(POLRI).call(SCREEN, name_query("Budi Santoso"),
                                            purpose="criminal_investigation",
                                            legal_basis=LEGAL_BASIS)
        # A consumer calling the provider directly is refused before anything is parsed.
        polri = pki.load_identity(pki_dir, POLRI)
        async with grpc.aio.secure_channel(
                f"127.0.0.1:{port}", tls.channel_credentials(polri),
                options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await provider_pb2_grpc.ProviderStub(channel).Handle(
                    provider_pb2.ProviderRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        after = await scrape(server.metrics_port)
    finally:
        await federation.stop()
        await server.stop(0)
    assert value(after, "g2g_provider_calls_total", method=HANDLE, service=SCREEN,
                 code="OK", reason="") == 1
    assert value(after, "g2g_provider_calls_total", method=HANDLE, service="unknown",
                 code="PERMISSION_DENIED", reason="NOT_BROKER") == 1
    assert value(after, "g2g_provider_call_duration_seconds_count", method=HANDLE) == 2
