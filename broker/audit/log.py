"""Read side of the audit log: records, tree nodes, roots, proofs, checkpoints.

Synchronous over one connection (callers run it in a thread); shared by the
writer (inside its transaction), `g2g audit` and the Audit gRPC service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from broker.audit import merkle
from broker.audit.dialect import Dialect

# The largest integer SQLite and PostgreSQL store; a requested seq past it (an
# AuditQuery's uint64 from_seq) is past every record rather than a bind error.
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class Filters:
    """Record filters; every given one must hold."""

    agency: str = ""          # as consumer or provider
    consumer: str = ""
    provider: str = ""
    service: str = ""
    purpose: str = ""
    decision: str = ""
    status_code: str = ""
    kind: str = ""
    message_id: str = ""
    since: str = ""           # ISO 8601 UTC, inclusive
    until: str = ""           # exclusive
    subject: str = ""         # keyed subject hash
    from_seq: int = 0
    to_seq: int | None = None  # exclusive
    limit: int = 1000


class LogReader:
    """Queries over one open connection of a dialect."""

    def __init__(self, dialect: Dialect, conn: Any) -> None:
        self.dialect = dialect
        self.conn = conn
        self._cache: dict[tuple[int, int], bytes] = {}

    def remember_nodes(self, nodes: dict[tuple[int, int], bytes]) -> None:
        """Cache tree nodes the caller is writing, so later proofs need no lookup.

        Only for nodes of a transaction that commits; see `forget_cached_nodes`.
        """
        self._cache.update(nodes)

    def forget_cached_nodes(self) -> None:
        """Drop cached tree nodes (after a write that did not commit: they may be wrong)."""
        self._cache.clear()

    def _one(self, query: str, params: Sequence[object] = ()) -> Any:
        cur = self.conn.execute(self.dialect.sql(query), tuple(params))
        return cur.fetchone()

    def size(self) -> int:
        row = self._one("SELECT COALESCE(MAX(seq) + 1, 0) FROM records")
        return int(row[0])

    def node(self, level: int, idx: int) -> bytes:
        # Complete subtrees never change, so caching them is always safe.
        key = (level, idx)
        if key not in self._cache:
            row = self._one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx))
            if row is None:
                raise LookupError(f"tree node ({level}, {idx}) is missing")
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = bytes(row[0])
        return self._cache[key]

    def root(self, size: int) -> bytes:
        return merkle.EMPTY_ROOT if size == 0 else merkle.subtree_from_nodes(self.node, 0, size)

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(
            seq, size, lambda a, b: merkle.subtree_from_nodes(self.node, a, b))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(
            old, new, lambda a, b: merkle.subtree_from_nodes(self.node, a, b))

    def record(self, seq: int) -> tuple[bytes, bytes] | None:
        row = self._one("SELECT record, leaf_hash FROM records WHERE seq = ?", (seq,))
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def scan(self, start: int = 0, end: int | None = None,
             batch: int = 5000) -> Iterator[tuple[int, bytes, bytes, tuple[Any, ...]]]:
        """(seq, record bytes, stored leaf hash, indexed columns + tree leaf) in seq order."""
        pos = start
        while end is None or pos < end:
            cur = self.conn.execute(self.dialect.sql(
                "SELECT r.seq, r.record, r.leaf_hash, r.time, r.kind, r.message_id, "
                "r.correlation_id, r.consumer, r.provider, r.service, r.purpose, r.decision, "
                "r.status_code, r.instance_id, n.hash FROM records r "
                "LEFT JOIN nodes n ON n.level = 0 AND n.idx = r.seq "
                "WHERE r.seq >= ? ORDER BY r.seq LIMIT ?"), (pos, batch))
            rows = cur.fetchall()
            if not rows:
                return
            for row in rows:
                if end is not None and row[0] >= end:
                    return
                yield int(row[0]), bytes(row[1]), bytes(row[2]), tuple(row[3:])
            pos = int(rows[-1][0]) + 1

    def query(self, f: Filters) -> list[dict[str, Any]]:
        """Matching records, decoded."""
        return [json.loads(data) for data in self.query_bytes(f)]

    def query_bytes(self, f: Filters) -> list[bytes]:
        """Matching records as their exact stored (hashed) bytes."""
        where: list[str] = ["seq >= ?"]
        params: list[object] = [min(f.from_seq, MAX_SEQ)]
        for column in ("consumer", "provider", "service", "purpose", "decision",
                       "status_code", "kind", "message_id"):
            value = getattr(f, column)
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if f.to_seq is not None:
            where.append("seq < ?")
            params.append(min(f.to_seq, MAX_SEQ))
        if f.agency:
            where.append("(consumer = ? OR provider = ?)")
            params += [f.agency, f.agency]
        if f.since:
            where.append("time >= ?")
            params.append(f.since)
        if f.until:
            where.append("time < ?")
            params.append(f.until)
        if f.subject:
            where.append("seq IN (SELECT seq FROM subjects WHERE key = ?)")
            params.append(f.subject)
        # Only fixed column names are interpolated; every value is a bound parameter.
        query = f"SELECT record FROM records WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"  # noqa: S608
        cur = self.conn.execute(self.dialect.sql(query),
            (*params, f.limit))
        return [bytes(row[0]) for row in cur.fetchall()]

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        cur = self.conn.execute("SELECT size, root, note FROM checkpoints ORDER BY size")
        return [(int(r[0]), bytes(r[1]), str(r[2])) for r in cur.fetchall()]

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        row = self._one("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def latest_checkpoint_size(self) -> int:
        """The size of the latest checkpoint, 0 if none (without reading its root and note)."""
        row = self._one("SELECT MAX(size) FROM checkpoints")
        return int(row[0]) if row is not None and row[0] is not None else 0

    def policy_sources(self, version: str) -> dict[str, str] | None:
        row = self._one("SELECT sources FROM policy_sets WHERE version = ?", (version,))
        return None if row is None else dict(json.loads(row[0]))

    def registry_sources(self, version: str) -> dict[str, str] | None:
        """The files of registry `version` (the registry YAML and the CA's published keys)."""
        row = self._one("SELECT sources FROM registry_versions WHERE version = ?", (version,))
        return None if row is None else dict(json.loads(row[0]))
