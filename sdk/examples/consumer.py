"""Consumer example: screen a person against the immigration watchlist through a g2g broker.

Needs only the SDK (``pip install g2g-sdk``). The agency's key and certificate
and the federation registry come from its operator (with `g2g init DIR`: the
files under DIR). Run::

    python consumer.py --registry DIR/agencies.yaml --pki-dir DIR/pki "Budi Santoso"

It signs the request as ID/GOV/POLRI, sends it to the broker over mutual TLS,
and prints the answer only after checking the provider's signature, that the
answer is bound to this request, and its exact payload type. A refusal (policy,
schema, unreachable broker...) prints the broker's status and reason; exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from g2g_sdk import ConsumerClient, pki
from g2g_sdk.errors import G2GError
from g2g_sdk.messages import immigration
from g2g_sdk.registry import load_registry

SCREEN = "g2g.immigration.v1.Watchlist/Screen"


async def screen(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry, args.pki_dir)
    identity = pki.load_identity(args.pki_dir, args.agency)
    request = immigration.ScreenRequest(by_name=immigration.NameQuery(
        full_name=args.name, date_of_birth=args.dob))
    async with ConsumerClient(identity, registry, broker_endpoint=args.broker) as client:
        try:
            answer = await client.call(SCREEN, request, purpose="criminal_investigation",
                                       legal_basis="UU 6/2011 Pasal 91")
        except G2GError as exc:
            print(f"refused: {exc.code.name} {exc.reason}: {exc.message}", file=sys.stderr)
            return 1
    response = answer.payload
    assert isinstance(response, immigration.ScreenResponse)
    print(f"{answer.header.sender} answered {answer.header.in_reply_to} (signature verified): "
          f"{len(response.hits)} hit(s) among {response.listed_entries} listed entries")
    for hit in response.hits:
        matched = ", ".join(hit.matched_fields)
        print(f"  {hit.entry_id}  score {hit.score:.4f}  matched on {matched}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="full name to screen")
    parser.add_argument("--dob", default="", help="date of birth, YYYY-MM-DD (optional)")
    parser.add_argument("--registry", type=Path, required=True, help="the federation registry")
    parser.add_argument("--pki-dir", type=Path, required=True,
                        help="directory holding this agency's key and certificate")
    parser.add_argument("--as", dest="agency", default="ID/GOV/POLRI", help="your agency id")
    parser.add_argument("--broker", help="broker HOST:PORT (default: the registry's)")
    return asyncio.run(screen(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
