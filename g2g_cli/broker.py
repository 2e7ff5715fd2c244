"""`g2g broker serve`: run the broker in the foreground."""

from __future__ import annotations

import argparse
import asyncio

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("broker", help="run the broker")
    sub = parser.add_subparsers(dest="broker_command", required=True)
    serve = sub.add_parser("serve", help="serve Exchange, Catalog, Audit, health, reflection")
    deployment.add_config_option(serve)
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="bind here instead of the configured broker.listen (port 0: any)")
    serve.add_argument("--ops-listen", metavar="HOST:PORT",
                       help="serve /metrics, /healthz, /readyz here instead of the configured "
                            "ops.listen ('' turns the port off)")
    serve.add_argument("--log-level", default="INFO",
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                       help="log level of the JSON lines on stderr (default INFO)")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="N processes sharing the port (overrides broker.workers)")
    # Internal: set by the supervisor on the processes it starts (broker/workers.py).
    serve.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from g2g_sdk.errors import ConfigError
    from g2g_sdk.logs import configure, json_stderr

    from broker.config import load_config
    from broker.server import serve
    from broker.workers import supervise

    configure(args.log_level)
    json_stderr()  # gRPC's own lines and any traceback become JSON events too
    config_path = deployment.find_config(args.config)
    config = load_config(config_path)
    if args.listen:
        config = replace(config, listen=args.listen)
    if args.ops_listen is not None:
        config = replace(config, ops=replace(config.ops, listen=args.ops_listen))
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {args.workers}")
        config = replace(config, workers=args.workers)
    if config.workers > 1 and args.worker is None:
        return asyncio.run(supervise(config_path, config.listen, config.workers,
                                     args.log_level, config.ops.listen))
    asyncio.run(serve(config, worker=args.worker))
    return 0
