"""Run a named adapter: one provider server per agency identity it serves.

Each adapter package exposes `build(data: Path | None) -> {agency_id: {service: handler}}`
(most serve one agency; the consular adapter serves several embassies, each with
its own key, certificate and endpoint, plus consular services of ID/GOV/IMIGRASI).
When several adapters serve the same agency, `start_adapters` merges their
handlers into that agency's one provider server (one endpoint per agency); the
same service from two adapters is a configuration error. Only the protocol core
and the toolkit are used here: no broker internals.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
from collections.abc import Iterable, Mapping
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
    "interpol": "agency_adapters.interpol.service",
    "consular": "agency_adapters.consular.service",
}


class AdapterModule(Protocol):
    def build(self, data: Path | None) -> Mapping[str, Mapping[str, Handler]]: ...


def load(name: str) -> AdapterModule:
    """The adapter module registered under `name`."""
    if name not in ADAPTERS:
        raise ConfigError(f"unknown adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    module: AdapterModule = importlib.import_module(ADAPTERS[name])
    return module


def merged_handlers(names: Iterable[str], data: Mapping[str, Path | None] | None = None,
                    ) -> dict[str, dict[str, Handler]]:
    """{agency_id: {service: handler}} of adapters `names`, merged per agency.

    `data` maps an adapter name to its data path (absent: the seeded default).
    Two adapters offering the same service for the same agency is a ConfigError.
    """
    merged: dict[str, dict[str, Handler]] = {}
    owner: dict[tuple[str, str], str] = {}
    for name in dict.fromkeys(names):
        for agency_id, handlers in load(name).build((data or {}).get(name)).items():
            into = merged.setdefault(agency_id, {})
            for service, handler in handlers.items():
                if (agency_id, service) in owner:
                    raise ConfigError(f"adapters {owner[agency_id, service]!r} and {name!r} "
                                      f"both serve {service} for {agency_id}")
                owner[agency_id, service] = name
                into[service] = handler
    return merged


async def start_adapters(names: Iterable[str], registry: Registry, pki_dir: Path, *,
                         listen: str | None = None,
                         data: Mapping[str, Path | None] | None = None,
                         ) -> dict[str, tuple[ProviderServer, int]]:
    """Start every identity of adapters `names`, one server per agency (handlers merged).

    Returns {agency_id: (server, port)}. `listen` overrides the registry endpoints
    (tests pass 127.0.0.1:0); `data` maps adapter names to data paths.
    """
    names = tuple(names)
    merged = merged_handlers(names, data)
    for agency_id in merged:
        agency = registry.agency(agency_id)
        if agency is None:
            raise ConfigError(f"{agency_id} is not in the registry", file=registry.source)
        if (listen or agency.endpoint) is None:
            raise ConfigError(f"{agency_id} has no endpoint", file=registry.source)
    started: dict[str, tuple[ProviderServer, int]] = {}
    try:
        for agency_id, handlers in merged.items():
            agency = registry.agency(agency_id)
            assert agency is not None
            address = listen or agency.endpoint
            assert address is not None
            server = ProviderServer(pki.load_identity(pki_dir, agency_id), registry, handlers)
            port = await server.start(address)
            started[agency_id] = (server, port)
            log.info("adapter_started", adapter=",".join(names), agency=agency_id, port=port)
    except BaseException:
        for server, _ in started.values():
            await server.stop(0)
        raise
    return started


async def start_adapter(name: str, registry: Registry, pki_dir: Path, *,
                        listen: str | None = None, data: Path | None = None,
                        ) -> dict[str, tuple[ProviderServer, int]]:
    """Start every identity of adapter `name`; returns {agency_id: (server, port)}.

    `listen` overrides the registry endpoints (tests pass 127.0.0.1:0).
    """
    return await start_adapters((name,), registry, pki_dir, listen=listen,
                                data={name: data})


async def serve(names: str | Iterable[str], registry_path: Path, pki_dir: Path, *,
                listen: str | None = None,
                data: Path | Mapping[str, Path | None] | None = None) -> None:
    """Run adapters `names` (handlers merged per agency) until SIGINT/SIGTERM.

    `data` is one adapter's data path (with one name) or a {name: path} map.
    """
    names = (names,) if isinstance(names, str) else tuple(names)
    if isinstance(data, Path):
        if len(names) != 1:
            raise ConfigError("a bare data path needs exactly one adapter; use NAME=PATH")
        data = {names[0]: data}
    registry = load_registry(registry_path, pki_dir)
    started = await start_adapters(names, registry, pki_dir, listen=listen, data=data)
    log.info("adapter_ready", adapter=",".join(names),
             endpoints={agency: port for agency, (_, port) in started.items()})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server, _ in started.values():
        await server.stop()
