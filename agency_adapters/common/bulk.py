"""Building large in-memory data (a national list: a million records, millions of
index entries) without the cyclic garbage collector's passes over it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) for the block.

    Bulk building allocates millions of containers and no reference cycles, so the
    collector's generational passes (each full one walks every live object, the
    records already built included) find nothing: about a sixth of a million-record
    build. Memory is still freed by reference counting; cycles made elsewhere in the
    meantime are collected when the block ends. Nested or concurrent use leaves the
    collector as the outermost caller found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
