"""Provider example: serve the immigration watchlist's Screen service to a g2g broker.

Needs only the SDK (``pip install g2g-sdk``). Run::

    python provider.py --registry DIR/agencies.yaml --pki-dir DIR/pki

It listens on ID/GOV/IMIGRASI's registry endpoint with mutual TLS. For each
call the SDK's `ProviderServer` first checks that the caller is the broker,
the broker's signed attestation, the consumer's own signature and the request
schema; only then does `screen` run, and its answer is masked to the fields the
policy allows and signed. This one keeps a watchlist of one synthetic person.
Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from g2g_sdk import Call, ProviderServer, pki
from g2g_sdk.messages import immigration
from g2g_sdk.registry import load_registry
from google.protobuf.message import Message

SCREEN = "g2g.immigration.v1.Watchlist/Screen"
LISTED = immigration.WatchlistEntry(
    entry_id="EXAMPLE-0001", full_name="Budi Santoso", date_of_birth="1970-01-01",
    nationality="IDN", ban_type=immigration.BAN_TYPE_EXIT_PREVENTION,
    legal_basis="UU 6/2011 Pasal 91", case_reference="EX/2026/1")


async def screen(request: Message, call: Call) -> Message:
    """Answer one verified request (`call` says who asks, why, and under which rule)."""
    assert isinstance(request, immigration.ScreenRequest)
    asked = request.by_name.full_name.casefold().split()
    hits = []
    if asked == LISTED.full_name.casefold().split():
        hits.append(immigration.Hit(entry_id=LISTED.entry_id, score=1.0,
                                    matched_fields=["full_name"], entry=LISTED))
    return immigration.ScreenResponse(hits=hits, threshold=0.9, listed_entries=1,
                                      total_matches=len(hits))


async def serve(args: argparse.Namespace) -> None:
    registry = load_registry(args.registry, args.pki_dir)
    identity = pki.load_identity(args.pki_dir, args.agency)
    agency = registry.agency(args.agency)
    listen = args.listen or (agency.endpoint if agency else None)
    if listen is None:
        raise SystemExit(f"{args.agency} has no endpoint in {args.registry}; pass --listen")
    server = ProviderServer(identity, registry, {SCREEN: screen})
    port = await server.start(listen)
    print(f"serving {SCREEN} as {args.agency} on port {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, required=True, help="the federation registry")
    parser.add_argument("--pki-dir", type=Path, required=True,
                        help="directory holding this agency's key and certificate")
    parser.add_argument("--as", dest="agency", default="ID/GOV/IMIGRASI", help="your agency id")
    parser.add_argument("--listen", help="HOST:PORT (default: the agency's registry endpoint)")
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
