"""Logging: a logger cached on first use follows later swaps of sys.stderr."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from g2g_sdk.logs import configure


def test_a_cached_logger_writes_to_the_stderr_of_the_moment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure("INFO")
    log = structlog.get_logger("g2g.test")
    log.info("before", n=1)  # caches the logger with the stream of the moment
    monkeypatch.setattr("sys.stderr", second)
    log.info("after", n=2)
    assert [json.loads(line)["event"] for line in first.getvalue().splitlines()] == ["before"]
    assert [json.loads(line)["event"] for line in second.getvalue().splitlines()] == ["after"]
