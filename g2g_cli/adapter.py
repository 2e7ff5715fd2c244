"""`g2g adapter serve NAME...`: run agency adapters (providers) in the foreground.

Several names run in one process, with the handlers of adapters that serve the
same agency (immigration and consular both serve ID/GOV/IMIGRASI) merged into
that agency's one server. Changed data files are swapped in while serving.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agency_adapters.common.datasets import RELOAD_INTERVAL
from agency_adapters.runner import ADAPTERS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("adapter", help="run an agency adapter")
    sub = parser.add_subparsers(dest="adapter_command", required=True)
    serve = sub.add_parser("serve", help="serve provider adapters")
    serve.add_argument("name", nargs="+", choices=sorted(ADAPTERS))
    serve.add_argument("--registry", type=Path, default=Path("config/agencies.yaml"))
    serve.add_argument("--pki-dir", type=Path, default=Path("var/pki"))
    serve.add_argument("--listen", help="override the registry endpoint")
    serve.add_argument("--data", action="append", default=[], metavar="[NAME=]DIR",
                       help="an adapter's data directory (JSONL or CSV files, docs/DATA.md); "
                            "NAME=DIR when serving several adapters (repeatable)")
    serve.add_argument("--data-root", type=Path,
                       help="adapters without --data read DATA_ROOT/NAME/ (g2g up: var/data)")
    serve.add_argument("--reload-interval", type=_seconds, default=RELOAD_INTERVAL,
                       help="seconds between checks for changed data files (SIGHUP: now)")
    serve.add_argument("--log-level", default="INFO")
    serve.set_defaults(handler=_serve)


def _seconds(text: str) -> float:
    """A polling interval: 0 or less would spin the watcher (a busy loop), so refused."""
    value = float(text)
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0.05 and 3600 seconds")
    return value


def _serve(args: argparse.Namespace) -> int:
    from g2g_sdk.logs import configure

    from agency_adapters.runner import serve

    configure(args.log_level)
    asyncio.run(serve(args.name, args.registry, args.pki_dir, listen=args.listen,
                      data=_data_paths(args.name, args.data), data_root=args.data_root,
                      reload_interval=args.reload_interval))
    return 0


def _data_paths(names: list[str], values: list[str]) -> dict[str, Path | None]:
    """``--data`` values to {adapter: path}; a bare PATH needs exactly one adapter."""
    out: dict[str, Path | None] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in ADAPTERS:
            if name not in names:
                raise SystemExit(f"g2g adapter serve: --data for {name!r}, which is not served")
            out[name] = Path(path)
        elif len(names) == 1:
            out[names[0]] = Path(value)
        else:
            raise SystemExit("g2g adapter serve: use --data NAME=PATH with several adapters")
    return out
