"""The store's files are private, and database errors never show the DSN or password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk.errors import AuditUnavailable, ConfigError

from broker.audit import open_store
from broker.audit.config import AuditConfig
from broker.audit.dialect import Postgres, SQLite
from broker.audit.record import AuditEvent
from g2g_cli.main import main
from tests.pg import pg_schema

SECRET = "s3cret-Pw"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.asyncio
async def test_sqlite_log_files_and_new_directories_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "audit" / "audit.db"
    store = await open_store(AuditConfig(path=path), log_key=Ed25519PrivateKey.generate(),
                             instance_id="t")
    try:
        from datetime import UTC, datetime
        await store.append(AuditEvent(kind="rejected", time=datetime.now(UTC), message_id="m-1"))
        files = [path, path.with_name("audit.db-wal"), path.with_name("audit.db-shm"),
                 path.with_name("audit.db.writer-lock")]
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(path.parent) == 0o700
    finally:
        await store.close()


def test_a_world_readable_log_from_before_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    SQLite(path).connect().close()
    os.chmod(path, 0o644)
    SQLite(path).connect().close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("dsn", [
    f"postgresql://auditor:{SECRET}@127.0.0.1:1/audit",  # nothing listens on port 1
    f"host=127.0.0.1 port=1 password={SECRET} sslmode",  # not a connection string
    f"postgresql://auditor:{SECRET}@127.0.0.1:1/audit?no_such_option=1",
])
def test_connection_errors_never_quote_the_dsn(dsn: str) -> None:
    with pytest.raises(AuditUnavailable) as info:
        Postgres(dsn).connect()
    assert SECRET not in info.value.message
    assert info.value.message.startswith("cannot connect to the audit database: ")


def test_the_cli_never_prints_the_dsn(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      pki_dir: Path) -> None:
    config = tmp_path / "broker.yaml"
    config.write_text(
        f"broker:\n  listen: 127.0.0.1:0\nregistry: r.yaml\npki_dir: {pki_dir}\n"
        f"policies: p\naudit:\n  backend: postgres\n"
        f"  dsn: postgresql://auditor:{SECRET}@127.0.0.1:1/audit\n")
    assert main(["audit", "--config", str(config), "tail"]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert err.startswith("g2g: AUDIT_UNAVAILABLE: cannot connect to the audit database")


@pytest.mark.postgres
def test_the_password_can_come_from_a_private_file(tmp_path: Path) -> None:
    secret = tmp_path / "pgpass"
    secret.write_text("from-the-file\n")
    secret.chmod(0o600)
    for dsn in pg_schema():
        conn = Postgres(dsn, password_file=secret).connect()
        try:
            assert conn.info.password == "from-the-file"  # sent to libpq, not in the YAML
        finally:
            conn.close()
        secret.chmod(0o644)
        with pytest.raises(ConfigError) as info:
            Postgres(dsn, password_file=secret).connect()
        assert "must be 0600" in info.value.message


@pytest.mark.postgres
def test_the_password_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    for dsn in pg_schema():
        conn = Postgres(dsn).connect()
        try:
            assert conn.info.password == "from-the-environment"
        finally:
            conn.close()
