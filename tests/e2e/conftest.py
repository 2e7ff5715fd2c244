"""A fresh federation per test: real adapters and broker on free ports with mTLS."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from g2g_sdk import ConsumerClient
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk.errors import G2GError

from agency_adapters.immigration.records import WatchlistRecord
from agency_adapters.immigration.service import seeded_example
from g2g_harness.federation import (
    POLICIES,
    REGISTRY,
    LocalFederation,
    start_federation,
    write_config,
)
from tests.audit_reader import read_records
from tests.jetstream import StreamNames, unique_stream

POLRI = "ID/GOV/POLRI"
SCREEN = "g2g.immigration.v1.Watchlist/Screen"
LEGAL_BASIS = "UU 6/2011 Pasal 91"


def name_query(full_name: str, date_of_birth: str = "") -> watchlist_pb2.ScreenRequest:
    return watchlist_pb2.ScreenRequest(
        by_name=watchlist_pb2.NameQuery(full_name=full_name, date_of_birth=date_of_birth))


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode, reason: str) -> G2GError:
    """Await `call`, which must fail with exactly `code` and ErrorInfo `reason`."""
    with pytest.raises(G2GError) as info:
        await call
    assert (info.value.code, info.value.reason) == (code, reason), info.value.diagnostics()
    return info.value


PEOPLE = [("Budi Santoso", "1980-02-03"), ("Siti Rahma", "1975-09-30"),
          ("Budi Santoso", "1980-02-03"), ("Agus Salim", "1990-01-01")]
"""Four name screens (one person twice) that the audit tests log and look up."""


async def screened_log(work_dir: Path, pki_dir: Path, *, checkpoint_every: int,
                        ) -> tuple[Fed, Path]:
    """A running federation (immigration only) with its SQLite log's config, after the
    police screened `PEOPLE`; checkpoints are signed every `checkpoint_every` records."""
    audit_yaml = (f"  backend: sqlite\n  path: {work_dir / 'audit.db'}\n"
                  f"  checkpoint_every: {checkpoint_every}\n")
    config = write_config(work_dir, pki_dir=pki_dir, audit_yaml=audit_yaml)
    fed = Fed(await start_federation(work_dir, pki_dir=pki_dir, config_path=config,
                                     adapters=("immigration",)))
    try:
        async with fed.client(POLRI) as client:
            await screen_people(client)
    except BaseException:
        await fed.federation.stop()
        raise
    return fed, config


async def screen_people(client: ConsumerClient) -> None:
    """The police screen `PEOPLE`: 8 audit records (a request and an outcome each)."""
    for name, dob in PEOPLE:
        await client.call(SCREEN, name_query(name, dob), purpose="criminal_investigation",
                          legal_basis=LEGAL_BASIS)


@dataclass
class Fed:
    federation: LocalFederation

    @property
    def pki_dir(self) -> Path:
        return self.federation.pki_dir

    @property
    def listed_subject(self) -> WatchlistRecord:
        """A seeded person under an order in force today (unique name and birth date)."""
        return seeded_example("IN_FORCE")

    @property
    def expired_subject(self) -> WatchlistRecord:
        """A seeded person whose only order has expired."""
        return seeded_example("EXPIRED")

    def client(self, agency_id: str) -> ConsumerClient:
        return self.federation.client(agency_id)

    async def all_records(self) -> list[dict[str, Any]]:
        return await read_records(self.federation)

    async def records_for(self, message_id: str) -> list[dict[str, Any]]:
        return [r for r in await self.all_records() if r["message_id"] == message_id]

    async def wait_for_records(self, message_id: str, count: int = 1,
                               timeout: float = 10.0) -> list[dict[str, Any]]:
        """The message's records once there are `count`: for a record that commits
        after the caller's answer (a caller that left, a shed call)."""
        deadline = time.monotonic() + timeout
        while len(records := await self.records_for(message_id)) < count:
            assert time.monotonic() < deadline, records
            await asyncio.sleep(0.02)  # polling the log with a deadline
        return records


@pytest.fixture
async def fed(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Fed]:
    federation = await start_federation(tmp_path, pki_dir=pki_dir)
    try:
        yield Fed(federation)
    finally:
        await federation.stop()


@pytest.fixture
async def stream_names() -> AsyncIterator[StreamNames]:
    """A fresh JetStream stream for one test (deleted after)."""
    async for names in unique_stream():
        yield names


@dataclass(frozen=True)
class OwnCopies:
    """Where a federation started by `federation_with_own` reads what a test may edit."""

    pki: Path
    registry: Path
    policies: Path


@asynccontextmanager
async def federation_with_own(tmp_path: Path, pki_dir: Path, *, pki: bool = False,
                              registry: bool = False, policies: bool = False
                              ) -> AsyncIterator[tuple[LocalFederation, OwnCopies]]:
    """A federation reading copies (under `tmp_path`) of the shipped PKI, registry and/or
    policies, free to edit; what is not copied is read from where it is shipped."""
    own = OwnCopies(tmp_path / "pki" if pki else pki_dir,
                    tmp_path / "agencies.yaml" if registry else REGISTRY,
                    tmp_path / "policies" if policies else POLICIES)
    if pki:
        shutil.copytree(pki_dir, own.pki)
    if registry:
        shutil.copyfile(REGISTRY, own.registry)
    if policies:
        shutil.copytree(POLICIES, own.policies)
    config = write_config(tmp_path, pki_dir=own.pki, registry=own.registry,
                          policies=own.policies)
    fed = await start_federation(tmp_path, pki_dir=own.pki, config_path=config)
    try:
        yield fed, own
    finally:
        await fed.stop()
