"""The broker process's periodic count of answered exchanges (what `g2g up` shows)."""

from __future__ import annotations

import asyncio
from collections import Counter

from broker.server import report_tally


async def test_the_final_report_counts_every_answered_exchange() -> None:
    tally: Counter[str] = Counter({"OK": 2, "PERMISSION_DENIED": 1})
    stopped = asyncio.Event()
    stopped.set()
    reports: list[dict[str, int]] = []
    await report_tally(tally, stopped, emit=reports.append)
    assert reports == [{"OK": 2, "PERMISSION_DENIED": 1}]


async def test_nothing_is_reported_while_nothing_happened() -> None:
    stopped = asyncio.Event()
    stopped.set()
    reports: list[dict[str, int]] = []
    await report_tally(Counter(), stopped, emit=reports.append)
    assert reports == []
