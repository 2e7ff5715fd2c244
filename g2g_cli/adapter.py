"""`g2g adapter list|serve`: the installed agency adapters (plugins), and running them.

Adapters are found through the ``g2g.adapters`` entry-point group, never imported
by module name, so a third-party adapter distribution installed beside g2g is
listed and served like the bundled ones (docs/ADAPTERS.md). Several names run in
one process, with the handlers of adapters that serve the same agency
(immigration and consular both serve ID/GOV/IMIGRASI) merged into that agency's
one server. Changed data files are swapped in while serving.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agency_adapters.common.datasets import RELOAD_INTERVAL
from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("adapter", help="list or run agency adapters (providers)")
    sub = parser.add_subparsers(dest="adapter_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="the installed adapters (entry points in the "
                                          "g2g.adapters group) and where each comes from")
    listing.set_defaults(handler=_list)
    serve = sub.add_parser("serve", help="serve provider adapters")
    serve.add_argument("name", nargs="+", help="installed adapter names (`g2g adapter list`)")
    deployment.add_world_options(serve)
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="bind here instead of the registry endpoint (port 0: any free)")
    serve.add_argument("--data", action="append", default=[], metavar="[NAME=]DIR",
                       help="an adapter's data directory (JSONL or CSV files, docs/DATA.md); "
                            "NAME=DIR when serving several adapters (repeatable)")
    serve.add_argument("--data-root", type=Path, metavar="DIR",
                       help="adapters without --data read DIR/NAME/ (g2g up passes the "
                            "deployment's adapters.data_root); default: seeded data only")
    serve.add_argument("--reload-interval", type=_seconds, default=RELOAD_INTERVAL,
                       metavar="SECONDS",
                       help="seconds between checks for changed data files, 0.05..3600 "
                            f"(default {RELOAD_INTERVAL:g}; SIGHUP: now)")
    serve.add_argument("--crl", action="append", default=[], type=Path, metavar="FILE",
                       help="the federation CA's CRL (repeatable; default <pki-dir>/crl.pem); "
                            "reloaded when it changes")
    serve.add_argument("--metrics-listen", metavar="HOST:PORT",
                       help="serve Prometheus metrics on plain HTTP here (GET /metrics; "
                            "default: off; needs prometheus-client)")
    serve.add_argument("--log-level", default="INFO",
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                       help="log level of the JSON lines on stderr (default INFO)")
    serve.set_defaults(handler=_serve)


def _seconds(text: str) -> float:
    """A polling interval: 0 or less would spin the watcher (a busy loop), so refused."""
    value = float(text)
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0.05 and 3600 seconds")
    return value


def _list(args: argparse.Namespace) -> int:
    from agency_adapters.runner import installed

    found = installed()
    if not found:
        print("no adapters installed (none in the g2g.adapters entry-point group)")
        return 0
    width = max(len(name) for name in found)
    for entry in found.values():
        print(f"{entry.name:{width}}  {entry.module}  ({entry.distribution} {entry.version})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from g2g_sdk.logs import configure, json_stderr

    from agency_adapters.runner import load, serve

    for name in dict.fromkeys(args.name):
        load(name)  # an unknown name fails here, listing what is installed
    where = deployment.world(args)
    configure(args.log_level)
    json_stderr()  # gRPC's own lines and any traceback become JSON events too
    asyncio.run(serve(args.name, where.registry, where.pki_dir, listen=args.listen,
                      data=_data_paths(args.name, args.data), data_root=args.data_root,
                      reload_interval=args.reload_interval, crls=tuple(args.crl),
                      metrics_listen=args.metrics_listen))
    return 0


def _data_paths(names: list[str], values: list[str]) -> dict[str, Path | None]:
    """``--data`` values to {adapter: path}; a bare PATH needs exactly one adapter."""
    out: dict[str, Path | None] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in names:
            out[name] = Path(path)
        elif sep and "/" not in name:
            raise SystemExit(f"g2g adapter serve: --data for {name!r}, which is not served")
        elif len(names) == 1:
            out[names[0]] = Path(value)
        else:
            raise SystemExit("g2g adapter serve: use --data NAME=PATH with several adapters")
    return out
