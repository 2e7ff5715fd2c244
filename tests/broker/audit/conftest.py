"""Audit stores on both backends: SQLite in a temp dir, PostgreSQL in a fresh schema.

With CI=true a missing PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.audit import AuditConfig, AuditStore, open_store
from tests.pg import PG_BASE, pg_schema

# The names this module had before tests/pg.py, for tests that import them from here.
_pg_schema = pg_schema
__all__ = ["PG_BASE", "_pg_schema"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditConfig]:
    if request.param == "sqlite":
        yield AuditConfig(backend="sqlite", path=tmp_path / "audit.db", checkpoint_every=10,
                          checkpoint_seconds=60)
    else:
        for dsn in pg_schema():
            yield AuditConfig(backend="postgres", dsn=dsn, checkpoint_every=10,
                              checkpoint_seconds=60)


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def store(audit_config: AuditConfig, log_key: Ed25519PrivateKey
                ) -> AsyncIterator[AuditStore]:
    s = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    try:
        yield s
    finally:
        await s.close()
