"""`g2g audit ...`: read, verify and prove the exchange log (auditors' tools)."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

COLUMNS = ("seq", "time", "kind", "consumer", "provider", "service", "purpose", "decision",
           "rule_id", "status_code", "reason", "message_id")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="query, verify and prove the audit log")
    parser.add_argument("--config", type=Path, default=Path("config/broker.yaml"))
    sub = parser.add_subparsers(dest="audit_command", required=True)
    tail = sub.add_parser("tail", help="print the latest records (and follow with -f)")
    tail.add_argument("-n", type=int, default=20)
    tail.add_argument("-f", "--follow", action="store_true")
    tail.set_defaults(handler=_tail)
    verify = sub.add_parser("verify", help="recompute the tree, check every checkpoint")
    verify.add_argument("--from-checkpoint", type=Path, action="append", default=[],
                        help="a checkpoint note saved earlier that the log must still contain")
    verify.set_defaults(handler=_verify)
    query = sub.add_parser("query", help="records matching filters")
    for name in ("agency", "consumer", "provider", "service", "purpose", "decision", "kind",
                 "message-id"):
        query.add_argument(f"--{name}", default="")
    query.add_argument("--status", default="", help="gRPC status name, e.g. PERMISSION_DENIED")
    query.add_argument("--since", default="", help="ISO time, inclusive")
    query.add_argument("--until", default="", help="ISO time, exclusive")
    query.add_argument("--name", default="", help="subject full name (with --dob)")
    query.add_argument("--dob", default="", help="subject date of birth")
    query.add_argument("--document", default="",
                       help="subject document number (passport, travel document)")
    query.add_argument("--national-id", default="", help="subject national id number")
    query.add_argument("--limit", type=int, default=1000)
    query.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
    query.set_defaults(handler=_query)
    proof = sub.add_parser("proof", help="inclusion proof of one record against a checkpoint")
    proof.add_argument("--seq", type=int, required=True)
    proof.set_defaults(handler=_proof)
    cons = sub.add_parser("consistency", help="consistency proof between two tree sizes")
    cons.add_argument("old", type=int)
    cons.add_argument("new", type=int)
    cons.set_defaults(handler=_consistency)
    cp = sub.add_parser("checkpoint", help="print the latest signed checkpoint note")
    cp.set_defaults(handler=_checkpoint)


@contextmanager
def _reader(args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """(LogReader, BrokerConfig) for the configured store."""
    from broker.audit.dialect import dialect_for
    from broker.audit.log import LogReader
    from broker.config import load_config

    config = load_config(args.config)
    dialect = dialect_for(config.audit)
    conn = dialect.connect()
    try:
        yield LogReader(dialect, conn), config
    finally:
        conn.close()


def _row(record: dict[str, Any]) -> list[str]:
    return [str(record.get(c, "")) for c in COLUMNS]


def _print_table(records: list[dict[str, Any]]) -> None:
    rows = [list(COLUMNS), *(_row(r) for r in records)]
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(COLUMNS))]
    for r in rows:
        print("  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _tail(args: argparse.Namespace) -> int:
    from broker.audit.log import Filters

    with _reader(args) as (reader, _config):
        start = max(reader.size() - args.n, 0)
        records = reader.query(Filters(from_seq=start, limit=args.n))
        _print_table(records)
        while args.follow:
            start = (records[-1]["seq"] + 1) if records else start
            time.sleep(1.0)
            records = reader.query(Filters(from_seq=start, limit=1000))
            for r in records:
                print("  ".join(_row(r)))
    return 0


def _log_key(config: Any) -> Any:
    from broker.protocol import keys

    return keys.load_public_key(config.pki_dir / "broker" / "log.pub")


def _verify(args: argparse.Namespace) -> int:
    from broker.audit.verify import verify_log

    with _reader(args) as (reader, config):
        pinned = [p.read_text(encoding="utf-8") for p in args.from_checkpoint]
        report = verify_log(reader, config.audit.origin, _log_key(config), pinned)
    for problem in report.problems:
        print(f"FAIL: {problem}")
    status = "OK" if report.ok else f"TAMPERED (first bad record: {report.first_bad_seq})"
    print(f"{status}: {report.size} records, {report.checkpoints} checkpoint(s) verified, "
          f"{report.unsigned_tail} record(s) after the latest checkpoint")
    return 0 if report.ok else 2


def _query(args: argparse.Namespace) -> int:
    from broker.audit import subjects
    from broker.audit.log import Filters
    from broker.protocol import pki

    with _reader(args) as (reader, config):
        subject = ""
        if args.name or args.document:
            secret = pki.load_log_secret(config.pki_dir)
            subject = (subjects.document_key(secret, args.document) if args.document
                       else subjects.name_dob_key(secret, args.name, args.dob))
        records = reader.query(Filters(
            agency=args.agency, consumer=args.consumer, provider=args.provider,
            service=args.service, purpose=args.purpose, decision=args.decision,
            status_code=args.status, kind=args.kind, message_id=args.message_id,
            since=args.since, until=args.until, subject=subject, limit=args.limit))
    if args.format == "jsonl":
        for r in records:
            print(json.dumps(r, sort_keys=True, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(COLUMNS)
        writer.writerows(_row(r) for r in records)
    else:
        _print_table(records)
    return 0


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in items]


def _proof(args: argparse.Namespace) -> int:
    from broker.audit.merkle import verify_inclusion

    with _reader(args) as (reader, _config):
        latest = reader.latest_checkpoint()
        if latest is None or args.seq >= latest[0]:
            print(f"g2g: record {args.seq} is not covered by a signed checkpoint yet",
                  file=sys.stderr)
            return 1
        size, root, note = latest
        found = reader.record(args.seq)
        if found is None:
            print(f"g2g: no record {args.seq}", file=sys.stderr)
            return 1
        data, leaf = found
        path = reader.inclusion_proof(args.seq, size)
    ok = verify_inclusion(args.seq, size, leaf, path, root)
    print(json.dumps({"seq": args.seq, "tree_size": size, "leaf_hash": _b64([leaf])[0],
                      "record": json.loads(data), "inclusion_proof": _b64(path),
                      "checkpoint": note, "verified": ok}, indent=2, ensure_ascii=False))
    return 0 if ok else 2


def _consistency(args: argparse.Namespace) -> int:
    from broker.audit.merkle import verify_consistency

    with _reader(args) as (reader, _config):
        if not 0 < args.old <= args.new <= reader.size():
            print(f"g2g: sizes must satisfy 0 < old <= new <= {reader.size()}", file=sys.stderr)
            return 1
        old_root, new_root = reader.root(args.old), reader.root(args.new)
        path = reader.consistency_proof(args.old, args.new)
    ok = verify_consistency(args.old, args.new, old_root, new_root, path)
    print(json.dumps({"old_size": args.old, "new_size": args.new,
                      "old_root": _b64([old_root])[0], "new_root": _b64([new_root])[0],
                      "consistency_proof": _b64(path), "verified": ok}, indent=2))
    return 0 if ok else 2


def _checkpoint(args: argparse.Namespace) -> int:
    with _reader(args) as (reader, _config):
        latest = reader.latest_checkpoint()
    if latest is None:
        print("g2g: no checkpoint yet", file=sys.stderr)
        return 1
    sys.stdout.write(latest[2])
    return 0
