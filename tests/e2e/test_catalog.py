"""End-to-end: the broker's Catalog lists every adapter service with its schema (mTLS)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import descriptor_pool

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY
from tests.e2e.conftest import POLRI, Fed, expect_error

pytestmark = pytest.mark.asyncio

EMBASSIES = ("AU/GOV/EMBASSY-JAKARTA", "MY/GOV/EMBASSY-JAKARTA", "NL/GOV/EMBASSY-JAKARTA")
EXPECTED = {
    ("g2g.immigration.v1.Watchlist/Screen", "ID/GOV/IMIGRASI",
     "g2g.immigration.v1.ScreenRequest", "g2g.immigration.v1.ScreenResponse"),
    ("g2g.consular.v1.StayPermits/GetStatus", "ID/GOV/IMIGRASI",
     "g2g.consular.v1.StayPermitQuery", "g2g.consular.v1.StayPermitStatus"),
    ("g2g.consular.v1.ConsularNotifications/List", "ID/GOV/IMIGRASI",
     "g2g.consular.v1.NotificationQuery", "g2g.consular.v1.NotificationList"),
    ("g2g.interpol.v1.TravelDocuments/Check", "INT/IO/INTERPOL",
     "g2g.interpol.v1.DocumentCheckRequest", "g2g.interpol.v1.DocumentCheckResponse"),
    ("g2g.interpol.v1.TravelDocuments/CheckBatch", "INT/IO/INTERPOL",
     "g2g.interpol.v1.DocumentBatchRequest", "g2g.interpol.v1.DocumentBatchResponse"),
    ("g2g.interpol.v1.Notices/Search", "INT/IO/INTERPOL",
     "g2g.interpol.v1.NoticeSearchRequest", "g2g.interpol.v1.NoticeSearchResponse"),
    ("g2g.interpol.v1.Notices/Get", "INT/IO/INTERPOL",
     "g2g.interpol.v1.GetNoticeRequest", "g2g.interpol.v1.Notice"),
    *(("g2g.consular.v1.NationalityVerification/Verify", embassy,
       "g2g.consular.v1.PassportVerificationRequest",
       "g2g.consular.v1.PassportVerificationResponse") for embassy in EMBASSIES),
}


async def test_every_adapter_service_is_listed_with_its_provider_and_types(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        listed = await client.list_services()
        interpol_only = await client.list_services(provider="INT/IO/INTERPOL")
    assert {(s.name, s.provider, s.request_type, s.response_type) for s in listed} == EXPECTED
    assert all(s.description for s in listed)
    assert {s.name for s in interpol_only} == {
        name for name, provider, _, _ in EXPECTED if provider == "INT/IO/INTERPOL"}


@pytest.mark.parametrize("service", sorted({e[0] for e in EXPECTED}))
async def test_each_service_is_described_with_a_schema_that_builds_its_messages(
        fed: Fed, service: str) -> None:
    async with fed.client("ID/GOV/IMIGRASI") as client:
        reply = await client.describe_service(service)
    assert reply.service.name == service
    pool = descriptor_pool.DescriptorPool()
    for file in reply.schema.file:  # dependencies first, so the set loads on its own
        pool.Add(file)
    request = pool.FindMessageTypeByName(reply.service.request_type)
    assert pool.FindMessageTypeByName(reply.service.response_type)
    assert request.fields  # the declared request fields (with their constraint options)
    package, _, method = service.partition("/")
    assert pool.FindServiceByName(package).FindMethodByName(method).input_type is request


async def test_describing_an_unknown_service_is_not_found(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        await expect_error(client.describe_service("g2g.interpol.v1.Notices/Delete"),
                           grpc.StatusCode.NOT_FOUND, "UNKNOWN_SERVICE")


async def test_callable_only_lists_what_the_caller_may_call_and_for_which_purposes(
        fed: Fed) -> None:
    async with fed.client("NL/GOV/EMBASSY-JAKARTA") as client:
        mine = await client.list_services(callable_only=True)
    assert [(s.name, s.provider, [(p.purpose, list(p.legal_basis), list(p.rule_ids),
                                   p.conditional) for p in s.permissions]) for s in mine] == [
        ("g2g.consular.v1.ConsularNotifications/List", "ID/GOV/IMIGRASI",
         [("consular_assistance", ["VCCR( .+)?"], ["consular-nl-notifications"], True)]),
        ("g2g.consular.v1.StayPermits/GetStatus", "ID/GOV/IMIGRASI",
         [("consular_assistance", ["VCCR( .+)?"], ["consular-nl-stay-permits"], True)]),
    ]
    async with fed.client("ID/GOV/KEMENKUMHAM-AUDIT") as client:
        assert await client.list_services(callable_only=True) == []


async def test_g2g_catalog_as_an_agency_prints_its_purposes_and_legal_basis(
        fed: Fed, capsys: pytest.CaptureFixture[str]) -> None:
    world = ["--registry", str(REGISTRY), "--pki-dir", str(fed.pki_dir),
             "--broker", fed.federation.address]
    code = await asyncio.to_thread(main, ["catalog", "--as", "ID/GOV/BEA-CUKAI", *world])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert code == 0
    assert [line.split(maxsplit=2)[:2] if not line.startswith(" ") else line.strip()
            for line in out] == [
        ["g2g.immigration.v1.Watchlist/Screen", "ID/GOV/IMIGRASI"],
        "purpose border_control: legal basis matching /UU 6/2011( .+)?/; further conditions "
        "apply (rule imigrasi-watchlist-customs)",
    ]  # not TravelDocuments/Check: its customs pilot rule expired on 2024-12-31
    code = await asyncio.to_thread(main, ["catalog", "--as", "ID/GOV/NOBODY", *world])
    assert code == 1
    assert "--as ID/GOV/NOBODY: no such agency in the registry" in capsys.readouterr().err
