"""`g2g pki init`: create the development federation PKI from the registry."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("pki", help="development CA, TLS certificates, signing keys")
    sub = parser.add_subparsers(dest="pki_command", required=True)
    init = sub.add_parser("init", help="create every missing key and certificate (idempotent)")
    init.add_argument("--registry", type=Path, default=Path("config/agencies.yaml"))
    init.add_argument("--out", type=Path, default=Path("var/pki"))
    init.add_argument("--force", action="store_true", help="discard and recreate everything")
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from g2g_sdk.pki import init_pki

    made = init_pki(args.registry, args.out, force=args.force)
    if made:
        print(f"created {len(made)} files under {args.out}")
    else:
        print(f"{args.out} is complete; nothing to do")
    return 0
