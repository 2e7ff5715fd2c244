"""Structured JSON logging for broker and adapters (structlog to stderr).

Log lines carry ids, digests, codes and timings; never payloads, names or
document numbers. Call `configure()` once at process start.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, cast

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


_NATIVE_LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "critical"}
_NATIVE_MAX = 1000  # characters kept of a native line


def native_event(line: str) -> str:
    """`line` if it is already a JSON event, else the same text as one JSON event.

    gRPC's C core writes lines like ``E1201 23:21:53.65 29424 add_port.cc:83] text``;
    their level letter and source become fields, the text is kept (bounded).
    """
    line = line.rstrip("\n")
    if line.startswith("{") and line.endswith("}"):
        with contextlib.suppress(ValueError):
            json.loads(line)
            return line
    level = _NATIVE_LEVELS.get(line[:1], "info")
    head, sep, text = line.partition("] ")
    event: dict[str, str] = {"event": "native_log", "level": level}
    if sep and line[:1] in _NATIVE_LEVELS and " " in head:
        event["source"] = head.rsplit(" ", 1)[-1]
    else:
        text = line
    event["message"] = text[:_NATIVE_MAX]
    event["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(event)


def json_stderr() -> None:
    """Make every line this process (and its children) writes to stderr a JSON event.

    For servers whose stderr is a log file (`g2g up`, systemd): gRPC's C core and
    the interpreter write plain text on file descriptor 2. That descriptor becomes
    a pipe whose lines a thread passes through as JSON events (`native_event`);
    Python's own stderr writes to the original file, line by line through the
    same conversion (so structlog's lines are never delayed by the thread). Uncaught and
    unraisable exceptions, and stdlib `logging` records (grpc, asyncio), are
    logged as events with the exception's type and place only, never its text
    or a traceback (either may quote request data). Call after `configure()`.
    """
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sink = _JsonLines(os.fdopen(original, "w", buffering=1, encoding="utf-8",
                                errors="replace"))
    sys.stderr = cast(TextIO, sink)
    pump = threading.Thread(target=_pump_native, args=(read_end, sink), name="native-stderr",
                            daemon=True)
    pump.start()

    def finish() -> None:
        # Hand descriptor 2 back to the file: the pipe's last writer closes (children
        # aside), so the thread reads to the end before the process exits.
        os.dup2(sink.fileno(), 2)
        pump.join(timeout=1.0)

    atexit.register(finish)
    log = structlog.get_logger("g2g")

    def uncaught(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        log.critical("uncaught_exception", **fault_fields(exc))

    def uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            log.error("thread_exception", thread=args.thread.name if args.thread else "",
                      **fault_fields(args.exc_value))

    def unraisable(args: Any) -> None:
        if args.exc_value is not None:
            log.warning("unraisable_exception", **fault_fields(args.exc_value))

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread
    sys.unraisablehook = unraisable
    root = logging.getLogger()
    root.handlers[:] = [_ToStructlog()]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings too become events, not plain lines


class _JsonLines:
    """A text stream that writes each complete line to `out` as a JSON event."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:
                self._out.write(native_event(line) + "\n")
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def fileno(self) -> int:
        return self._out.fileno()

    def isatty(self) -> bool:
        return False


def _pump_native(fd: int, sink: _JsonLines) -> None:
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            sink.write(line if line.endswith("\n") else line + "\n")
            sink.flush()


class _ToStructlog(logging.Handler):
    """stdlib logging records (grpc, asyncio) as structlog JSON events."""

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, str] = {"logger": record.name}
        if record.exc_info and record.exc_info[1] is not None:
            fields |= fault_fields(record.exc_info[1])
        # The message is the library's own text; its arguments may quote data.
        structlog.get_logger("g2g").log(record.levelno, str(record.msg)[:_NATIVE_MAX],
                                        **fields)
