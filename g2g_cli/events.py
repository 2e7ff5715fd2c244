"""`g2g publish`, `g2g subscribe`, `g2g events tail`: events from the command line.

`publish` signs one event as an agency and prints where the broker routed it;
`subscribe --as AGENCY` prints each event it receives as a JSON line once it is
verified (publisher signature, routing statement, every field's digest) and
acknowledges it with a signed receipt; `events tail` prints the event records
of the audit log. Never prints a payload the subscriber was not given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from g2g_sdk.errors import ConfigError, G2GError

from g2g_cli import deployment

EVENT_KINDS = ("event", "event_rejected", "event_outcome", "route", "subscribe", "delivered",
               "receipt", "receipt_rejected", "delivery_failed")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = subparsers.add_parser("publish", help="publish one signed event through the broker")
    publish.add_argument("--as", dest="publisher", required=True, help="your agency id")
    publish.add_argument("--type", dest="event_type", required=True,
                         help="e.g. g2g.immigration.v1.WatchlistHit")
    publish.add_argument("--json", dest="payload", required=True,
                         help="the event message as protobuf JSON, or @FILE")
    publish.add_argument("--purpose", required=True,
                         help="why it is disclosed, e.g. border_control, consular_notification")
    publish.add_argument("--legal-basis", default="",
                         help='e.g. "VCCR Art. 36(1)(b)" (subscription rules may require one)')
    _client_options(publish)
    publish.set_defaults(handler=_publish)

    subscribe = subparsers.add_parser(
        "subscribe", help="receive, verify and acknowledge events (JSON lines)")
    subscribe.add_argument("--as", dest="subscriber", required=True, help="your agency id")
    subscribe.add_argument("--type", dest="event_types", action="append", default=[],
                           help="only this event type (repeatable; a separate durable queue)")
    subscribe.add_argument("--count", type=int, default=0,
                           help="stop after this many events (default: run until Ctrl-C)")
    subscribe.add_argument("--no-ack", action="store_true",
                           help="print without acknowledging (they will be delivered again)")
    _client_options(subscribe)
    subscribe.set_defaults(handler=_subscribe)

    events = subparsers.add_parser("events", help="event records of the audit log")
    deployment.add_config_option(events)
    sub = events.add_subparsers(dest="events_command", required=True)
    tail = sub.add_parser("tail", help="the latest event records (and follow with -f)")
    tail.add_argument("-n", type=int, default=20, help="how many records (default 20)")
    tail.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new event records")
    tail.set_defaults(handler=_tail, auditor=None)  # the local log only


def _client_options(parser: argparse.ArgumentParser) -> None:
    deployment.add_world_options(parser)
    parser.add_argument("--broker", help="broker address (default: from the registry)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for each broker call (default 10)")


def _identity(args: argparse.Namespace, agency: str) -> tuple[Any, Any]:
    from g2g_sdk import pki
    from g2g_sdk.registry import load_registry

    where = deployment.world(args)
    return pki.load_identity(where.pki_dir, agency), load_registry(where.registry,
                                                                   where.pki_dir)


def _publish(args: argparse.Namespace) -> int:
    from g2g_sdk.catalog import find_message
    from g2g_sdk.publisher import Publisher
    from google.protobuf import json_format

    cls = find_message(args.event_type)
    if cls is None:
        raise ConfigError(f"no compiled schema for event type {args.event_type}")
    text = Path(args.payload[1:]).read_text() if args.payload.startswith("@") else args.payload
    payload = cls()
    try:
        json_format.Parse(text, payload)
    except json_format.ParseError as exc:
        print(f"g2g: invalid --json for {args.event_type}: {exc}", file=sys.stderr)
        return 2
    identity, registry = _identity(args, args.publisher)

    async def run() -> dict[str, Any]:
        async with Publisher(identity, registry, broker_endpoint=args.broker) as publisher:
            result = await publisher.publish(payload, purpose=args.purpose,
                                             legal_basis=args.legal_basis, timeout=args.timeout)
        return {"event_id": result.event_id, "event_digest": result.event_digest.hex(),
                "recipients": list(result.recipients), "duplicate": result.duplicate}

    try:
        print(json.dumps(asyncio.run(run()), indent=2))
    except G2GError as exc:
        print(f"g2g: {exc.code.name} {exc.diagnostics()}", file=sys.stderr)
        return 1
    return 0


def event_json(event: Any, receipt_digest: bytes | None) -> dict[str, Any]:
    """What `g2g subscribe` prints for one verified event."""
    from google.protobuf import json_format

    h = event.header
    return {"event_id": h.event_id, "event_type": h.event_type, "publisher": h.publisher,
            "purpose": h.purpose, "legal_basis": h.legal_basis,
            "created_at": h.created_at.ToJsonString(), "attempt": event.attempt,
            "rule_id": event.routing.rule_id, "fields": list(event.fields),
            "verified": True,
            "receipt_digest": receipt_digest.hex() if receipt_digest is not None else None,
            "payload": json_format.MessageToDict(event.payload,
                                                 preserving_proto_field_name=True)}


def _subscribe(args: argparse.Namespace) -> int:
    from g2g_sdk.subscriber import Subscriber

    identity, registry = _identity(args, args.subscriber)

    async def run() -> None:
        async with Subscriber(identity, registry, broker_endpoint=args.broker) as subscriber:
            seen = 0
            async for event in subscriber.events(tuple(args.event_types)):
                digest = None
                if not args.no_ack:
                    digest = (await subscriber.acknowledge(event, args.timeout)).receipt_digest
                print(json.dumps(event_json(event, digest), ensure_ascii=False), flush=True)
                seen += 1
                if args.count and seen >= args.count:
                    return

    try:
        asyncio.run(run())
    except G2GError as exc:
        print(f"g2g: {exc.code.name} {exc.diagnostics()}", file=sys.stderr)
        return 1
    return 0


def _tail(args: argparse.Namespace) -> int:
    from broker.audit.log import Filters
    from g2g_cli.audit import _print_table, _row, open_log

    def latest(reader: Any, start: int, limit: int) -> list[dict[str, Any]]:
        return [r for r in reader.query(Filters(from_seq=start, limit=limit))
                if r["kind"] in EVENT_KINDS]

    with open_log(args) as log:
        reader = log.reader
        # Scan back far enough to find n event records among the exchanges.
        start = max(reader.size() - max(args.n * 20, 1000), 0)
        records = latest(reader, start, 100_000)[-args.n:]
        _print_table(records)
        start = reader.size()
        while args.follow:
            time.sleep(1.0)
            for r in latest(reader, start, 1000):
                print("  ".join(_row(r)))
            start = reader.size()
    return 0

