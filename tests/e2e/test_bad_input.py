"""End-to-end: bad input to every adapter's services through the real broker (mTLS).

Each case asserts the exact gRPC code, the ErrorInfo reason and metadata, the
audit records the broker wrote for that message, and that the same consumer's
next, good request still succeeds. Malformed values are refused by the
broker's schema step (a `rejected` record, nothing forwarded); well-formed
but unknown country codes pass the schema and are refused by the adapter (a
`request` record, then an `outcome` record with the adapter's reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest
from g2g_sdk import envelope
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as cpb
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as ipb
from google.protobuf import message as pb_message

from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio

IMIGRASI = "ID/GOV/IMIGRASI"
NL_EMBASSY = "NL/GOV/EMBASSY-JAKARTA"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"
CHECK_BATCH = "g2g.interpol.v1.TravelDocuments/CheckBatch"
SEARCH = "g2g.interpol.v1.Notices/Search"
GET_STATUS = "g2g.consular.v1.StayPermits/GetStatus"
LIST = "g2g.consular.v1.ConsularNotifications/List"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
VCCR = "VCCR Art. 5"


@dataclass(frozen=True)
class Caller:
    agency: str
    purpose: str
    legal_basis: str = ""
    recipient: str | None = None


POLICE = Caller(POLRI, "criminal_investigation", LEGAL_BASIS)
BORDER = Caller(IMIGRASI, "border_control")
DUTCH_EMBASSY = Caller(NL_EMBASSY, "consular_assistance", VCCR)
TO_DUTCH_EMBASSY = Caller(IMIGRASI, "border_control", recipient=NL_EMBASSY)

# A good request per (caller, service), sent after each bad one.
GOOD: dict[str, tuple[Caller, pb_message.Message]] = {
    CHECK: (POLICE, ipb.DocumentCheckRequest(number="A1234567", issuing_country="IDN")),
    CHECK_BATCH: (BORDER, ipb.DocumentBatchRequest(documents=[
        ipb.DocumentCheckRequest(number="A1234567", issuing_country="IDN")])),
    SEARCH: (POLICE, ipb.NoticeSearchRequest(full_name="Budi Santoso")),
    SCREEN: (POLICE, name_query("Budi Santoso")),
    GET_STATUS: (DUTCH_EMBASSY, cpb.StayPermitQuery(passport_number="NA0000001",
                                                    nationality="NLD")),
    LIST: (DUTCH_EMBASSY, cpb.NotificationQuery(nationality="NLD", from_date="2020-01-01",
                                                to_date="2020-12-31")),
    VERIFY: (TO_DUTCH_EMBASSY, cpb.PassportVerificationRequest(
        passport_number="NA0000001", full_name="Jan Jansen", date_of_birth="1970-01-01")),
}


def _check(number: str, country: str = "IDN") -> ipb.DocumentCheckRequest:
    return ipb.DocumentCheckRequest(number=number, issuing_country=country)


def _by_document(number: str, country: str = "IDN") -> wl.ScreenRequest:
    return wl.ScreenRequest(by_document=wl.DocumentQuery(
        type=wl.DOCUMENT_TYPE_PASSPORT, number=number, issuing_country=country))


def _batch(*docs: ipb.DocumentCheckRequest) -> ipb.DocumentBatchRequest:
    return ipb.DocumentBatchRequest(documents=list(docs))


def _verify(number: str = "NA0000001", name: str = "Jan Jansen") -> cpb.PassportVerificationRequest:
    return cpb.PassportVerificationRequest(passport_number=number, full_name=name,
                                           date_of_birth="1970-01-01")


# (case id, service, caller, request, field, rule): refused by the broker's schema step.
SCHEMA_CASES = [
    ("document number lowercase", CHECK, POLICE, _check("a1234567"), "number",
     "string.pattern"),
    ("document number too short", CHECK, POLICE, _check("A12"), "number", "string.pattern"),
    ("document number punctuation", CHECK, POLICE, _check("A12-4567"), "number",
     "string.pattern"),
    ("document number with a space", CHECK_BATCH, BORDER,
     _batch(_check("A1234567"), _check("A123 4567")), "documents[1].number", "string.pattern"),
    ("watchlist document number lowercase", SCREEN, POLICE, _by_document("x1234567"),
     "by_document.number", "string.pattern"),
    ("permit passport number punctuation", GET_STATUS, DUTCH_EMBASSY,
     cpb.StayPermitQuery(passport_number="NA.000001", nationality="NLD"),
     "passport_number", "string.pattern"),
    ("verify passport number too short", VERIFY, TO_DUTCH_EMBASSY, _verify(number="N1"),
     "passport_number", "string.pattern"),
    ("country two letters", CHECK, POLICE, _check("A1234567", "ID"), "issuing_country",
     "string.pattern"),
    ("country lowercase", SEARCH, POLICE,
     ipb.NoticeSearchRequest(full_name="Budi Santoso", nationality="idn"), "nationality",
     "string.pattern"),
    ("watchlist country two letters", SCREEN, POLICE, _by_document("A1234567", "ID"),
     "by_document.issuing_country", "string.pattern"),
    ("permit nationality two letters", GET_STATUS, DUTCH_EMBASSY,
     cpb.StayPermitQuery(passport_number="NA0000001", nationality="NL"), "nationality",
     "string.pattern"),
    ("notice search empty name", SEARCH, POLICE, ipb.NoticeSearchRequest(full_name=""),
     "full_name", "string.min_len"),
    ("notice search blank name", SEARCH, POLICE, ipb.NoticeSearchRequest(full_name="   "),
     "full_name", "string.pattern"),
    ("watchlist screen empty name", SCREEN, POLICE, name_query(""), "by_name.full_name",
     "string.min_len"),
    ("watchlist screen blank name", SCREEN, POLICE, name_query("\t\t"), "by_name.full_name",
     "string.pattern"),
    ("verify empty name", VERIFY, TO_DUTCH_EMBASSY, _verify(name=""), "full_name",
     "string.min_len"),
]

# Well-formed but not an assigned ISO 3166-1 code: refused by the adapter.
UNKNOWN_COUNTRY_CASES = [
    ("document check XXX", CHECK, POLICE, _check("A1234567", "XXX"), "issuing_country"),
    ("batch entry XXX", CHECK_BATCH, BORDER,
     _batch(_check("A1234567"), _check("B1234567"), _check("C1234567", "XXX")),
     "documents[2].issuing_country"),
    ("notice search nationality XXX", SEARCH, POLICE,
     ipb.NoticeSearchRequest(full_name="Budi Santoso", nationality="XXX"), "nationality"),
    ("watchlist document country XXX", SCREEN, POLICE, _by_document("A1234567", "XXX"),
     "by_document.issuing_country"),
    ("watchlist nationality UNO", SCREEN, POLICE, wl.ScreenRequest(by_name=wl.NameQuery(
        full_name="Budi Santoso", nationality="UNO")), "by_name.nationality"),
]


async def _refused(fed: Fed, caller: Caller, service: str, request: pb_message.Message,
                   code: grpc.StatusCode, reason: str) -> tuple[dict[str, str],
                                                                list[dict[str, object]]]:
    """Send a bad request, assert the error; then a good one to the same service succeeds."""
    async with fed.client(caller.agency) as client:
        env = client.build(service, request, purpose=caller.purpose,
                           legal_basis=caller.legal_basis, recipient=caller.recipient)
        err = await expect_error(client.send(env), code, reason)
        good_caller, good = GOOD[service]
        assert good_caller == caller
        answer = await client.call(service, good, purpose=caller.purpose,
                                   legal_basis=caller.legal_basis, recipient=caller.recipient)
        assert answer.header.kind  # a provider-signed answer: the broker still serves
    records = await fed.records_for(envelope.parse_header(env).message_id)
    return err.metadata, records


@pytest.mark.parametrize(("case", "service", "caller", "request_", "field", "rule"),
                         SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
async def test_malformed_input_is_refused_by_the_schema_and_audited(
        fed: Fed, case: str, service: str, caller: Caller, request_: pb_message.Message,
        field: str, rule: str) -> None:
    metadata, records = await _refused(fed, caller, service, request_,
                                       grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert metadata == {"field": field, "rule": rule}
    assert [(r["kind"], r["decision"], r["status_code"], r["reason"]) for r in records] == [
        ("rejected", "", "INVALID_ARGUMENT", "CONSTRAINT_VIOLATION")]  # before the policy step


@pytest.mark.parametrize(("case", "service", "caller", "request_", "field"),
                         UNKNOWN_COUNTRY_CASES, ids=[c[0] for c in UNKNOWN_COUNTRY_CASES])
async def test_unknown_country_code_is_refused_by_the_adapter_and_audited(
        fed: Fed, case: str, service: str, caller: Caller, request_: pb_message.Message,
        field: str) -> None:
    metadata, records = await _refused(fed, caller, service, request_,
                                       grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_COUNTRY")
    assert metadata == {"field": field}
    assert [(r["kind"], r["decision"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "allow", "", ""), ("outcome", "allow", "INVALID_ARGUMENT",
                                       "UNKNOWN_COUNTRY")]


async def test_an_embassy_asking_about_country_xxx_is_denied_by_policy(fed: Fed) -> None:
    # Embassies may ask only about their own nationals, so XXX never reaches the adapter
    # (which would refuse it with UNKNOWN_COUNTRY too: tests/agency_adapters/consular).
    for service, request in ((GET_STATUS, cpb.StayPermitQuery(passport_number="NA0000001",
                                                              nationality="XXX")),
                             (LIST, cpb.NotificationQuery(nationality="XXX",
                                                          from_date="2020-01-01",
                                                          to_date="2020-12-31"))):
        _, records = await _refused(fed, DUTCH_EMBASSY, service, request,
                                    grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
        assert [(r["kind"], r["status_code"]) for r in records] == [
            ("rejected", "PERMISSION_DENIED")]


async def test_a_10000_document_batch_is_refused_naming_the_1000_limit(fed: Fed) -> None:
    manifest = _batch(*(_check(f"P{i:07d}", "IDN") for i in range(10_000)))
    assert manifest.ByteSize() < fed.federation.config.limits.max_envelope_bytes
    metadata, records = await _refused(fed, BORDER, CHECK_BATCH, manifest,
                                       grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert metadata == {"field": "documents", "rule": "repeated.max_items"}
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("rejected", "INVALID_ARGUMENT", "CONSTRAINT_VIOLATION")]
    async with fed.client(IMIGRASI) as client:
        err = await expect_error(
            client.call(CHECK_BATCH, manifest, purpose="border_control"),
            grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert err.message == "documents: must contain no more than 1000 item(s)"


async def test_a_batch_over_the_envelope_size_is_refused_naming_the_byte_limit(fed: Fed) -> None:
    # 40,000 documents of maximum length: over 1 MiB, refused before the payload is parsed.
    manifest = _batch(*(ipb.DocumentCheckRequest(number=f"P{i:019d}", issuing_country="IDN",
                                                 document_type=ipb.DOCUMENT_TYPE_PASSPORT)
                        for i in range(40_000)))
    limit = fed.federation.config.limits.max_envelope_bytes
    metadata, records = await _refused(fed, BORDER, CHECK_BATCH, manifest,
                                       grpc.StatusCode.INVALID_ARGUMENT, "ENVELOPE_TOO_LARGE")
    assert metadata["limit"] == str(limit) == "1048576"
    assert int(metadata["size"]) > limit
    assert [(r["kind"], r["reason"]) for r in records] == [("rejected", "ENVELOPE_TOO_LARGE")]
