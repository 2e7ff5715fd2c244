"""`g2g pki`: the development federation CA and the trust lifecycle (docs/PKI.md).

init (the PKI), revoke (CRL, signing key), rotate (new key + certificate,
`--retire` the old), status (every party's certificates and keys), csr (on an
agency's machine) and sign (at the federation CA). Running brokers and adapters
pick every change up without a restart.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
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

    revoke = sub.add_parser("revoke", help="revoke a party's TLS certificate (CRL) and/or "
                                           "signing key")
    deployment.add_world_options(revoke)
    revoke.add_argument("party", help="agency id, or 'broker'")
    revoke.add_argument("--reason", default="key_compromise",
                        help="CRL reason: key_compromise (default), superseded, "
                             "cessation_of_operation, affiliation_changed, unspecified")
    revoke.add_argument("--signing-key", action="store_true",
                        help="also revoke the party's current signing key in published.yaml")
    revoke.add_argument("--key-only", action="store_true",
                        help="revoke only the signing key, not the certificate")
    revoke.add_argument("--at", type=_time, metavar="TIME",
                        help="the key's revoked_at (RFC 3339, e.g. 2026-12-01T09:00:00Z; "
                             "default now): messages created from then on are refused")
    revoke.set_defaults(handler=_revoke)

    rotate = sub.add_parser("rotate", help="issue a party a new signing key and certificate, "
                                           "published beside the old ones")
    deployment.add_world_options(rotate)
    rotate.add_argument("party", help="agency id, or 'broker'")
    rotate.add_argument("--retire", action="store_true",
                        help="instead: unpublish the old keys and certificates and revoke "
                             "the old certificates (superseded)")
    rotate.set_defaults(handler=_rotate)

    status = sub.add_parser("status", help="every party's certificates and signing keys")
    deployment.add_world_options(status)
    status.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    status.set_defaults(handler=_status)

    csr = sub.add_parser("csr", help="(agency) a TLS key + CSR and a signing key, 0600")
    csr.add_argument("party", help="your agency id (or the broker id with --broker)")
    csr.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="a new directory for tls.key, tls.csr, signing.key, signing.pub")
    csr.add_argument("--broker", action="store_true", help="the CSR is the broker's")
    csr.set_defaults(handler=_csr)

    sign = sub.add_parser("sign", help="(federation CA) sign a CSR and publish the certificate "
                                       "and the agency's signing key")
    deployment.add_world_options(sign)
    sign.add_argument("party", help="the agency id the certificate names (set by the CA)")
    sign.add_argument("--csr", type=Path, required=True, metavar="FILE",
                      help="the agency's tls.csr (from `g2g pki csr`)")
    sign.add_argument("--out", type=Path, required=True, metavar="FILE",
                      help="where the signed certificate goes")
    sign.add_argument("--signing-pub", type=Path, metavar="FILE",
                      help="the agency's signing.pub, published for the registry")
    sign.add_argument("--broker", action="store_true", help="the CSR is the broker's")
    sign.add_argument("--days", type=int, default=825,
                      help="validity of the certificate (default 825)")
    sign.set_defaults(handler=_sign)


def _time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs a zone (end it with Z for UTC)")
    return value


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


def _party(args: argparse.Namespace) -> tuple[Path, str]:
    """The PKI directory and the party (an agency of the registry, or the broker)."""
    from g2g_sdk import pki
    from g2g_sdk.errors import ConfigError
    from g2g_sdk.registry import read_agency_ids

    where = deployment.world(args)
    if args.party != pki.BROKER and args.party not in {
            a for a, _, _ in read_agency_ids(where.registry)}:
        raise ConfigError(f"{args.party} is not an agency of the registry", file=str(
            where.registry))
    return where.pki_dir, args.party


def _revoke(args: argparse.Namespace) -> int:
    from g2g_sdk import ca

    pki_dir, party = _party(args)
    if args.key_only:
        done = ca.revoke_signing_key(pki_dir, party, at=args.at)
        print(f"revoked signing key {done['keyid']} of {party} from {done['revoked_at']} "
              "(published.yaml)")
        return 0
    done = ca.revoke_party(pki_dir, party, reason=args.reason, signing_key=args.signing_key,
                           at=args.at)
    print(f"revoked certificate serial {done['serial']} of {party} ({args.reason}); "
          f"CRL {pki_dir / ca.CRL_FILE} reissued")
    if "keyid" in done:
        print(f"revoked signing key {done['keyid']} of {party} (published.yaml)")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from g2g_sdk import ca

    pki_dir, party = _party(args)
    if args.retire:
        retired = ca.retire(pki_dir, party)
        print(f"retired {len(retired['keyids'])} signing key(s) and "
              f"{len(retired['serials'])} certificate(s) of {party}: "
              f"keys {', '.join(k[:16] for k in retired['keyids']) or '-'}; "
              f"certificates {', '.join(retired['serials']) or '-'} revoked (superseded)")
        return 0
    done = ca.rotate(pki_dir, party)
    print(f"{party}: new signing key {done['keyid'][:16]} and certificate serial "
          f"{done['serial']} published beside key {done['old_keyid'][:16]} / serial "
          f"{done['old_serial']}; switch the agency to them, then: "
          f"g2g pki rotate {party} --retire")
    return 0


def _status(args: argparse.Namespace) -> int:
    from g2g_sdk import ca
    from g2g_sdk.registry import load_registry

    where = deployment.world(args)
    rows = ca.status(load_registry(where.registry, where.pki_dir), where.pki_dir)
    if args.json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row), sort_keys=True))
        return 0
    head = ("PARTY", "KIND", "ID", "ISSUER", "NOT AFTER", "STATUS", "REVOKED AT")
    table = [head, *((r.party, r.kind, r.id if r.kind == "certificate" else r.id[:16],
                      r.issuer, r.not_after or "-", r.status, r.revoked_at or "-")
                     for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
              .rstrip())
    return 0


def _csr(args: argparse.Namespace) -> int:
    from g2g_sdk import ca

    made = ca.make_csr(args.out, "broker" if args.broker else "agency", args.party)
    print(f"created {', '.join(str(p) for p in made.values())}; send {made['tls.csr']} and "
          f"{made['signing.pub']} to the federation CA; the .key files never leave {args.out}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from g2g_sdk import ca

    where = deployment.world(args)
    cert = ca.sign_csr(where.pki_dir, args.csr, "broker" if args.broker else "agency",
                       args.party, args.out, signing_pub=args.signing_pub, days=args.days)
    print(f"signed {args.out} for {args.party}: serial {cert.serial_number:x}, not after "
          f"{ca.iso(cert.not_valid_after_utc)}; published in "
          f"{where.pki_dir / 'published.yaml'}")
    return 0
