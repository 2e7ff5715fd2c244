"""Safe hot reload of file-backed trust state (registry, CRLs): validate fully, swap atomically.

A `Reloader` holds the live value of something built from files. It notices a
change by re-reading the files the current value was built from (a poll every
`interval` seconds, or at once on `request_reload`, e.g. on SIGHUP), builds
the new value completely, runs the caller's `accept` check, and only then
swaps it in with one attribute assignment: a reader sees the old value or the
new one, never a mix. Anything that fails (bad file, half-written file, file
gone, `accept` refusing) is logged once per distinct error and the old value
keeps serving. Never logs file contents.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import structlog

from g2g_sdk import logs
from g2g_sdk.errors import G2GError

log = structlog.get_logger("g2g.reload")


class Loaded(Protocol):
    """A value built from files: their bytes (None: was absent) and a content version."""

    @property
    def files(self) -> Mapping[str, bytes | None]: ...

    @property
    def version(self) -> str: ...


T = TypeVar("T", bound=Loaded)


def changed(files: Mapping[str, bytes | None]) -> bool:
    """Whether any of `files` now reads differently (appeared, vanished, or new bytes)."""
    for name, before in files.items():
        try:
            now: bytes | None = Path(name).read_bytes()
        except FileNotFoundError:
            now = None
        except OSError:
            return True  # unreadable: let the full load report it precisely
        if now != before:
            return True
    return False


class Poller:
    """Calls `reload()` every `interval` seconds, and at once on `request_reload()` (SIGHUP).

    The loop shared by every hot-reloaded thing (registry, CRLs, policies); a
    subclass implements `reload`, which must not raise (it logs and keeps the old).
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def reload(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start polling (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def request_reload(self) -> None:
        """Check now (SIGHUP)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.reload()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class Reloader(Poller, Generic[T]):
    """The live value of `kind` (e.g. "registry"), rebuilt by `load` when its files change.

    `load` runs in a thread and raises `G2GError` (usually `ConfigError`, with
    file:line:field) for invalid input; `accept(old, new)` (old is None for the
    first value) may refuse a valid but unusable value the same way (the broker
    checks the policies still compile against a new registry; a CRL must not
    roll back) and may store it (the audit log keeps every version).
    Log events: `<kind>_reloaded`, `<kind>_reload_rejected`, `<kind>_reload_failed`.
    """

    def __init__(self, kind: str, load: Callable[[], T], *, interval: float = 2.0,
                 accept: Callable[[T | None, T], None] | None = None,
                 on_swapped: Callable[[T, T], None] | None = None,
                 initial: T | None = None) -> None:
        super().__init__(interval)
        self.kind = kind
        self._load = load
        self._accept = accept
        self._on_swapped = on_swapped
        current = initial if initial is not None else load()
        if accept is not None:
            accept(None, current)
        self.current: T = current
        self.last_error: str | None = None
        self.reloaded = asyncio.Condition()

    async def reload(self, *, force: bool = False) -> bool:
        """Rebuild if the files changed (or `force`); swap if valid and new. True if swapped."""
        try:
            if not force and not await asyncio.to_thread(changed, self.current.files):
                return False
            new = await asyncio.to_thread(self._load)
            if new.version == self.current.version:
                return False
            if self._accept is not None:
                await asyncio.to_thread(self._accept, self.current, new)
        except G2GError as exc:
            if exc.message != self.last_error:
                log.error(f"{self.kind}_reload_rejected", error=exc.diagnostics(),
                          keeping_version=self.current.version)
            self.last_error = exc.message
            return False
        except Exception as exc:
            fault = logs.fault_fields(exc)
            text = f"unexpected {fault['error_type']} at {fault['at']}"
            if text != self.last_error:
                log.error(f"{self.kind}_reload_failed", keeping_version=self.current.version,
                          **fault)
            self.last_error = text
            return False
        old, self.current, self.last_error = self.current, new, None
        log.info(f"{self.kind}_reloaded", old_version=old.version, version=new.version)
        if self._on_swapped is not None:
            self._on_swapped(old, new)
        async with self.reloaded:
            self.reloaded.notify_all()
        return True

    async def wait_for(self, version_not: str, timeout: float) -> T:
        """Wait (bounded) until the live version differs from `version_not`; for tests/tools."""
        async def swapped() -> T:
            async with self.reloaded:
                await self.reloaded.wait_for(lambda: self.current.version != version_not)
            return self.current

        return await asyncio.wait_for(swapped(), timeout)
