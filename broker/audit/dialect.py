"""The two storage backends' differences, and nothing else: connect, schema, lock.

SQLite (embedded default, WAL, synchronous=FULL) and PostgreSQL share every
query; writers serialise on a lock so sequence numbers stay dense and the tree
never forks even with several broker processes on one store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from g2g_sdk.errors import AuditUnavailable, ConfigError
from g2g_sdk.keys import check_private_mode

from broker.audit.config import AuditConfig

TABLES = """
CREATE TABLE IF NOT EXISTS records (
  seq {int} PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, message_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL, consumer TEXT NOT NULL, provider TEXT NOT NULL,
  service TEXT NOT NULL, purpose TEXT NOT NULL, decision TEXT NOT NULL,
  status_code TEXT NOT NULL, instance_id TEXT NOT NULL, record {blob} NOT NULL,
  leaf_hash {blob} NOT NULL);
CREATE INDEX IF NOT EXISTS records_message ON records (message_id);
CREATE INDEX IF NOT EXISTS records_consumer ON records (consumer, seq);
CREATE INDEX IF NOT EXISTS records_provider ON records (provider, seq);
CREATE INDEX IF NOT EXISTS records_time ON records (time);
CREATE TABLE IF NOT EXISTS subjects (key TEXT NOT NULL, seq {int} NOT NULL,
  PRIMARY KEY (key, seq));
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx {int} NOT NULL,
  hash {blob} NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS checkpoints (size {int} PRIMARY KEY, root {blob} NOT NULL,
  note TEXT NOT NULL, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_sets (version TEXT PRIMARY KEY, sources TEXT NOT NULL,
  first_loaded TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry_versions (version TEXT PRIMARY KEY, sources TEXT NOT NULL,
  first_loaded TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (claim TEXT PRIMARY KEY, expires {int} NOT NULL);
CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires);
CREATE TABLE IF NOT EXISTS rate_counts (counter TEXT NOT NULL, window_start {int} NOT NULL,
  used {int} NOT NULL, expires {int} NOT NULL, PRIMARY KEY (counter, window_start));
"""


class Dialect(Protocol):
    @property
    def name(self) -> str: ...

    def connect(self) -> Any: ...
    def sql(self, query: str) -> str: ...
    def begin_write(self, cur: Any) -> None: ...
    def writer_lock(self) -> WriterLock: ...
    def describe(self) -> str: ...


class WriterLock(AbstractContextManager[None], Protocol):
    """Held by a store's writer around each write transaction."""

    def close(self) -> None: ...


class FileLock:
    """An exclusive flock held around each write transaction, across processes.

    With several broker workers on one SQLite file, a writer finding the
    database locked would otherwise wait in SQLite's busy handler, which
    sleeps 1, 2, 5 … up to 100 ms between tries; a blocked flock wakes as
    soon as the holder lets go, so the workers' commits queue back to back.
    The wait has no timeout: the kernel drops the lock of a writer that dies,
    and a writer stuck in its storage would hold SQLite's own lock as well;
    callers' deadlines end those requests, and nothing unrecorded is forwarded.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


@dataclass(frozen=True)
class SQLite:
    path: Path
    synchronous: Literal["full", "normal"] = "full"
    name: str = "sqlite"

    def connect(self) -> sqlite3.Connection:
        _private_file(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        # full (default): a commit survives power loss, not just a process crash.
        # normal: in WAL mode a commit survives the process being killed but not
        # the machine losing power; for storage with its own power-loss protection.
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(TABLES.format(int="INTEGER", blob="BLOB"))
        return conn

    def sql(self, query: str) -> str:
        return query

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def writer_lock(self) -> FileLock:
        return FileLock(self.path.with_name(self.path.name + ".writer-lock"))

    def describe(self) -> str:
        return f"sqlite:{self.path}"


def _private_file(path: Path) -> None:
    """Create the log's directory (0700) and file (0600) before SQLite opens it.

    SQLite gives the -wal and -shm files the database file's mode, so all three
    are private; a log created earlier with a looser mode is tightened.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Only a file that does not exist yet is opened here: closing any descriptor of
    # a database file drops every POSIX lock this process holds on it, including
    # those of open SQLite connections (which then lose commits to other readers).
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


@dataclass(frozen=True)
class Postgres:
    dsn: str
    password_file: Path | None = None
    name: str = "postgres"
    LOCK_ID = 0x6732_6761_7564  # "g2gaud": one advisory lock serialises all writers

    def connect(self) -> Any:
        """Connect (libpq also reads PGPASSWORD / PGPASSFILE); errors never quote the DSN."""
        import psycopg

        # A keyword given to connect overrides the same one in the DSN.
        extra: dict[str, Any] = {"password": self._password()} if self.password_file else {}
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, **extra)
        except psycopg.Error as exc:
            raise AuditUnavailable(f"cannot connect to the audit database: "
                                   f"{_connect_failure(exc, self.dsn)}") from None
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (self.LOCK_ID,))
            try:
                for statement in TABLES.format(int="BIGINT", blob="BYTEA").split(";"):
                    if statement.strip():
                        cur.execute(statement)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (self.LOCK_ID,))
        return conn

    def sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.LOCK_ID,))

    def writer_lock(self) -> WriterLock:
        return _NoLock()  # the advisory lock queues waiters itself

    def describe(self) -> str:
        return "postgres"

    def _password(self) -> str:
        """The password in `password_file` (first line), read at every connect."""
        assert self.password_file is not None
        try:
            check_private_mode(self.password_file)
            return self.password_file.read_text(encoding="utf-8").split("\n", 1)[0]
        except OSError as exc:
            raise ConfigError(f"cannot read the audit database password: {exc.strerror}",
                              file=str(self.password_file), field="audit.password_file") \
                from None


def _connect_failure(exc: Exception, dsn: str) -> str:
    """Why a connection failed, without the DSN or anything from it.

    libpq's own connection errors (refused, authentication failed) name host and
    user, never the password; a DSN it cannot parse is quoted back in fragments,
    so for those only the type is said.
    """
    import psycopg

    sqlstate = getattr(exc, "sqlstate", None)
    where = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    if isinstance(exc, psycopg.OperationalError):
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if text and dsn not in text and not _quotes_secret(text, dsn):
            return f"{text}{where}"
    if isinstance(exc, psycopg.ProgrammingError):
        return "the dsn is not a valid libpq connection string (not shown: it may hold a password)"
    return f"{type(exc).__name__}{where}"


def _quotes_secret(text: str, dsn: str) -> bool:
    import psycopg

    try:
        password = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        return True
    return bool(password) and str(password) in text


class _NoLock(contextlib.nullcontext[None]):
    def close(self) -> None:
        return None


def dialect_for(config: AuditConfig) -> SQLite | Postgres:
    if config.backend == "postgres":
        return Postgres(config.dsn, config.password_file)
    return SQLite(config.path, config.synchronous)
