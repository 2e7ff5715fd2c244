"""Structured JSON logging for broker and adapters (structlog to stderr).

Log lines carry ids, digests, codes and timings; never payloads, names or
document numbers. Call `configure()` once at process start.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import TextIO, cast

import structlog


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of the write.

    Loggers are cached on first use; one bound to the stream object that was
    current at `configure()` time would keep writing to it after a caller (the
    in-process demo, a test's capture) swapped and closed it, and a log line
    would then fail the request that logged it.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


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
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=True,
    )


def fault_fields(exc: BaseException) -> dict[str, str]:
    """Log fields for an unexpected exception: its type and where it was raised.

    Never its text or a traceback's locals: either may quote request data.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    at = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return {"error_type": type(exc).__name__, "at": at}


def discard_stdout() -> None:
    """Point this process's stdout at /dev/null (its reader is gone or never reads again).

    A later write, or the interpreter's final flush, then neither blocks on a full
    pipe nor raises on a closed one.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
