"""Structured JSON logging for broker and adapters (structlog to stderr).

Log lines carry ids, digests, codes and timings; never payloads, names or
document numbers. Call `configure()` once at process start.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


def configure(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog for one process: JSON lines (or console for humans) on stderr."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json
        else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _LiveStderr())),
        cache_logger_on_first_use=True,
    )


class _LiveStderr:
    """sys.stderr looked up at each write, not at configure time.

    Loggers are cached on first use; a cached logger must follow a later swap
    of sys.stderr (pytest's capture, a supervisor redirecting output) instead
    of writing to a stream that has since been closed.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
