"""Safe hot reload: watch the policy directory, validate fully, swap atomically.

The current set is one attribute assignment, so a request sees either the old
or the new set, never a mix. An invalid set is logged and the old one keeps
serving. Changes are noticed by polling file contents (cheap: a few small
files) and on SIGHUP via `request_reload`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog
from g2g_sdk import logs
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry
from g2g_sdk.reload import Poller

from broker.policy.compile import PolicySet, compile_sources, read_sources, version_of

log = structlog.get_logger("g2g.policy")


class PolicyWatcher(Poller):
    """Holds the live PolicySet; loads it at construction (fail closed on errors)."""

    def __init__(self, directory: Path, registry: Registry, catalog: Catalog, *,
                 interval: float = 2.0,
                 on_loaded: Callable[[PolicySet], None] | None = None) -> None:
        super().__init__(interval)
        self._directory = Path(directory)
        self._registry = registry
        self._catalog = catalog
        self._on_loaded = on_loaded
        self.current = self._compile(read_sources(self._directory))
        self.reloaded = asyncio.Condition()
        self.last_error: str | None = None

    def _compile(self, sources: dict[str, bytes]) -> PolicySet:
        policy = compile_sources(sources, self._registry, self._catalog,
                                 base=f"{self._directory}/")
        if self._on_loaded is not None:
            self._on_loaded(policy)
        return policy

    def compile_for(self, registry: Registry, catalog: Catalog) -> PolicySet:
        """The serving set's sources compiled against another registry (ConfigError if they
        no longer fit it: a rule naming an agency or service the registry dropped)."""
        return compile_sources(self.current.sources, registry, catalog,
                               base=f"{self._directory}/")

    def rebase(self, registry: Registry, catalog: Catalog, policy: PolicySet) -> None:
        """Decide against a newly loaded registry from now on, with `policy` compiled for it."""
        self._registry, self._catalog, self.current = registry, catalog, policy

    async def reload(self) -> bool:
        """Validate the directory's current contents and swap if valid and changed."""
        try:
            sources = await asyncio.to_thread(read_sources, self._directory)
            if version_of(sources) == self.current.version:
                return False
            policy = await asyncio.to_thread(self._compile, sources)
        except ConfigError as exc:
            if exc.message != self.last_error:
                log.error("policy_reload_rejected", error=exc.diagnostics(),
                          keeping_version=self.current.version)
            self.last_error = exc.message
            return False
        except Exception as exc:
            # Not a bad file: the directory could not be read, or the new set's
            # sources could not be stored beside the log (a set that decides must be
            # retrievable by auditors). Keep the old set and keep watching.
            fault = logs.fault_fields(exc)
            log.error("policy_reload_failed", keeping_version=self.current.version, **fault)
            self.last_error = f"unexpected {fault['error_type']} at {fault['at']}"
            return False
        old, self.current, self.last_error = self.current.version, policy, None
        log.info("policy_reloaded", old_version=old, version=policy.version,
                 rules=len(policy.rules))
        async with self.reloaded:
            self.reloaded.notify_all()
        return True

