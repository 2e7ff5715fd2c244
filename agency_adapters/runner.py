"""Run named adapters: one provider server per agency identity, data swapped in live.

Adapters are plugins: each is an entry point in the ``g2g.adapters`` group,
naming the module to load (``immigration = "agency_adapters.immigration.service"``
in pyproject.toml; a third-party distribution declares its own). Nothing here
imports an adapter by module name. Each adapter module exposes `DATA` (its data
sets, see `common.datasets`) and
`build(data) -> {agency_id: {service: handler}}`, where handlers read
`data.current` once per request (most adapters serve one agency; the consular
adapter serves several embassies, each with its own key, certificate and
endpoint, plus consular services of ID/GOV/IMIGRASI). When several adapters
serve the same agency, `start_adapters` merges their handlers into that
agency's one provider server (one endpoint per agency); the same service from
two adapters is a configuration error. `serve` watches each adapter's data
directory (a poll every second, or at once on SIGHUP) and swaps changed data
in. Only the protocol core and the toolkit are used here: no broker internals.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

import structlog
from g2g_sdk.errors import ConfigError
from g2g_sdk.identity import OwnIdentity
from g2g_sdk.provider import Handler, ProviderServer
from g2g_sdk.registry import Registry, load_registry
from g2g_sdk.reload import Reloader
from g2g_sdk.revocation import PeerChecker, RevocationConfig, crl_reloader

from agency_adapters.common.datasets import RELOAD_INTERVAL, AdapterData, Current, LiveData
from agency_adapters.common.records import RecordError

log = structlog.get_logger("g2g.adapter")

GROUP = "g2g.adapters"
"""The entry-point group adapters register under (docs/ADAPTERS.md)."""


class AdapterModule(Protocol):
    DATA: AdapterData[Any]

    def build(self, data: Current[Any]) -> Mapping[str, Mapping[str, Handler]]: ...


@dataclass(frozen=True)
class Installed:
    """One installed adapter: its name, the module its entry point names, its distribution."""

    name: str
    module: str
    distribution: str
    version: str
    entry_point: EntryPoint


def installed() -> dict[str, Installed]:
    """Every adapter installed in this environment, by name (entry points, not imports).

    Two distributions registering the same name is a ConfigError naming both:
    which one would serve must never depend on the order of sys.path.
    """
    found: dict[str, Installed] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist
        entry = Installed(ep.name, ep.value, dist.name if dist else "?",
                          dist.version if dist else "?", ep)
        other = found.get(ep.name)
        if other is not None and other.module != entry.module:
            raise ConfigError(f"adapter {ep.name!r} is registered twice: by "
                              f"{other.distribution} ({other.module}) and by "
                              f"{entry.distribution} ({entry.module}); uninstall one")
        found[ep.name] = entry
    return dict(sorted(found.items()))


def names() -> tuple[str, ...]:
    """The names of every installed adapter, sorted."""
    return tuple(installed())


def load(name: str) -> AdapterModule:
    """The adapter module registered under `name` in the ``g2g.adapters`` group."""
    entry = installed().get(name)
    if entry is None:
        known = ", ".join(installed()) or "none"
        raise ConfigError(f"no adapter named {name!r} is installed (installed: {known}; "
                          "see `g2g adapter list`)")
    module = entry.entry_point.load()
    if not hasattr(module, "DATA") or not callable(getattr(module, "build", None)):
        raise ConfigError(f"adapter {name!r} ({entry.module}, from {entry.distribution}) "
                          "does not define DATA and build(data); see docs/ADAPTERS.md")
    loaded: AdapterModule = module
    return loaded


def data_dirs(names: Iterable[str], data: Mapping[str, Path | None] | None = None,
              root: Path | None = None) -> dict[str, Path | None]:
    """{adapter: data directory}: `data[name]` if given, else ``root/name``, else None (seeded)."""
    given = data or {}
    return {name: given.get(name) or (root / name if root is not None else None)
            for name in names}


def open_data(names: Iterable[str], data: Mapping[str, Path | None] | None = None,
              root: Path | None = None) -> dict[str, LiveData[Any]]:
    """Load every adapter's data (`data_dirs`); a bad row is a ConfigError naming file:line."""
    try:
        return {name: LiveData(name, load(name).DATA, directory)
                for name, directory in data_dirs(dict.fromkeys(names), data, root).items()}
    except RecordError as err:
        raise ConfigError(err.reason, file=err.path, line=err.line, field=err.field) from None


def merged_handlers(names: Iterable[str], data: Mapping[str, Path | None] | None = None, *,
                    live: Mapping[str, Current[Any]] | None = None,
                    ) -> dict[str, dict[str, Handler]]:
    """{agency_id: {service: handler}} of adapters `names`, merged per agency.

    Handlers read from `live[name]`; without it the data is loaded from
    `data` (adapter name to data directory; absent: the seeded default).
    Two adapters offering the same service for the same agency is a ConfigError.
    """
    names = tuple(dict.fromkeys(names))
    sources: Mapping[str, Current[Any]] = live if live is not None else open_data(names, data)
    merged: dict[str, dict[str, Handler]] = {}
    owner: dict[tuple[str, str], str] = {}
    for name in names:
        for agency_id, handlers in load(name).build(sources[name]).items():
            into = merged.setdefault(agency_id, {})
            for service, handler in handlers.items():
                if (agency_id, service) in owner:
                    raise ConfigError(f"adapters {owner[agency_id, service]!r} and {name!r} "
                                      f"both serve {service} for {agency_id}")
                owner[agency_id, service] = name
                into[service] = handler
    return merged


