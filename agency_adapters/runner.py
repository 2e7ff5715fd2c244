"""Run a named adapter: one provider server per agency identity it serves.

Each adapter package exposes `build(data: Path | None) -> {agency_id: {service: handler}}`
(most serve one agency; the embassy adapter serves several embassies, each with
its own key, certificate and endpoint). Only the protocol core and the toolkit
are used here: no broker internals.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import structlog

from agency_adapters.toolkit.provider import Handler, ProviderServer
from broker.protocol import pki
from broker.protocol.errors import ConfigError
from broker.protocol.registry import Registry, load_registry

log = structlog.get_logger("g2g.adapter")

ADAPTERS: Mapping[str, str] = {
    "immigration": "agency_adapters.immigration.service",
}


class AdapterModule(Protocol):
    def build(self, data: Path | None) -> Mapping[str, Mapping[str, Handler]]: ...


def load(name: str) -> AdapterModule:
    """The adapter module registered under `name`."""
    if name not in ADAPTERS:
        raise ConfigError(f"unknown adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    module: AdapterModule = importlib.import_module(ADAPTERS[name])
    return module


async def start_adapter(name: str, registry: Registry, pki_dir: Path, *,
                        listen: str | None = None, data: Path | None = None,
                        ) -> dict[str, tuple[ProviderServer, int]]:
    """Start every identity of adapter `name`; returns {agency_id: (server, port)}.

    `listen` overrides the registry endpoints (tests pass 127.0.0.1:0).
    """
    started: dict[str, tuple[ProviderServer, int]] = {}
    for agency_id, handlers in load(name).build(data).items():
        agency = registry.agency(agency_id)
        if agency is None:
            raise ConfigError(f"{agency_id} is not in the registry", file=registry.source)
        address = listen or agency.endpoint
        if address is None:
            raise ConfigError(f"{agency_id} has no endpoint", file=registry.source)
        server = ProviderServer(pki.load_identity(pki_dir, agency_id), registry, handlers)
        port = await server.start(address)
        started[agency_id] = (server, port)
        log.info("adapter_started", adapter=name, agency=agency_id, port=port)
    return started


async def serve(name: str, registry_path: Path, pki_dir: Path, *, listen: str | None = None,
                data: Path | None = None) -> None:
    """Run adapter `name` until SIGINT/SIGTERM."""
    registry = load_registry(registry_path, pki_dir)
    started = await start_adapter(name, registry, pki_dir, listen=listen, data=data)
    log.info("adapter_ready", adapter=name,
             endpoints={agency: port for agency, (_, port) in started.items()})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server, _ in started.values():
        await server.stop()
