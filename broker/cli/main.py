"""Entry point of the `g2g` console script.

Each command group lives in its own module exposing `register(subparsers)`;
a command's handler returns the process exit code. Any `G2GError` that
escapes a handler becomes a one-line reason on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from broker.protocol.errors import G2GError

# Command groups, in the order `g2g --help` lists them.
GROUPS = ("up", "pki", "broker", "adapter", "send", "catalog", "policy", "audit", "data", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="g2g", description="g2g: government-to-government data exchange broker")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        try:
            module = importlib.import_module(f"broker.cli.{group}")
        except ModuleNotFoundError as exc:
            if exc.name != f"broker.cli.{group}":
                raise
            continue  # a command group not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except G2GError as exc:
        print(f"g2g: {exc.diagnostics()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