async def start_adapters(names: Iterable[str], registry: Registry | Callable[[], Registry],
                         pki_dir: Path, *,
                         listen: str | None = None,
                         data: Mapping[str, Path | None] | None = None,
                         live: Mapping[str, Current[Any]] | None = None,
                         peer_check: Callable[[bytes | None], object] | None = None,
                         metrics_listen: str | None = None,
                         ) -> dict[str, tuple[ProviderServer, int]]:
    """Start every identity of adapters `names`, one server per agency (handlers merged).

    Returns {agency_id: (server, port)}. `listen` overrides the registry endpoints
    (tests pass 127.0.0.1:0); `data` maps adapter names to data directories, or
    `live` to already opened data (`open_data`) that the caller keeps refreshing.
    `registry` may be a function returning the live registry (hot reload): the
    servers then verify every call against the registry of that moment.
    `peer_check` refuses revoked callers (`g2g_sdk.revocation.PeerChecker.check`).
    `metrics_listen` serves the server's Prometheus metrics (one agency only).
    """
    names = tuple(names)
    merged = merged_handlers(names, data, live=live)
    if metrics_listen and len(merged) > 1:
        raise ConfigError(f"--metrics-listen serves one agency's metrics; these adapters "
                          f"serve {len(merged)} agencies: run one process per agency")
    now = registry() if callable(registry) else registry

    def live_registry() -> Registry:
        return registry() if callable(registry) else registry

    for agency_id in merged:
        agency = now.agency(agency_id)
        if agency is None:
            raise ConfigError(f"{agency_id} is not in the registry", file=now.source)
        if (listen or agency.endpoint) is None:
            raise ConfigError(f"{agency_id} has no endpoint", file=now.source)
    started: dict[str, tuple[ProviderServer, int]] = {}
    try:
        for agency_id, handlers in merged.items():
            agency = now.agency(agency_id)
            assert agency is not None
            address = listen or agency.endpoint
            assert address is not None
            # Its own TLS pair and signing key, switched after a rotation without a restart.
            own = OwnIdentity(pki_dir, agency_id, live_registry)
            server = ProviderServer(own, registry, handlers, peer_check=peer_check,
                                    metrics_listen=metrics_listen)
            port = await server.start(address)
            started[agency_id] = (server, port)
            log.info("adapter_started", adapter=",".join(names), agency=agency_id, port=port,
                     metrics_port=server.metrics_port)
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
                data: Path | Mapping[str, Path | None] | None = None,
                data_root: Path | None = None,
                reload_interval: float = RELOAD_INTERVAL,
                crls: tuple[Path, ...] = (), metrics_listen: str | None = None) -> None:
    """Run adapters `names` (handlers merged per agency) until SIGINT/SIGTERM.

    `data` is one adapter's data directory (with one name) or a {name: dir} map;
    other adapters read ``data_root/<name>`` when `data_root` is set. Changed
    data files are swapped in (checked every `reload_interval` s, and on SIGHUP);
    so is a changed registry (keys of the broker and of consumers; an adapter's
    own endpoint stays what it bound at start) and a changed CRL (`crls`, default
    `<pki_dir>/crl.pem`): a caller whose certificate it revokes is refused.
    `metrics_listen` serves Prometheus metrics on plain HTTP (off by default).
    """
    names = (names,) if isinstance(names, str) else tuple(names)
    if isinstance(data, Path):
        if len(names) != 1:
            raise ConfigError("a bare data path needs exactly one adapter; use NAME=PATH")
        data = {names[0]: data}
    registry = Reloader("registry", lambda: load_registry(registry_path, pki_dir),
                        interval=max(reload_interval, 1.0))
    crl = crl_reloader(RevocationConfig(pki_dir / "ca.crt", crls or (pki_dir / "crl.pem",)),
                       interval=max(reload_interval, 1.0))
    live = open_data(names, data, data_root)

    def current_registry() -> Registry:
        return registry.current

    started = await start_adapters(names, current_registry, pki_dir, listen=listen, live=live,
                                   peer_check=PeerChecker(lambda: crl.current).check,
                                   metrics_listen=metrics_listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pending: set[asyncio.Task[bool]] = set()

    def reload_now() -> None:
        registry.request_reload()
        crl.request_reload()
        for server, _ in started.values():
            if server.own is not None:
                server.own.request_reload()
        for source in live.values():
            task = asyncio.create_task(source.refresh(force=True))
            pending.add(task)
            task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, reload_now)
    # Ready only once the signals are handled: a SIGHUP or SIGTERM sent on seeing
    # this line must reload or stop the adapter, not kill it by the default action.
    log.info("adapter_ready", adapter=",".join(names),
             endpoints={agency: port for agency, (_, port) in started.items()},
             data={name: str(d.directory or "seeded") for name, d in live.items()})
    watchers = [asyncio.create_task(source.watch(stop, reload_interval))
                for source in live.values()]
    registry.start()
    crl.start()
    await stop.wait()
    await registry.stop()
    await crl.stop()
    await asyncio.gather(*watchers, *pending)
    for server, _ in started.values():
        await server.stop()
