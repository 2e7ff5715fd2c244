"""The broker's live registry: hot reloaded, checked against the policies, kept by version.

A new registry (file change or SIGHUP) is loaded completely, the serving
policy sources are compiled against it (a rule naming an agency or service it
dropped refuses the registry), its files are stored beside the audit log by
version, and only then do the registry, catalog, compiled policies and
provider endpoints switch, in one step of the event loop. Anything invalid is
logged and the old registry keeps serving (g2g_sdk.reload).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from g2g_sdk.catalog import Catalog
from g2g_sdk.registry import Registry, load_registry
from g2g_sdk.reload import Reloader

from broker.policy import PolicySet
from broker.policy.reload import PolicyWatcher


@dataclass(frozen=True)
class Trust:
    """One registry version and the catalog built from it: what a request is decided under."""

    registry: Registry
    catalog: Catalog

    @property
    def files(self) -> Mapping[str, bytes | None]:
        return self.registry.files

    @property
    def version(self) -> str:
        return self.registry.version


def load_trust(path: Path, pki_dir: Path, endpoints: Mapping[str, str] | None = None) -> Trust:
    """Load the registry (endpoint overrides applied: adapters bound to port 0) and catalog."""
    registry = load_registry(path, pki_dir)
    if endpoints:
        registry = registry.with_endpoints(endpoints)
    return Trust(registry, Catalog.from_registry(registry))


def registry_reloader(path: Path, pki_dir: Path, initial: Trust, policies: PolicyWatcher,
                      store: Callable[[str, Mapping[str, bytes]], None], *,
                      endpoints: Mapping[str, str] | None = None,
                      interval: float = 2.0) -> Reloader[Trust]:
    """A `Reloader` of the registry at `path` that keeps `policies` compiled against it.

    `store(version, sources)` keeps each accepted version's files (the audit store).
    """
    compiled: dict[str, PolicySet] = {}

    def accept(old: Trust | None, trust: Trust) -> None:
        if old is not None:
            compiled[trust.version] = policies.compile_for(trust.registry, trust.catalog)
        store(trust.version, trust.registry.sources)

    def swapped(_old: Trust, new: Trust) -> None:
        policies.rebase(new.registry, new.catalog, compiled.pop(new.version))

    return Reloader("registry", lambda: load_trust(path, pki_dir, endpoints),
                    interval=interval, accept=accept, on_swapped=swapped, initial=initial)
