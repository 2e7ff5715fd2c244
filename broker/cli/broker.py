"""`g2g broker serve`: run the broker in the foreground."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("broker", help="run the broker")
    sub = parser.add_subparsers(dest="broker_command", required=True)
    serve = sub.add_parser("serve", help="serve Exchange, Catalog, Audit, health, reflection")
    serve.add_argument("--config", type=Path, default=Path("config/broker.yaml"))
    serve.add_argument("--listen", help="override the configured listen address")
    serve.add_argument("--log-level", default="INFO")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from broker.config import load_config
    from broker.protocol.logs import configure
    from broker.server import serve

    configure(args.log_level)
    config = load_config(args.config)
    if args.listen:
        from dataclasses import replace
        config = replace(config, listen=args.listen)
    asyncio.run(serve(config))
    return 0
