"""A complete federation on localhost: dev PKI, every adapter and the broker.

Used by `g2g demo`, the end-to-end tests and the benchmarks: everything binds
free ports on 127.0.0.1 and talks real mTLS, exactly as `make run` does, only
inside one process and one temporary directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from g2g_sdk import ConsumerClient, ProviderServer, pki
from g2g_sdk.registry import Registry, load_registry
from g2g_sdk.reload import Reloader
from g2g_sdk.revocation import CrlState, PeerChecker, crl_reloader

from agency_adapters.runner import names, start_adapters
from broker.config import BrokerConfig, load_config
from broker.server import RunningBroker, start_broker
from broker.typing import Clock
from g2g_harness import example

REGISTRY = example.registry()
POLICIES = example.policies()


@dataclass
class LocalFederation:
    """A running broker plus adapters; `client(agency)` gives a consumer client."""

    work_dir: Path
    pki_dir: Path
    registry: Registry
    config: BrokerConfig
    broker: RunningBroker
    providers: dict[str, tuple[ProviderServer, int]] = field(default_factory=dict)
    # The adapters' live views of the registry and the CRLs, as `g2g adapter serve` has.
    adapter_registry: Reloader[Registry] | None = None
    adapter_crls: Reloader[CrlState] | None = None
    _clients: list[ConsumerClient] = field(default_factory=list)

    async def reload_trust(self) -> list[bool]:
        """Re-read registry and CRLs now in the broker and the adapters (what SIGHUP does),
        waiting for each; which swapped (broker registry, broker CRLs, adapters' …)."""
        reloaders = (self.broker.registry, self.broker.crls, self.adapter_registry,
                     self.adapter_crls)
        return [await r.reload() for r in reloaders if r is not None]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.broker.port}"

    def client(self, agency_id: str) -> ConsumerClient:
        client = ConsumerClient(pki.load_identity(self.pki_dir, agency_id), self.registry,
                                broker_endpoint=self.address)
        self._clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self._clients:
            await client.close()
        await self.broker.stop(grace=1.0)
        for server, _ in self.providers.values():
            await server.stop(grace=0.5)
        for reloader in (self.adapter_registry, self.adapter_crls):
            if reloader is not None:
                await reloader.stop()


def write_config(work_dir: Path, *, pki_dir: Path, policies: Path = POLICIES,
                 audit_yaml: str | None = None, extra: str = "",
                 registry: Path = REGISTRY) -> Path:
    """A broker config file for a local federation under `work_dir`."""
    audit = audit_yaml or f"  backend: sqlite\n  path: {work_dir / 'audit.db'}\n"
    path = work_dir / "broker.yaml"
    # The operations port on a free port, so brokers of parallel tests never collide.
    ops = "" if "ops:" in extra else "ops:\n  listen: 127.0.0.1:0\n"
    path.write_text(
        "broker:\n  listen: 127.0.0.1:0\n  instance_id: local-1\n"
        f"registry: {registry}\npki_dir: {pki_dir}\npolicies: {policies}\n"
        f"audit:\n{audit}{ops}{extra}", encoding="utf-8")
    return path


async def start_federation(work_dir: Path, *, pki_dir: Path | None = None,
                           config_path: Path | None = None,
                           adapters: tuple[str, ...] | None = None,
                           endpoints: dict[str, str] | None = None,
                           clock: Clock | None = None,
                           registry_path: Path = REGISTRY) -> LocalFederation:
    """Start adapters on free ports, then the broker pointing at them.

    `endpoints` adds or overrides provider endpoints (a test's own provider);
    `registry_path` replaces the example registry (keep the config's in step).
    """
    work_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (start-up, no requests yet)
    if pki_dir is None:
        pki_dir = work_dir / "pki"
        pki.init_pki(registry_path, pki_dir)
    config = load_config(config_path or write_config(work_dir, pki_dir=pki_dir,
                                                     registry=registry_path))
    adapter_registry = Reloader("registry", lambda: load_registry(config.registry, pki_dir))
    adapter_crls = crl_reloader(config.revocation())
    registry = adapter_registry.current
    # Adapters serving the same agency (immigration and consular both serve
    # ID/GOV/IMIGRASI) share that agency's one server: handlers are merged.
    providers = await start_adapters(
        adapters if adapters is not None else names(), lambda: adapter_registry.current,
        pki_dir, listen="127.0.0.1:0",
        peer_check=PeerChecker(lambda: adapter_crls.current).check)
    adapter_registry.start()
    adapter_crls.start()
    bound = ({agency: f"127.0.0.1:{port}" for agency, (_, port) in providers.items()}
             | (endpoints or {}))
    registry = registry.with_endpoints(bound)
    running = (await start_broker(config, endpoints=bound) if clock is None
               else await start_broker(config, endpoints=bound, clock=clock))
    return LocalFederation(work_dir=work_dir, pki_dir=pki_dir, registry=registry,
                           config=config, broker=running, providers=providers,
                           adapter_registry=adapter_registry, adapter_crls=adapter_crls)
