"""`g2g adapter serve NAME`: run an agency adapter (provider) in the foreground."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agency_adapters.runner import ADAPTERS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("adapter", help="run an agency adapter")
    sub = parser.add_subparsers(dest="adapter_command", required=True)
    serve = sub.add_parser("serve", help="serve a provider adapter")
    serve.add_argument("name", choices=sorted(ADAPTERS))
    serve.add_argument("--registry", type=Path, default=Path("config/agencies.yaml"))
    serve.add_argument("--pki-dir", type=Path, default=Path("var/pki"))
    serve.add_argument("--listen", help="override the registry endpoint")
    serve.add_argument("--data", type=Path, help="the adapter's data file (JSONL or CSV)")
    serve.add_argument("--log-level", default="INFO")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from agency_adapters.runner import serve
    from broker.protocol.logs import configure

    configure(args.log_level)
    asyncio.run(serve(args.name, args.registry, args.pki_dir, listen=args.listen,
                      data=args.data))
    return 0
