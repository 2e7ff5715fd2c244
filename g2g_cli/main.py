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

from g2g_sdk import logs
from g2g_sdk.errors import G2GError

# Command groups (module paths), in the order `g2g --help` lists them. `demo` is the
# local harness's, kept apart from production code.
GROUPS = ("g2g_cli.init", "g2g_cli.up", "g2g_cli.pki", "g2g_cli.agency", "g2g_cli.broker",
          "g2g_cli.adapter", "g2g_cli.send", "g2g_cli.events", "g2g_cli.catalog", "g2g_cli.policy",
          "g2g_cli.audit", "g2g_cli.data", "g2g_harness.demo")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"g2g {of('g2g')} (g2g-sdk {of('g2g-sdk')}, Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="g2g", description="g2g: government-to-government data exchange broker")
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the versions of g2g and g2g-sdk, then exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(group).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
    except G2GError as exc:
        print(f"g2g: {exc.diagnostics()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `g2g audit query ... | head`: the reader left; say nothing more.
        logs.discard_stdout()  # so the final flush cannot raise again
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
