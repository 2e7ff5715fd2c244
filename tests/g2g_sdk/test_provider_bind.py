"""A live adapter's port cannot be bound a second time (no SO_REUSEPORT), nor the broker's."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk import ProviderServer, pki
from g2g_sdk.errors import StartupError
from g2g_sdk.registry import Registry

from g2g_harness.federation import start_federation

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"


async def test_a_second_adapter_cannot_bind_a_live_adapters_port(
        pki_dir: Path, registry: Registry) -> None:
    identity = pki.load_identity(pki_dir, IMIGRASI)
    first = ProviderServer(identity, registry, {})
    port = await first.start("127.0.0.1:0")
    try:
        second = ProviderServer(identity, registry, {})
        with pytest.raises(StartupError) as info:
            await second.start(f"127.0.0.1:{port}")
        assert (info.value.reason, info.value.message) == (
            "BIND_FAILED", f"could not bind 127.0.0.1:{port}")
    finally:
        await first.stop(0)


async def test_a_second_single_process_broker_cannot_bind_a_live_brokers_port(
        tmp_path: Path, pki_dir: Path) -> None:
    from broker.server import start_broker

    federation = await start_federation(tmp_path / "a", pki_dir=pki_dir, adapters=())
    try:
        with pytest.raises(StartupError) as info:
            await start_broker(federation.config, registry=federation.registry,
                               listen=federation.address)
        assert info.value.reason == "BIND_FAILED"
    finally:
        await federation.stop()
