"""`g2g send`: one signed exchange through the broker, printing the verified answer as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from g2g_sdk.errors import ConfigError, G2GError
from google.protobuf import json_format

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("send", help="send one request through the broker")
    parser.add_argument("--as", dest="sender", required=True, help="your agency id")
    parser.add_argument("--to", dest="recipient", metavar="AGENCY",
                        help="the provider agency; needed when several offer the service "
                             "(default: its only provider)")
    parser.add_argument("--service", required=True, help="e.g. g2g.immigration.v1.Watchlist/Screen")
    parser.add_argument("--purpose", required=True,
                        help="why you ask, as the policy names it (e.g. criminal_investigation)")
    parser.add_argument("--legal-basis", default="",
                        help="the law or agreement you ask under (some rules require one)")
    parser.add_argument("--json", dest="payload", required=True,
                        help="the request message as protobuf JSON, or @FILE")
    deployment.add_world_options(parser)
    parser.add_argument("--broker", help="broker address (default: from the registry)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long to wait for the answer, in seconds (default 10)")
    parser.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    from g2g_sdk import ConsumerClient
    from g2g_sdk.catalog import find_method, message_class
    from g2g_sdk.registry import load_registry

    method = find_method(args.service)
    if method is None:
        raise ConfigError(f"no compiled schema for service {args.service}")
    if args.payload.startswith("@"):
        source = Path(args.payload[1:])
        if not source.is_file():
            raise ConfigError(f"--json @{source}: no such file")
        text = source.read_text(encoding="utf-8")
    else:
        text = args.payload
    request = message_class(method.input_type)()
    try:
        json_format.Parse(text, request)
    except json_format.ParseError as exc:
        print(f"g2g: invalid --json for {method.input_type.full_name}: {exc}", file=sys.stderr)
        return 2
    where = deployment.world(args)
    registry = load_registry(where.registry, where.pki_dir)
    identity = deployment.identity(where, registry, args.sender)
    providers = [a.id for a in registry.providers_of(args.service)]
    if args.recipient is None and len(providers) > 1:
        raise ConfigError(f"{args.service} is offered by {len(providers)} agencies: "
                          f"{', '.join(providers)}; choose one with --to AGENCY")
    if args.recipient is not None and args.recipient not in providers:
        raise ConfigError(f"--to {args.recipient} does not offer {args.service}; "
                          f"its providers: {', '.join(providers) or 'none'}")

    async def run() -> str:
        async with ConsumerClient(identity, registry, broker_endpoint=args.broker) as client:
            answer = await client.call(args.service, request, purpose=args.purpose,
                                       legal_basis=args.legal_basis,
                                       recipient=args.recipient, timeout=args.timeout)
        return json.dumps({
            "message_id": answer.header.message_id,
            "in_reply_to": answer.header.in_reply_to,
            "provider": answer.header.sender,
            "payload": json_format.MessageToDict(answer.payload,
                                                 preserving_proto_field_name=True),
        }, indent=2, ensure_ascii=False)

    try:
        print(asyncio.run(run()))
    except G2GError as exc:
        print(f"g2g: {exc.code.name} {exc.diagnostics()}", file=sys.stderr)
        return 1
    return 0
