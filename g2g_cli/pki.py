"""`g2g pki init`: create the development federation PKI from the registry."""

from __future__ import annotations

import argparse
from pathlib import Path

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("pki", help="development CA, TLS certificates, signing keys")
    sub = parser.add_subparsers(dest="pki_command", required=True)
    init = sub.add_parser("init", help="create every missing key and certificate (idempotent)")
    deployment.add_config_option(init)
    init.add_argument("--registry", type=Path, metavar="FILE",
                      help="the registry naming the agencies (default: the deployment's)")
    init.add_argument("--out", type=Path, metavar="DIR",
                      help="where keys and certificates go (default: the deployment's "
                           "pki_dir)")
    init.add_argument("--force", action="store_true", help="discard and recreate everything")
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from g2g_sdk.pki import init_pki

    registry, out = args.registry, args.out
    if registry is None or out is None:
        config = deployment.load(args.config)
        registry, out = registry or config.registry, out or config.pki_dir
    made = init_pki(registry, out, force=args.force)
    if made:
        print(f"created {len(made)} files under {out}")
    else:
        print(f"{out} is complete; nothing to do")
    return 0
