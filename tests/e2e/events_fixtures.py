"""A local federation with the Events service on its own JetStream stream (tests only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from g2g_sdk import pki
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2
from g2g_sdk._gen.g2g.consular.v1 import events_pb2 as consular_events
from g2g_sdk._gen.g2g.immigration.v1 import events_pb2 as immigration_events
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk.publisher import Publisher
from g2g_sdk.subscriber import Subscriber

from broker.events.jetstream import JetStreamBus
from broker.events.service import EventsBroker
from g2g_harness.federation import LocalFederation, start_federation, write_config
from tests.audit_reader import read_records
from tests.jetstream import StreamNames

IMIGRASI = "ID/GOV/IMIGRASI"
POLRI = "ID/GOV/POLRI"
BIN = "ID/GOV/BIN"
NL_EMBASSY = "NL/GOV/EMBASSY-JAKARTA"
AU_EMBASSY = "AU/GOV/EMBASSY-JAKARTA"
MY_EMBASSY = "MY/GOV/EMBASSY-JAKARTA"
HIT_BASIS = "UU 6/2011 Pasal 91"


def hit(entry_id: str = "CKL-0001", requested_by: str = POLRI) -> immigration_events.WatchlistHit:
    return immigration_events.WatchlistHit(
        entry_id=entry_id, full_name="Maryanto Yudi Wijaya", date_of_birth="1956-05-21",
        nationality="IDN", document_number="B1234567", border_post="CGK",
        direction=immigration_events.CROSSING_DIRECTION_EXIT,
        occurred_at="2026-01-02T03:04:05Z", score=0.97,
        ban_type=watchlist_pb2.BAN_TYPE_EXIT_PREVENTION, requested_by=requested_by,
        case_reference="POLRI/2026/0042")


def detention(nationality: str = "NLD") -> consular_events.DetentionNotification:
    return consular_events.DetentionNotification(
        notification_id="NTF-0001", type=consular_pb2.NOTIFICATION_TYPE_DETENTION,
        full_name="Jan de Vries", date_of_birth="1980-02-03", nationality=nationality,
        passport_number="NX1234567", detained_at="2026-01-02T03:04:05Z",
        facility="Rudenim Jakarta", grounds="overstay (UU 6/2011 Pasal 78)",
        consular_access_requested=True)


@dataclass
class EventsFed:
    federation: LocalFederation
    names: StreamNames
    _clients: list[Any] = field(default_factory=list)

    def publisher(self, agency: str) -> Publisher:
        client = Publisher(pki.load_identity(self.federation.pki_dir, agency),
                           self.federation.registry, broker_endpoint=self.federation.address)
        self._clients.append(client)
        return client

    def subscriber(self, agency: str) -> Subscriber:
        client = Subscriber(pki.load_identity(self.federation.pki_dir, agency),
                            self.federation.registry, broker_endpoint=self.federation.address)
        self._clients.append(client)
        return client

    async def records(self, **match: str) -> list[dict[str, Any]]:
        return [r for r in await read_records(self.federation)
                if all(r.get(k) == v for k, v in match.items())]

    async def wait_records(self, count: int, timeout: float = 10.0, **match: str
                           ) -> list[dict[str, Any]]:
        """The matching records once there are at least `count` (bounded wait)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.records(**match)
            if len(found) >= count or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for client in self._clients:
            await client.close()
        await self.federation.stop()


async def start_events_federation(work_dir: Path, pki_dir: Path, names: StreamNames,
                                  **events: object) -> EventsFed:
    work_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    config = write_config(work_dir, pki_dir=pki_dir, extra=names.yaml(**events))
    federation = await start_federation(work_dir, pki_dir=pki_dir, config_path=config,
                                        adapters=())
    return EventsFed(federation, names)


async def events_fed(tmp_path: Path, pki_dir: Path, names: StreamNames,
                     **events: object) -> AsyncIterator[EventsFed]:
    fed = await start_events_federation(tmp_path / "fed", pki_dir, names, **events)
    try:
        yield fed
    finally:
        await fed.stop()


def events_broker(fed: EventsFed) -> EventsBroker:
    """The running broker's Events service (its closer holds it)."""
    closer: Any = next(c for c in fed.federation.broker._closers if hasattr(c, "broker"))
    broker: EventsBroker = closer.broker
    return broker


def bus_of(fed: EventsFed) -> JetStreamBus:
    """The broker's JetStream connection."""
    return events_broker(fed).bus


def counted(fed: EventsFed, metric: str, **labels: str) -> float:
    """A counter of the broker's metrics registry (0 if the series does not exist yet)."""
    value = fed.federation.broker.metrics.registry.get_sample_value(metric + "_total", labels)
    return value or 0.0
