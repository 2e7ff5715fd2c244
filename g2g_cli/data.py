"""`g2g data import|generate|check`: an agency's own data files for an adapter (docs/DATA.md).

`import` validates every row (a bad row refuses the whole file, naming file,
line and field; the previous data stays) and atomically replaces
``<data_root>/ADAPTER/<dataset>.jsonl`` of the deployment (its broker config's
``adapters.data_root``), which a running adapter swaps in. Outside a deployment
it refuses: a file written where no adapter reads would be silently ignored.
`generate` writes seeded synthetic data in the same format. The validation
and writing live in `agency_adapters.common.datasets`; this module only parses
arguments and prints. Never prints a record.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agency_adapters.common.records import FORMATS
from g2g_cli import deployment

MAX_SIZE = 1_000_000
"""Largest synthetic data set `generate` writes (benchmarks)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("data", help="import or generate adapter data files")
    sub = parser.add_subparsers(dest="data_command", required=True)

    imp = sub.add_parser("import", help="validate a JSONL/CSV file and make it the adapter's data")
    imp.add_argument("adapter", help="an installed adapter (`g2g adapter list`)")
    imp.add_argument("file", type=Path, help="the JSONL or CSV file to import")
    imp.add_argument("--dataset", help="which data set (default: from the file name, "
                                       "e.g. notices.csv, or the adapter's only one)")
    imp.add_argument("--format", choices=FORMATS, help="default: the file's extension")
    deployment.add_config_option(imp)
    imp.add_argument("--data-root", type=Path, metavar="DIR",
                     help="write DIR/ADAPTER/ instead of the deployment's adapters.data_root")
    imp.set_defaults(handler=_import)

    gen = sub.add_parser("generate", help="write seeded synthetic data in the import format")
    gen.add_argument("adapter", help="an installed adapter (`g2g adapter list`)")
    gen.add_argument("--size", type=_size, help=f"records per data set (1..{MAX_SIZE:,}); "
                                                "default: the adapter's seeded size")
    gen.add_argument("--seed", type=int, help="random seed (default: the adapter's fixed seed)")
    gen.add_argument("--format", choices=FORMATS,
                     help="default: jsonl, or the extension of a --dataset file")
    gen.add_argument("--dataset", help="only this data set (OUT may then be a file)")
    gen.add_argument("--out", type=Path, required=True, help="a directory (or a file "
                                                             "with --dataset)")
    gen.set_defaults(handler=_generate)

    check = sub.add_parser("check", help="validate a file without importing it")
    check.add_argument("adapter", help="an installed adapter (`g2g adapter list`)")
    check.add_argument("file", type=Path, help="the JSONL or CSV file to validate")
    check.add_argument("--dataset", help="which data set (default: from the file name)")
    check.add_argument("--format", choices=FORMATS, help="default: the file's extension")
    check.set_defaults(handler=_check)


def _size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SIZE:,}")
    return value


def _require_file(path: Path) -> None:
    from g2g_sdk.errors import ConfigError

    if not path.is_file():
        raise ConfigError(f"no such file: {path}" if not path.exists()
                          else f"not a regular file: {path}")


def _import(args: argparse.Namespace) -> int:
    from agency_adapters.common.datasets import import_file
    from agency_adapters.common.records import RecordError
    from agency_adapters.runner import load

    adapter = load(args.adapter)
    _require_file(args.file)
    root = args.data_root or deployment.load(args.config).data_root
    directory = root / args.adapter
    try:
        done = import_file(adapter.DATA, directory, args.file,
                           dataset=args.dataset, fmt=args.format)
    except RecordError as err:
        print(f"g2g data import: refused, nothing changed: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # the data root cannot be written (a file, read-only, full)
        print(f"g2g data import: failed: {err.filename or directory}: {err.strerror}",
              file=sys.stderr)
        return 1
    print(f"imported {done.count} {done.dataset} records into {done.path}; "
          "a running adapter swaps them in within a second (or at once on SIGHUP)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from agency_adapters.common.datasets import choose_dataset
    from agency_adapters.common.records import RecordError, load
    from agency_adapters.runner import load as load_adapter

    adapter = load_adapter(args.adapter)
    _require_file(args.file)
    try:
        dataset = choose_dataset(adapter.DATA, args.file, args.dataset)
        count = len(load(dataset.schema, args.file, args.format))
    except RecordError as err:
        print(f"g2g data check: invalid: {err}", file=sys.stderr)
        return 1
    print(f"{args.file}: {count} valid {dataset.name} records")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from agency_adapters.common.datasets import generate_files
    from agency_adapters.common.records import RecordError
    from agency_adapters.runner import load

    data = load(args.adapter).DATA
    extension = args.out.suffix.lower()[1:]
    to_file = args.dataset is not None and extension in FORMATS
    if to_file and args.format not in (None, extension):
        print(f"g2g data generate: --format {args.format} contradicts {args.out}",
              file=sys.stderr)
        return 2
    try:
        written = generate_files(data, args.out, size=args.size or data.default_size,
                                 seed=data.default_seed if args.seed is None else args.seed,
                                 fmt=args.format or "jsonl", dataset=args.dataset)
    except RecordError as err:
        print(f"g2g data generate: {err}", file=sys.stderr)
        return 1
    for done in written:
        print(f"wrote {done.count} {done.dataset} records to {done.path}")
    return 0
