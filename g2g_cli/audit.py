"""`g2g audit ...`: read, verify and prove the exchange log (auditors' tools).

Two modes, one output. Locally (on the broker host) the commands read the
store named by the deployment's broker config. With ``--as AUDITOR`` they read
a remote broker's `g2g.v1.Audit` service over mutual TLS with the auditor's own
certificate (`g2g_cli.audit_remote`), needing no broker config, database or log
secret; the broker decides by registry role what that auditor may see, and
audits every read.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from g2g_sdk.errors import ConfigError

from g2g_cli import deployment

FILTERS = {
    "agency": "where this agency is consumer or provider",
    "consumer": "from this consumer agency",
    "provider": "to this provider agency",
    "service": "of this service (pkg.Service/Method)",
    "purpose": "with this declared purpose",
    "decision": "with this policy decision (allow or deny)",
    "kind": "of this kind (request, outcome, rejected, audit_read, ...)",
    "message-id": "of this request message id",
}
COLUMNS = ("seq", "time", "kind", "consumer", "provider", "service", "purpose", "decision",
           "rule_id", "status_code", "reason", "message_id")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="query, verify and prove the audit log")
    deployment.add_config_option(parser)
    remote = parser.add_argument_group(
        "remote (an auditor's own machine)",
        "read a broker's Audit service over mTLS instead of the local store")
    remote.add_argument("--as", dest="auditor", metavar="AGENCY",
                        help="your auditor agency id (registry role auditor or "
                             "federation-auditor); switches to remote mode")
    remote.add_argument("--broker", metavar="HOST:PORT",
                        help="the broker's address (default: the registry's broker endpoint)")
    remote.add_argument("--registry", type=Path, metavar="FILE",
                        help="the federation registry (default: the deployment's)")
    remote.add_argument("--pki-dir", type=Path, metavar="DIR",
                        help="holds ca.crt and your own key and certificate (default: the "
                             "deployment's pki_dir)")
    remote.add_argument("--log-key", metavar="PEM_OR_VKEY",
                        help="the log public key you trust for checkpoints: a PEM file or a "
                             "vkey string (default: PKI_DIR/broker/log.pub)")
    sub = parser.add_subparsers(dest="audit_command", required=True)
    tail = sub.add_parser("tail", help="print the latest records (and follow with -f)")
    tail.add_argument("-n", type=int, default=20, metavar="N",
                      help="how many of the latest records (default 20)")
    tail.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new records as they are written (checked every second)")
    tail.set_defaults(handler=_tail)
    verify = sub.add_parser("verify", help="recompute the tree, check every checkpoint; "
                            "or check an exported bundle offline (--bundle)")
    verify.add_argument("--from-checkpoint", type=Path, action="append", default=[],
                        help="a checkpoint note saved earlier that the log (or the bundle's "
                        "checkpoint) must extend")
    verify.add_argument("--bundle", type=Path,
                        help="an exported bundle to check offline (no database needed)")
    verify.add_argument("--key", help="the log public key you trust: a PEM file "
                        "(var/pki/broker/log.pub) or a vkey string; required with --bundle")
    verify.add_argument("--unsafe-trust-embedded-key", action="store_true",
                        help="with --bundle and no --key: trust the key the bundle names for "
                        "itself. UNSAFE: anyone can re-sign a bundle with their own key")
    verify.add_argument("--records", action="store_true",
                        help="with --bundle: print its records as JSON lines once verified")
    verify.set_defaults(handler=_verify)
    query = sub.add_parser("query", help="records matching filters")
    _add_filters(query)
    query.add_argument("--limit", type=int, default=1000, metavar="N",
                       help="at most N records (default 1000)")
    query.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                       help="table for people; jsonl (every field) or csv for tools")
    query.add_argument("--notifications", action="store_true",
                       help="events: one line per event and subscriber (notified, delivered, "
                       "acknowledged) for the records the filters select")
    query.add_argument("--ack-deadline", default="", metavar="DURATION",
                       help="with --notifications: unacknowledged after this long (e.g. 30m, "
                       "24h, 2d) is OVERDUE")
    query.add_argument("--unacknowledged", action="store_true",
                       help="with --notifications: only those not acknowledged")
    query.set_defaults(handler=_query)
    export = sub.add_parser("export", help="a range of records with inclusion proofs, as a "
                            "bundle verifiable offline by `verify --bundle`")
    export.add_argument("--out", type=Path, required=True, help="the bundle file to write")
    export.add_argument("--from-seq", type=int, default=0, help="first record (inclusive)")
    export.add_argument("--to-seq", type=int, help="end of the range (exclusive)")
    export.add_argument("--at-size", type=int,
                        help="prove against the checkpoint of this tree size (default: latest)")
    export.add_argument("--consistent-with", type=int, metavar="SIZE",
                        help="add a consistency proof from this earlier tree size (the "
                        "recipient's checkpoint)")
    export.add_argument("--limit", type=int, default=100_000,
                        help="refuse to export more records than this")
    _add_filters(export)
    export.set_defaults(handler=_export)
    proof = sub.add_parser("proof", help="inclusion proof of one record against a checkpoint")
    proof.add_argument("--seq", type=int, required=True,
                       help="the record's sequence number (the `seq` column)")
    proof.set_defaults(handler=_proof)
    cons = sub.add_parser("consistency", help="consistency proof between two tree sizes")
    cons.add_argument("old", type=int, help="the earlier tree size (records), e.g. from a "
                                             "checkpoint you saved")
    cons.add_argument("new", type=int, help="the later tree size (records)")
    cons.set_defaults(handler=_consistency)
    cp = sub.add_parser("checkpoint", help="print the latest signed checkpoint note")
    cp.set_defaults(handler=_checkpoint)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    for name, what in FILTERS.items():
        parser.add_argument(f"--{name}", default="", help=f"only records {what}")
    parser.add_argument("--status", default="", help="gRPC status name, e.g. PERMISSION_DENIED")
    parser.add_argument("--since", default="", help="ISO time, inclusive")
    parser.add_argument("--until", default="", help="ISO time, exclusive")
    subject = parser.add_mutually_exclusive_group()
    subject.add_argument("--name", default="", help="subject full name (with --dob)")
    subject.add_argument("--document", default="",
                         help="subject document number (passport, travel document)")
    subject.add_argument("--national-id", default="", help="subject national id number")
    parser.add_argument("--dob", default="", help="subject date of birth (with --name)")


def _filters(args: argparse.Namespace, log: _Log) -> Any:
    """The Filters the command-line asks for; subjects hashed as the broker does."""
    from g2g_sdk import pki
    from g2g_sdk.errors import ConfigError

    from broker.audit import subjects
    from broker.audit.log import Filters

    subject = ""
    if bool(args.name) != bool(args.dob):
        raise ConfigError("--name and --dob go together (a person is a name and a birth date)")
    if (args.name or args.document or args.national_id) and log.secret_dir is not None:
        # Remote: the person travels to the broker, which hashes it (RemoteLog's Subject).
        subject = subjects.query_key(pki.load_log_secret(log.secret_dir), full_name=args.name,
                                     date_of_birth=args.dob, document=args.document,
                                     national_id=args.national_id)
    return Filters(
        agency=args.agency, consumer=args.consumer, provider=args.provider,
        service=args.service, purpose=args.purpose, decision=args.decision,
        status_code=args.status, kind=args.kind, message_id=args.message_id,
        since=args.since, until=args.until, subject=subject, limit=args.limit)


@dataclass(frozen=True)
class _Log:
    """What the commands read: a LogReader or a RemoteLog (same read methods), the log key
    its checkpoints are signed with, its origin, and where the log secret is (local only)."""

    reader: Any
    log_key: Any
    origin: str
    secret_dir: Path | None
    remote: bool


@contextmanager
def open_log(args: argparse.Namespace) -> Iterator[_Log]:
    """The local store of the deployment, or with ``--as`` the remote broker's Audit service.

    Also for other command groups (`g2g policy show` reads stored policy sets).
    """
    if args.auditor:
        with _remote(args) as log:
            yield log
        return
    from broker.audit.dialect import dialect_for
    from broker.audit.log import LogReader
    from broker.config import load_config

    config_path = deployment.find_config(args.config)
    config = load_config(config_path)
    if config.audit.backend == "sqlite" and not config.audit.path.is_file():
        # Opening would create an empty log, which then "verifies": say so instead.
        raise ConfigError(f"no audit log at {config.audit.path}",
                          file=str(config_path), field="audit.path")
    dialect = dialect_for(config.audit)
    conn = dialect.connect()
    try:
        yield _Log(LogReader(dialect, conn), _log_key(config.pki_dir), config.audit.origin,
                   config.pki_dir, remote=False)
    finally:
        conn.close()


@contextmanager
def _remote(args: argparse.Namespace) -> Iterator[_Log]:
    from g2g_sdk.registry import load_registry

    from g2g_cli.audit_remote import RemoteLog, Subject

    where = deployment.world(args)
    registry = load_registry(where.registry, where.pki_dir, require_keys=False)
    key_text = args.log_key or str(where.pki_dir / "broker" / "log.pub")
    if not args.log_key and not Path(key_text).is_file():
        raise ConfigError(f"no log key at {key_text}: pass --log-key (the broker operator "
                          "publishes it as log.pub or a vkey)")
    key = _trusted_key(key_text)
    reader = RemoteLog(
        args.broker or registry.broker_endpoint,
        deployment.identity(where, registry, args.auditor),
        key, broker_id=registry.broker_id,
        subject=Subject(full_name=getattr(args, "name", ""),
                        date_of_birth=getattr(args, "dob", ""),
                        document=getattr(args, "document", ""),
                        national_id=getattr(args, "national_id", "")),
        at_size=getattr(args, "at_size", None))
    try:
        latest = reader.latest_checkpoint()  # verified against the key; names the origin
        yield _Log(reader, key, latest[2].split("\n", 1)[0] if latest else "", None,
                   remote=True)
    finally:
        reader.close()


def _row(record: dict[str, Any]) -> list[str]:
    return [_printable(str(record.get(c, ""))) for c in COLUMNS]


def _json_line(value: object) -> str:
    """One JSON line, with every non-printable character escaped (still the same JSON)."""
    return _printable_json(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _printable_json(text: str) -> str:
    # Outside strings compact JSON has only printable characters, and inside one
    # a \uXXXX escape means the same character: the value is unchanged.
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "".join(
        f"\\u{unit:04x}" for unit in _utf16(c)) for c in text)


def _utf16(c: str) -> list[int]:
    data = c.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def _printable(text: str) -> str:
    """`text` with anything non-printable escaped: a rejected request's record keeps
    header fields as sent (unvalidated), and they must not drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _print_table(records: list[dict[str, Any]]) -> None:
    rows = [list(COLUMNS), *(_row(r) for r in records)]
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(COLUMNS))]
    for r in rows:
        print("  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _tail(args: argparse.Namespace) -> int:
    from broker.audit.log import Filters

    with open_log(args) as log:
        reader = log.reader
        if args.follow and log.remote:
            raise ConfigError("tail -f is local only: every remote read is itself audited, so "
                              "following would log a read a second; run tail -n again")
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


def _log_key(pki_dir: Path) -> Any:
    from g2g_sdk import keys

    return keys.load_public_key(pki_dir / "broker" / "log.pub")


def _verify(args: argparse.Namespace) -> int:
    if args.bundle:
        pinned = [p.read_text(encoding="utf-8") for p in args.from_checkpoint]
        return _verify_bundle(args.bundle, args.key, pinned, args.records,
                              unsafe_embedded=args.unsafe_trust_embedded_key)
    from broker.audit.verify import verify_log

    with open_log(args) as log:
        if log.remote:
            raise ConfigError("a remote auditor verifies what it exported: `audit --as ... "
                              "export --out FILE`, then `audit verify --bundle FILE`")
        pinned = [p.read_text(encoding="utf-8") for p in args.from_checkpoint]
        report = verify_log(log.reader, log.origin, log.log_key, pinned)
    for problem in report.problems:
        print(f"FAIL: {problem}")
    status = "OK" if report.ok else f"TAMPERED (first bad record: {report.first_bad_seq})"
    print(f"{status}: {report.size} records, {report.checkpoints} checkpoint(s) verified, "
          f"{report.unsigned_tail} record(s) after the latest checkpoint")
    return 0 if report.ok else 2


def _trusted_key(text: str) -> Any:
    from g2g_sdk import keys

    from broker.audit import checkpoint

    return keys.load_public_key(Path(text)) if Path(text).is_file() \
        else checkpoint.parse_vkey(text)[1]


def _verify_bundle(path: Path, key: str | None, pinned: list[str],
                   print_records: bool = False, *, unsafe_embedded: bool = False) -> int:
    """Offline: only the bundle file and the key the auditor trusts (fail closed without)."""
    from broker.audit.bundle import Bundle, BundleError, unsafe_embedded_key, verify_bundle
    from broker.audit.checkpoint import CheckpointError

    if key and unsafe_embedded:
        print("g2g: --key and --unsafe-trust-embedded-key exclude each other", file=sys.stderr)
        return 1
    if not key and not unsafe_embedded:
        print("g2g: --bundle needs --key (the log public key you trust): a bundle's own key "
              "proves nothing about who signed it", file=sys.stderr)
        return 1
    try:
        trusted = _trusted_key(key) if key else None
    except (CheckpointError, ValueError) as exc:
        print(f"g2g: --key: {exc}", file=sys.stderr)
        return 1
    try:
        bundle = Bundle.from_json(path.read_bytes())
        if trusted is None:
            trusted = unsafe_embedded_key(bundle)
            print("g2g: WARNING: --unsafe-trust-embedded-key: checking against the key the "
                  "bundle names for itself; anyone can make a bundle that passes this",
                  file=sys.stderr)
    except (OSError, BundleError) as exc:
        print(f"FAIL: {path}: {exc}")
        return 2
    report = verify_bundle(bundle, trusted, pinned)
    for problem in report.problems:
        print(f"FAIL: {problem}")
    for note in report.notes:
        print(f"note: {note}")
    selection = " ".join(f"{k}={v}" for k, v in sorted(bundle.selection.items())) or "none"
    print(f"{'OK' if report.ok else 'INVALID'}: {report.verified} of {len(bundle.records)} "
          f"record(s) proven, range [{bundle.first_seq}, {bundle.end_seq}), selection: "
          f"{selection}, checkpoint {bundle.origin} size {report.tree_size}")
    if print_records and report.ok:
        for rec in bundle.records:
            print(_printable_json(rec.record.decode("utf-8")))
    return 0 if report.ok else 2


def _export(args: argparse.Namespace) -> int:
    from broker.audit.bundle import BundleError, export, verify_bundle

    with open_log(args) as log:
        key = log.log_key
        try:
            done = export(log.reader, _filters(args, log), log_key=key,
                          origin=log.origin, first_seq=args.from_seq,
                          end_seq=args.to_seq, at_size=args.at_size, max_records=args.limit,
                          consistent_with=args.consistent_with)
        except BundleError as exc:
            print(f"g2g: {exc}", file=sys.stderr)
            return 1
    report = verify_bundle(done.bundle, key)  # never hand over a bundle that does not verify
    if not report.ok:
        for problem in report.problems:
            print(f"FAIL: {problem}", file=sys.stderr)
        return 2
    args.out.write_bytes(done.bundle.to_json())
    b = done.bundle
    print(f"wrote {args.out}: {len(b.records)} record(s) from [{b.first_seq}, {b.end_seq}) "
          f"with proofs against checkpoint size {report.tree_size}", file=sys.stderr)
    if done.uncovered:
        print(f"g2g: {done.uncovered} matching record(s) after that checkpoint are not in the "
              "bundle (not signed yet: export again after the next checkpoint)", file=sys.stderr)
    return 0


def _duration(text: str) -> Any:
    from datetime import timedelta

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if not text:
        return None
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ConfigError(f"--ack-deadline: expected a duration like 30m, 24h or 2d, got {text!r}")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def _notifications(args: argparse.Namespace, reader: Any, filters: Any) -> int:
    """Who was notified of the selected events, when delivered, when acknowledged."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from broker.audit.notifications import track

    deadline = _duration(args.ack_deadline)
    if filters.subject or filters.message_id:
        event_ids = {r["message_id"] for r in reader.query(filters)
                     if r["kind"] in ("event", "route") and r["message_id"]}
    else:
        event_ids = {r["message_id"] for r in reader.query(replace(filters, kind="route"))}
    records = [r for event_id in sorted(event_ids)
               for r in reader.query(replace(filters, message_id=event_id, subject="",
                                             kind="", consumer="", decision="", limit=100_000))]
    now = datetime.now(UTC)
    rows = []
    for n in track(records):
        state = n.state(now, deadline)
        if args.unacknowledged and state == "ACKNOWLEDGED":
            continue
        rows.append({"event_id": n.event_id, "event_type": n.event_type.rsplit(".", 1)[-1],
                     "publisher": n.publisher, "subscriber": n.subscriber,
                     "rule_id": n.rule_id, "notified": n.routed_at,
                     "delivered": f"{n.delivered_at} ({n.attempts})" if n.attempts else "",
                     "acknowledged": n.acknowledged_at, "state": state})
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row))
        return 0
    columns = list(rows[0]) if rows else ["event_id", "subscriber", "state"]
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return 0
    print("  ".join(columns))
    for row in rows:
        print("  ".join(_printable(str(row[c])) for c in columns))
    print(f"({len(rows)} notification(s))")
    return 0


def _query(args: argparse.Namespace) -> int:
    with open_log(args) as log:
        if args.notifications:
            return _notifications(args, log.reader, _filters(args, log))
        records = log.reader.query(_filters(args, log))
    if args.format == "jsonl":
        for r in records:
            print(_json_line(r))
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

    with open_log(args) as log:
        reader = log.reader
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
                      "record": json.loads(data), "record_bytes": _b64([data])[0],
                      "inclusion_proof": _b64(path),
                      "checkpoint": note, "verified": ok}, indent=2, ensure_ascii=False))
    return 0 if ok else 2


def _consistency(args: argparse.Namespace) -> int:
    from broker.audit.merkle import verify_consistency

    with open_log(args) as log:
        reader = log.reader
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
    with open_log(args) as log:
        latest = log.reader.latest_checkpoint()
    if latest is None:
        print("g2g: no checkpoint yet", file=sys.stderr)
        return 1
    sys.stdout.write(latest[2])
    return 0
