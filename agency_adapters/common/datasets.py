"""An adapter's data sets: where they live, the seeded default, and swapping new data in.

An adapter declares its record types as `Dataset`s and how to index them
(`AdapterData`). Each data set is read from ``<dir>/<name>.jsonl`` (or
``.csv``) when that file exists, else the seeded synthetic records are used.
`LiveData` holds the index the handlers answer from: a new index is built
completely, off the event loop, before one reference is replaced, so a request
reads the old index or the new one, never a half-loaded one. A data file that
fails validation leaves the old index serving and is logged with its file,
line and field. Never logs record contents.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar

import structlog
from g2g_sdk import logs

from agency_adapters.common.records import (
    RecordError,
    Schema,
    find_optional,
    load,
    replace_atomically,
)

I = TypeVar("I")  # noqa: E741 (the index type of an adapter)
I_co = TypeVar("I_co", covariant=True)

RELOAD_INTERVAL: Final = 1.0
"""Seconds between checks of a running adapter's data files."""

Records = Mapping[str, tuple[Any, ...]]
"""Records of an adapter by data set name."""

log = structlog.get_logger("g2g.adapter.data")


@dataclass(frozen=True)
class Dataset:
    """One record type of an adapter: its file stem, schema and seeded records."""

    name: str
    schema: Schema[Any]
    seeded: Callable[[], tuple[Any, ...]]


@dataclass(frozen=True)
class AdapterData(Generic[I]):
    """The data sets of one adapter, how they are indexed, and its synthetic generator.

    `index` builds the immutable structure handlers query from all data sets'
    records; `generate(size, seed)` returns synthetic records of every data set.
    """

    datasets: tuple[Dataset, ...]
    index: Callable[[Records], I]
    generate: Callable[[int, int], Records]
    default_size: int
    default_seed: int
    _seeded_index: list[I] = field(default_factory=list, compare=False, repr=False)

    def dataset(self, name: str) -> Dataset | None:
        return next((d for d in self.datasets if d.name == name), None)

    def files(self, directory: Path | None) -> dict[str, Path | None]:
        """The file of each data set in `directory` (None: seeded)."""
        if directory is None or not directory.exists():
            return {d.name: None for d in self.datasets}
        return {d.name: find_optional(directory, d.name) for d in self.datasets}

    def load(self, directory: Path | None) -> tuple[I, dict[str, str]]:
        """The index over `directory`'s files (seeded where absent) and {dataset: source}.

        Raises `RecordError` for the first bad row of any file.
        """
        files = self.files(directory)
        records: dict[str, tuple[Any, ...]] = {}
        sources: dict[str, str] = {}
        for d in self.datasets:
            path = files[d.name]
            records[d.name] = d.seeded() if path is None else load(d.schema, path)
            sources[d.name] = f"{path or 'seeded'} ({len(records[d.name])} records)"
        if all(path is None for path in files.values()):
            if not self._seeded_index:  # the seeded index is built once per process
                self._seeded_index.append(self.index(records))
            return self._seeded_index[0], sources
        return self.index(records), sources


class Current(Protocol[I_co]):
    """Where handlers read the index from, once per request."""

    @property
    def current(self) -> I_co: ...


@dataclass(frozen=True)
class Fixed(Generic[I]):
    """An index that never changes (tests, one-off tools)."""

    current: I


_Stamp = tuple[tuple[str, tuple[int, int, int] | None], ...]


