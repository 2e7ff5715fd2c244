"""The broker config's `audit:` section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from g2g_sdk import yamlsrc


@dataclass(frozen=True)
class AuditConfig:
    """Where the log lives and how often checkpoints are published."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: Path = Path("var/audit.db")
    dsn: str = ""
    password_file: Path | None = None  # PostgreSQL only; else libpq's PGPASSWORD/PGPASSFILE
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 10.0
    origin: str = "g2g-dev/audit"
    reconnect_seconds: float = 5.0  # after losing the database connection
    synchronous: Literal["full", "normal"] = "full"  # SQLite only; see docs/AUDIT.md
    # Under load, how long the writer waits for more records before it commits
    # (group commit window); a record that arrives alone never waits.
    commit_delay_ms: float = 2.0


FIELDS = {"backend", "path", "dsn", "password_file", "checkpoint_every", "checkpoint_seconds",
           "origin", "reconnect_seconds", "synchronous", "commit_delay_ms"}


def parse_audit_config(node: yamlsrc.Node | None, base: Path) -> AuditConfig:
    """Parse the section; without one, an SQLite log next to the config."""
    if node is None:
        return AuditConfig(path=base / "audit.db")
    f = node.mapping(allowed=FIELDS, required={"backend"})
    backend = f["backend"].str()
    defaults = AuditConfig()
    common: dict[str, Any] = {
        "checkpoint_every": f["checkpoint_every"].int(minimum=1)
        if "checkpoint_every" in f else defaults.checkpoint_every,
        "checkpoint_seconds": f["checkpoint_seconds"].float()
        if "checkpoint_seconds" in f else defaults.checkpoint_seconds,
        "origin": f["origin"].str() if "origin" in f else defaults.origin,
        "reconnect_seconds": f["reconnect_seconds"].float()
        if "reconnect_seconds" in f else defaults.reconnect_seconds,
        "commit_delay_ms": _commit_delay(f["commit_delay_ms"])
        if "commit_delay_ms" in f else defaults.commit_delay_ms,
    }
    if backend == "sqlite":
        if "dsn" in f:
            raise f["dsn"].error("the sqlite backend takes a path, not a dsn")
        if "password_file" in f:
            raise f["password_file"].error("password_file is a postgres setting")
        path = base / f["path"].str() if "path" in f else base / "audit.db"
        synchronous: Literal["full", "normal"] = defaults.synchronous
        if "synchronous" in f:
            value = f["synchronous"].str()
            if value not in ("full", "normal"):
                raise f["synchronous"].error("synchronous is 'full' or 'normal'")
            synchronous = "full" if value == "full" else "normal"
        return AuditConfig(backend="sqlite", path=path, synchronous=synchronous, **common)
    if backend == "postgres":
        if "dsn" not in f:
            raise node.error("the postgres backend needs a dsn", field=node.path + ".dsn")
        if "synchronous" in f:
            raise f["synchronous"].error(
                "synchronous is an SQLite setting; PostgreSQL commits follow the server's")
        password_file = base / f["password_file"].str() if "password_file" in f else None
        return AuditConfig(backend="postgres", dsn=f["dsn"].str(), password_file=password_file,
                           **common)
    raise f["backend"].error("backend is 'sqlite' or 'postgres'")


MAX_COMMIT_DELAY_MS = 50.0  # every record waits up to this long: keep it well below deadlines


def _commit_delay(node: yamlsrc.Node) -> float:
    value = node.float()
    if not 0.0 <= value <= MAX_COMMIT_DELAY_MS:
        raise node.error(f"commit_delay_ms is between 0 and {MAX_COMMIT_DELAY_MS:g}")
    return value
