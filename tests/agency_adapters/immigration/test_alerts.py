"""Immigration events: entry changes between two watchlists, hits at a border crossing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from g2g_sdk._gen.g2g.immigration.v1 import events_pb2 as ev

from agency_adapters.immigration import screening
from agency_adapters.immigration.alerts import Crossing, crossing_hit, entry_changes
from agency_adapters.immigration.service import Watchlist, seeded_records


def _watchlist(records: tuple) -> Watchlist:  # type: ignore[type-arg]
    return Watchlist(screening.ScreeningIndex.build(records), len(records))


def test_issued_extended_and_lifted_entries_are_found() -> None:
    base = seeded_records()[:5]
    extended = replace(base[1], valid_until="2099-12-31")
    lifted = replace(base[2], lifted_on="2026-01-01")
    new_entry = replace(base[4], entry_id="CKL-2026-9999999")
    old = base[:4]
    new = (base[0], extended, lifted, new_entry)
    changes = {c.entry_id: c.change for c in entry_changes(old, new)}
    assert changes == {extended.entry_id: ev.ENTRY_CHANGE_EXTENDED,
                       lifted.entry_id: ev.ENTRY_CHANGE_LIFTED,
                       base[3].entry_id: ev.ENTRY_CHANGE_LIFTED,  # removed from the list
                       new_entry.entry_id: ev.ENTRY_CHANGE_ISSUED}
    assert entry_changes(base, base) == []


def test_a_listed_document_at_the_border_is_a_hit_for_the_requesting_police() -> None:
    record = next(r for r in seeded_records()
                  if r.issuing_authority == "KAPOLRI" and r.documents and not r.lifted_on)
    doc = record.documents[0]
    crossing = Crossing(doc.type, doc.number, doc.issuing_country, "CGK", "EXIT",
                        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    alert = crossing_hit(_watchlist(seeded_records()), crossing)
    assert alert is not None
    assert (alert.entry_id, alert.requested_by, alert.border_post, alert.occurred_at) == (
        record.entry_id, "ID/GOV/POLRI", "CGK", "2026-01-02T03:04:05Z")
    unlisted = replace(crossing, document_number="ZZ0000000")
    assert crossing_hit(_watchlist(seeded_records()), unlisted) is None