class LiveData(Generic[I]):
    """An adapter's index, replaced whole when its data files change.

    The first load happens in the constructor and raises `RecordError`: an
    adapter does not start on bad data. Later loads (`refresh`) run in a
    worker thread; on failure the old index keeps serving.
    """

    def __init__(self, adapter: str, data: AdapterData[I], directory: Path | None) -> None:
        self.adapter = adapter
        self.directory = directory
        self._data = data
        self._lock = asyncio.Lock()
        self._swapped = asyncio.Condition()
        self._stamp = self._fingerprint()
        self._current, sources = data.load(directory)
        self.generation = 0
        """Incremented on every successful swap (tests and operators wait on it)."""
        log.info("data_loaded", adapter=adapter, sources=sources)

    @property
    def current(self) -> I:
        return self._current

    def _fingerprint(self) -> _Stamp:
        # inode, size and mtime: os.replace gives a new inode, so an import always shows.
        # An unreadable directory or file (EACCES, EIO) reads as "no stamp": the load
        # that follows reports it; the check itself never raises.
        try:
            files = self._data.files(self.directory)
        except (RecordError, OSError):
            files = {}
        stamp = []
        for name, path in sorted(files.items()):
            try:
                st = os.stat(path) if path is not None else None
            except OSError:
                st = None
            stamp.append((name, None if st is None else (st.st_ino, st.st_size, st.st_mtime_ns)))
        return tuple(stamp)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if a data file changed (or `force`); True when new data was swapped in."""
        async with self._lock:
            stamp = self._fingerprint()
            if stamp == self._stamp and not force:
                return False
            # Remember the stamp before loading: a file changed during the load is
            # seen at the next check; a broken file is reported once, not every poll.
            previous, self._stamp = dict(self._stamp), stamp
            gone = sorted(name for name, st in stamp if st is None and previous.get(name))
            if gone:
                # A vanished file (a stray rm, an unmounted volume) must not turn an
                # agency's real list into the synthetic seed data behind its back.
                log.error("data_reload_failed", adapter=self.adapter,
                          file=str(self.directory), line=0, field=",".join(gone),
                          reason="data file removed; seeded data never replaces real data "
                                 "(restore the file, or restart the adapter to serve seeded)",
                          action="kept the data already serving")
                return False
            try:
                index, sources = await asyncio.to_thread(self._data.load, self.directory)
            except RecordError as err:
                log.error("data_reload_failed", adapter=self.adapter, file=err.path,
                          line=err.line, field=err.field, reason=err.reason,
                          action="kept the data already serving")
                return False
            except Exception as exc:
                # Not a bad row but a read error or a bug in an index builder: the old
                # data keeps serving and the watcher lives on. Its text may quote a
                # record, so only its type and place are logged.
                fault = logs.fault_fields(exc)
                log.error("data_reload_failed", adapter=self.adapter, file=str(self.directory),
                          line=0, field="data",
                          reason=f"unexpected {fault['error_type']} at {fault['at']}",
                          action="kept the data already serving", **fault)
                return False
            self._current = index  # the swap: one reference
            self.generation += 1
            async with self._swapped:
                self._swapped.notify_all()
            log.info("data_reloaded", adapter=self.adapter, generation=self.generation,
                     sources=sources)
            return True

    async def wait_for_generation(self, generation: int) -> None:
        """Return once `generation` swaps have happened (bound it with a timeout)."""
        async with self._swapped:
            await self._swapped.wait_for(lambda: self.generation >= generation)

    async def watch(self, stop: asyncio.Event, interval: float = RELOAD_INTERVAL) -> None:
        """Check the data files every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                await self.refresh()


# ---------------------------------------------------------------- import and generate

@dataclass(frozen=True)
class Written:
    """One data set file written: the data set, the file, the record count."""

    dataset: str
    path: Path
    count: int


def choose_dataset(data: AdapterData[Any], source: Path, name: str | None) -> Dataset:
    """The data set `name`, else the one the file name starts with, else the adapter's only one."""
    names = ", ".join(d.name for d in data.datasets)
    if name is not None:
        found = data.dataset(name)
        if found is None:
            raise RecordError(source, 0, "dataset", f"{name!r} is not one of {names}")
        return found
    by_file = data.dataset(re.split(r"[._-]", source.name)[0])  # sltd-2025-11.csv: sltd
    if by_file is not None:
        return by_file
    if len(data.datasets) == 1:
        return data.datasets[0]
    raise RecordError(source, 0, "dataset",
                      f"the file name does not say which data set; name one of {names}")


def import_file(data: AdapterData[Any], directory: Path, source: Path, *,
                dataset: str | None = None, fmt: str | None = None) -> Written:
    """Validate every row of `source`, then atomically replace the data set's file in `directory`.

    A bad row raises `RecordError` (file, line, field) before anything is
    written, so the previous data stays. The data set's existing file is
    replaced in its own format (``<dataset>.csv`` stays CSV), so there is never
    a moment with two files or none; a new data set is stored as JSONL. A
    running adapter notices the new file and swaps it in.
    """
    chosen = choose_dataset(data, source, dataset)
    records = load(chosen.schema, source, fmt)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = find_optional(directory, chosen.name) or directory / f"{chosen.name}.jsonl"
    return Written(chosen.name, target, replace_atomically(chosen.schema, records, target))


def generate_files(data: AdapterData[Any], out: Path, *, size: int, seed: int,
                   fmt: str = "jsonl", dataset: str | None = None) -> list[Written]:
    """Write synthetic records in the import format: ``out/<dataset>.<fmt>`` for each data set.

    With `dataset`, only that data set is written, to `out` itself when `out`
    ends in ``.jsonl`` or ``.csv``.
    """
    chosen = data.datasets if dataset is None else (choose_dataset(data, out, dataset),)
    if dataset is not None and out.suffix.lower() in (".jsonl", ".csv"):
        out.parent.mkdir(parents=True, exist_ok=True)
        targets = {chosen[0].name: out}
    else:
        out.mkdir(parents=True, exist_ok=True)
        targets = {d.name: out / f"{d.name}.{fmt}" for d in chosen}
    records = data.generate(size, seed)
    # Atomically, like an import: `out` may be a running adapter's data directory.
    return [Written(d.name, targets[d.name],
                    replace_atomically(d.schema, records[d.name], targets[d.name]))
            for d in chosen]
