"""`g2g broker serve | drain | config-reference`: run, drain and document the broker."""

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
    drain = sub.add_parser("drain", help="drain a running broker: refuse new calls (DRAINING), "
                                         "finish those in flight, seal the log, exit")
    drain.add_argument("--pid", type=int, required=True,
                       help="the broker's process id (the supervisor's, with --workers)")
    drain.add_argument("--timeout", type=float, default=60.0,
                       help="seconds to wait for it to exit (default 60; above ops.drain_seconds)")
    drain.set_defaults(handler=_drain)
    reference = sub.add_parser("config-reference",
                               help="print every configuration key and metric (markdown)")
    reference.set_defaults(handler=_reference)


def _drain(args: argparse.Namespace) -> int:
    """SIGTERM is the drain: this sends it and waits for the broker to exit."""
    import os
    import select
    import signal
    import sys

    try:
        handle = os.pidfd_open(args.pid)
    except ProcessLookupError:
        print(f"g2g broker drain: no process {args.pid}", file=sys.stderr)
        return 1
    try:
        os.kill(args.pid, signal.SIGTERM)
        # A pidfd becomes readable when the process exits: no polling loop.
        readable, _, _ = select.select([handle], [], [], args.timeout)
    finally:
        os.close(handle)
    if not readable:
        print(f"g2g broker drain: {args.pid} still runs after {args.timeout:g} s",
              file=sys.stderr)
        return 1
    print(f"g2g broker drain: {args.pid} drained and exited")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from broker.reference import reference

    print(reference(), end="")
    return 0


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
