"""`g2g agency add`: onboard an agency into the development federation, no restart.

Issues its TLS certificate and signing key, publishes both, and appends it to
the registry; the running broker and adapters pick it up (docs/PKI.md §5).
"""

from __future__ import annotations

import argparse

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("agency", help="onboard agencies (development federation)")
    sub = parser.add_subparsers(dest="agency_command", required=True)
    add = sub.add_parser("add", help="issue keys and a certificate, publish them, and add the "
                                     "agency to the registry")
    deployment.add_world_options(add)
    add.add_argument("id", help="the new agency's id, e.g. ID/GOV/KPK")
    add.add_argument("--name", required=True, help="the agency's name, as the registry shows it")
    add.add_argument("--endpoint", metavar="HOST:PORT",
                     help="where it serves, if it will provide services")
    add.set_defaults(handler=_add)


def _add(args: argparse.Namespace) -> int:
    from g2g_sdk import ca

    where = deployment.world(args)
    done = ca.add_agency(where.registry, where.pki_dir, args.id, args.name,
                         endpoint=args.endpoint)
    print(f"added {args.id} to {where.registry}: signing key {done['keyid'][:16]}, "
          f"certificate serial {done['serial']}, files in {done['directory']}; "
          "it can call once a policy allows it")
    return 0
