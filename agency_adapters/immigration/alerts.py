"""Immigration events: cekal entry changes on a data swap, and hits at the border.

`entry_changes` (pure) compares two watchlists: an entry that appears is
ISSUED, one whose latest term ends later is EXTENDED, one that is lifted (or
removed) is LIFTED. `crossing_hit` (pure) screens a document presented at a
border post and builds the `WatchlistHit` for the best hit. `WatchlistAlerts`
publishes both through the broker with the agency toolkit's `Publisher`;
`follow` publishes the changes of every swap of the live watchlist. Never
logs names, dates of birth or document numbers.

The adapter's own command line (`g2g up` runs `watch`; a border post's system
runs `crossing`)::

    python -m agency_adapters.immigration.alerts watch --registry R --pki-dir P --data-dir D
    python -m agency_adapters.immigration.alerts crossing --registry R --pki-dir P \
        --document B1234567 --country IDN --post CGK --direction EXIT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from g2g_sdk import pki
from g2g_sdk._gen.g2g.immigration.v1 import events_pb2 as ev
from g2g_sdk.errors import G2GError
from g2g_sdk.logs import configure
from g2g_sdk.publisher import Published, Publisher
from g2g_sdk.registry import load_registry

from agency_adapters.common.datasets import Current, LiveData
from agency_adapters.immigration import records as rec
from agency_adapters.immigration import screening
from agency_adapters.immigration.service import _BAN_TYPES, AGENCY_ID, DATA, Watchlist

log = structlog.get_logger("g2g.adapter.immigration")

PURPOSE = "border_control"
LEGAL_BASIS = "UU 6/2011 Pasal 91-97"
# The agency that asked for the ban, where it takes part in the federation.
REQUESTING_AGENCY = {"KAPOLRI": "ID/GOV/POLRI"}
DIRECTIONS = {"ENTRY": ev.CROSSING_DIRECTION_ENTRY, "EXIT": ev.CROSSING_DIRECTION_EXIT}


@dataclass(frozen=True)
class Crossing:
    """A document presented at a border post (what the post's system reports)."""

    document_type: str          # PASSPORT, NATIONAL_ID, TRAVEL_DOCUMENT
    document_number: str
    issuing_country: str
    border_post: str            # e.g. CGK
    direction: str              # ENTRY or EXIT
    occurred_at: datetime


def _requested_by(record: rec.WatchlistRecord) -> str:
    return REQUESTING_AGENCY.get(record.issuing_authority, record.issuing_authority)


def _change(record: rec.WatchlistRecord, change: ev.EntryChange) -> ev.WatchlistEntryChanged:
    return ev.WatchlistEntryChanged(
        entry_id=record.entry_id, change=change, full_name=record.full_name,
        date_of_birth=record.date_of_birth, nationality=record.nationality,
        ban_type=_BAN_TYPES[record.ban_type], valid_from=record.valid_from,
        valid_until=record.valid_until, requested_by=_requested_by(record),
        case_reference=record.case_reference)


def entry_changes(old: Sequence[rec.WatchlistRecord], new: Sequence[rec.WatchlistRecord]
                  ) -> list[ev.WatchlistEntryChanged]:
    """What changed between two watchlists, in entry id order."""
    before = {r.entry_id: r for r in old}
    after = {r.entry_id: r for r in new}
    out = []
    for entry_id in sorted(before.keys() | after.keys()):
        was, now = before.get(entry_id), after.get(entry_id)
        if now is None:
            assert was is not None
            if not was.lifted_on:
                out.append(_change(was, ev.ENTRY_CHANGE_LIFTED))
        elif was is None:
            out.append(_change(now, ev.ENTRY_CHANGE_LIFTED if now.lifted_on
                               else ev.ENTRY_CHANGE_ISSUED))
        elif now.lifted_on and not was.lifted_on:
            out.append(_change(now, ev.ENTRY_CHANGE_LIFTED))
        elif (not now.lifted_on and now.valid_until != was.valid_until
              and (not now.valid_until or now.valid_until > (was.valid_until or "9999"))):
            out.append(_change(now, ev.ENTRY_CHANGE_EXTENDED))
    return out


def crossing_hit(watchlist: Watchlist, crossing: Crossing) -> ev.WatchlistHit | None:
    """The alert for the best watchlist hit on a presented document, or None."""
    found = watchlist.index.search(screening.DocumentQuery(
        type=crossing.document_type, number=crossing.document_number,
        issuing_country=crossing.issuing_country), 1)
    if not found.hits:
        return None
    hit = found.hits[0]
    r = hit.record
    if r.lifted_on:
        return None
    return ev.WatchlistHit(
        entry_id=r.entry_id, full_name=r.full_name, date_of_birth=r.date_of_birth,
        nationality=r.nationality, document_number=crossing.document_number,
        border_post=crossing.border_post, direction=DIRECTIONS[crossing.direction],
        occurred_at=crossing.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        score=round(hit.score, 4), ban_type=_BAN_TYPES[r.ban_type],
        requested_by=_requested_by(r), case_reference=r.case_reference)


class WatchlistAlerts:
    """Publishes immigration events through the broker."""

    def __init__(self, publisher: Publisher, data: Current[Watchlist],
                 legal_basis: str = LEGAL_BASIS) -> None:
        self._publisher = publisher
        self._data = data
        self._legal_basis = legal_basis

    async def crossing(self, crossing: Crossing) -> Published | None:
        """Screen a crossing; on a hit, publish the alert (None: no hit, nothing sent)."""
        alert = crossing_hit(self._data.current, crossing)
        if alert is None:
            return None
        return await self._publisher.publish(alert, purpose=PURPOSE,
                                             legal_basis=self._legal_basis)

    async def publish_changes(self, old: Watchlist, new: Watchlist) -> list[Published]:
        """One WatchlistEntryChanged per changed entry between two loaded watchlists."""
        out = []
        for change in entry_changes(old.index.records, new.index.records):
            try:
                out.append(await self._publisher.publish(change, purpose=PURPOSE,
                                                         legal_basis=self._legal_basis))
            except G2GError as exc:
                # The watch goes on; the operator sees which change was not published.
                log.error("watchlist_change_not_published", entry_id=change.entry_id,
                          reason=exc.reason, code=exc.code.name)
        return out

    async def follow(self, live: LiveData[Watchlist], stop: asyncio.Event) -> None:
        """Publish the changes of every swap of `live` until `stop` is set."""
        previous, generation = live.current, live.generation
        while not stop.is_set():
            swapped = asyncio.ensure_future(live.wait_for_generation(generation + 1))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({swapped, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not swapped.done():
                swapped.cancel()
                return
            current, generation = live.current, live.generation
            published = await self.publish_changes(previous, current)
            log.info("watchlist_changes_published", events=len(published),
                     generation=generation)
            previous = current


def _tools(args: argparse.Namespace) -> tuple[LiveData[Watchlist], Publisher]:
    """The live watchlist and a Publisher as ID/GOV/IMIGRASI (inside the event loop)."""
    registry = load_registry(args.registry, args.pki_dir)
    live = LiveData("immigration", DATA, args.data_dir)
    publisher = Publisher(pki.load_identity(args.pki_dir, AGENCY_ID), registry,
                          broker_endpoint=args.broker)
    return live, publisher


async def _crossing(args: argparse.Namespace) -> int:
    live, publisher = _tools(args)
    crossing = Crossing(args.document_type, args.document, args.country, args.post,
                        args.direction, datetime.now(UTC))
    async with publisher:
        result = await WatchlistAlerts(publisher, live).crossing(crossing)
    if result is None:
        print("no watchlist hit: nothing published")
    else:
        print(json.dumps({"event_id": result.event_id, "recipients": list(result.recipients)},
                         indent=2))
    return 0


async def _watch(args: argparse.Namespace) -> int:
    live, publisher = _tools(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with publisher:
        alerts = WatchlistAlerts(publisher, live)
        log.info("watchlist_events_ready", entries=live.current.listed)
        await asyncio.gather(live.watch(stop), alerts.follow(live, stop))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m agency_adapters.immigration.alerts {crossing,watch} ...`."""
    parser = argparse.ArgumentParser(prog="python -m agency_adapters.immigration.alerts",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    crossing = sub.add_parser("crossing", help="screen a document presented at a border "
                              "post and publish a WatchlistHit if it is listed")
    crossing.add_argument("--document", required=True, help="document number")
    crossing.add_argument("--document-type", default="PASSPORT",
                          choices=("PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT"),
                          help="the kind of document presented (default PASSPORT)")
    crossing.add_argument("--country", required=True, help="issuing country, ISO alpha-3")
    crossing.add_argument("--post", required=True, help="border post code, e.g. CGK")
    crossing.add_argument("--direction", default="EXIT", choices=("ENTRY", "EXIT"),
                          help="arriving (ENTRY) or departing (EXIT); default EXIT")
    watch = sub.add_parser("watch", help="publish a WatchlistEntryChanged for every entry "
                           "issued, extended or lifted when the data changes (until Ctrl-C)")
    for command in (crossing, watch):
        command.add_argument("--registry", type=Path, required=True,
                             help="the federation registry")
        command.add_argument("--pki-dir", type=Path, required=True,
                             help="keys and certificates (ID/GOV/IMIGRASI's)")
        command.add_argument("--data-dir", type=Path,
                             help="the immigration data directory (default: seeded data)")
        command.add_argument("--broker", help="broker address (default: from the registry)")
    args = parser.parse_args(argv)
    # The answer (crossing) is the output; logs go to stderr, JSON lines for `g2g up`.
    configure("WARNING" if args.command == "crossing" else "INFO",
              json=args.command == "watch")
    try:
        return asyncio.run(_crossing(args) if args.command == "crossing" else _watch(args))
    except G2GError as exc:
        print(f"alerts: {exc.code.name} {exc.diagnostics()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
