"""`g2g demo`: a self-contained scripted scenario on free localhost ports.

Starts a whole federation in a temporary directory (fresh PKI, adapters,
broker with the shipped policies), runs allowed, denied and invalid
exchanges, prints one table and shuts everything down. Exit code 0 only if
every row had the expected outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf import message as pb_message

from agency_adapters.toolkit import ConsumerClient
from broker.federation import LocalFederation, start_federation
from broker.protocol import envelope, pki
from broker.protocol._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from broker.protocol.errors import G2GError

SCREEN = "g2g.immigration.v1.Watchlist/Screen"
UU_6_2011 = "UU 6/2011 Pasal 91"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run a scripted scenario on free ports")
    parser.add_argument("--keep", type=Path, help="keep the working directory here")
    parser.set_defaults(handler=_demo)


@dataclass(frozen=True)
class Step:
    title: str
    consumer: str
    expect: str  # "OK" or a gRPC code name
    run: Callable[[ConsumerClient, LocalFederation], Awaitable[str]]


def _screen_by_name(full_name: str, dob: str = "") -> wl.ScreenRequest:
    return wl.ScreenRequest(by_name=wl.NameQuery(full_name=full_name, date_of_birth=dob))


def _call(service: str, request: pb_message.Message, purpose: str, legal_basis: str = "",
          recipient: str | None = None) -> Callable[[ConsumerClient, LocalFederation],
                                                    Awaitable[str]]:
    async def run(client: ConsumerClient, fed: LocalFederation) -> str:
        answer = await client.call(service, request, purpose=purpose, legal_basis=legal_basis,
                                   recipient=recipient)
        hits = getattr(answer.payload, "hits", None)
        return (f"{len(hits)} hit(s), signed by {answer.header.sender}" if hits is not None
                else f"signed by {answer.header.sender}")
    return run


def _tampered(run_tamper: Callable[[envelope.Envelope], None]
              ) -> Callable[[ConsumerClient, LocalFederation], Awaitable[str]]:
    async def run(client: ConsumerClient, fed: LocalFederation) -> str:
        env = client.build(SCREEN, _screen_by_name("Budi Santoso"),
                           purpose="criminal_investigation", legal_basis=UU_6_2011)
        run_tamper(env)
        await client.send(env)
        return "accepted?!"
    return run


def _replay() -> Callable[[ConsumerClient, LocalFederation], Awaitable[str]]:
    async def run(client: ConsumerClient, fed: LocalFederation) -> str:
        env = client.build(SCREEN, _screen_by_name("Budi Santoso"),
                           purpose="criminal_investigation", legal_basis=UU_6_2011)
        await client.send(env)
        await client.send(env)
        return "accepted twice?!"
    return run


def _expired() -> Callable[[ConsumerClient, LocalFederation], Awaitable[str]]:
    async def run(client: ConsumerClient, fed: LocalFederation) -> str:
        identity = pki.load_identity(fed.pki_dir, "ID/GOV/POLRI")
        env = envelope.build_request(
            sender="ID/GOV/POLRI", recipient="ID/GOV/IMIGRASI", service=SCREEN,
            payload=_screen_by_name("Budi Santoso"), purpose="criminal_investigation",
            legal_basis=UU_6_2011, key=identity.signing_key,
            now=datetime.now(UTC) - timedelta(hours=2))
        await client.send(env)
        return "accepted?!"
    return run


def _steps(listed_name: str, listed_dob: str) -> list[Step]:
    polri, bin_ = "ID/GOV/POLRI", "ID/GOV/BIN"
    bad_doc = wl.ScreenRequest(by_document=wl.DocumentQuery(
        type=wl.DOCUMENT_TYPE_PASSPORT, number="x-1", issuing_country="IDN"))
    return [
        Step("police screen a listed person by name + DOB", polri, "OK",
             _call(SCREEN, _screen_by_name(listed_name, listed_dob), "criminal_investigation",
                   UU_6_2011)),
        Step("intelligence screen a name for border control", bin_, "OK",
             _call(SCREEN, _screen_by_name("Siti Rahmawati"), "border_control", UU_6_2011)),
        Step("customs screen for tax audit (no rule)", "ID/GOV/BEA-CUKAI", "PERMISSION_DENIED",
             _call(SCREEN, _screen_by_name("Budi Santoso"), "tax_audit")),
        Step("police without the required legal basis", polri, "PERMISSION_DENIED",
             _call(SCREEN, _screen_by_name("Budi Santoso"), "criminal_investigation")),
        Step("malformed passport number", polri, "INVALID_ARGUMENT",
             _call(SCREEN, bad_doc, "criminal_investigation", UU_6_2011)),
        Step("payload changed after signing", polri, "INVALID_ARGUMENT",
             _tampered(lambda e: setattr(e, "payload", e.payload + b"\x00"))),
        Step("header changed after signing", polri, "UNAUTHENTICATED",
             _tampered(lambda e: setattr(e, "header", e.header.replace(b"91", b"92")))),
        Step("same message sent twice", polri, "ALREADY_EXISTS", _replay()),
        Step("message created two hours ago", polri, "FAILED_PRECONDITION", _expired()),
        Step("service that does not exist", polri, "NOT_FOUND",
             _call("g2g.immigration.v1.Watchlist/Delete", _screen_by_name("Budi Santoso"),
                   "criminal_investigation", UU_6_2011, recipient="ID/GOV/IMIGRASI")),
    ]


async def run_demo(work_dir: Path) -> int:
    from agency_adapters.immigration.service import seeded_records

    fed = await start_federation(work_dir)
    listed = seeded_records()[0]
    rows: list[tuple[str, str, str, str, bool]] = []
    try:
        for step in _steps(listed.full_name, listed.date_of_birth):
            async with fed.client(step.consumer) as client:
                try:
                    detail = await step.run(client, fed)
                    outcome = "OK"
                except G2GError as exc:
                    outcome, detail = exc.code.name, f"{exc.reason}: {exc.message}"
            rows.append((step.title, step.consumer, outcome, detail, outcome == step.expect))
    finally:
        await fed.stop()
    width = max(len(r[0]) for r in rows)
    print(f"{'scenario':{width}}  {'consumer':22}  {'outcome':19}  detail")
    for title, consumer, outcome, detail, ok in rows:
        mark = "" if ok else "   <-- UNEXPECTED"
        print(f"{title:{width}}  {consumer:22}  {outcome:19}  {detail[:70]}{mark}")
    failures = sum(not r[4] for r in rows)
    print(f"\n{len(rows) - failures}/{len(rows)} as expected; audit log: {work_dir / 'audit.db'}")
    return 1 if failures else 0


def _demo(args: argparse.Namespace) -> int:
    if args.keep:
        return asyncio.run(run_demo(args.keep))
    with tempfile.TemporaryDirectory(prefix="g2g-demo-") as tmp:
        return asyncio.run(run_demo(Path(tmp)))
