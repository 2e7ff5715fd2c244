"""Read a federation's audit records straight from its store (tests only)."""

from __future__ import annotations

import asyncio
from typing import Any

from broker.audit.dialect import dialect_for
from broker.audit.log import Filters, LogReader
from g2g_harness.federation import LocalFederation


def _read(federation: LocalFederation) -> list[dict[str, Any]]:
    dialect = dialect_for(federation.config.audit)
    conn = dialect.connect()
    try:
        return LogReader(dialect, conn).query(Filters(limit=1_000_000))
    finally:
        conn.close()


async def read_records(federation: LocalFederation) -> list[dict[str, Any]]:
    return await asyncio.to_thread(_read, federation)
