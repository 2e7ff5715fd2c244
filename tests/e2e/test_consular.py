"""End-to-end: consular services of Imigrasi and the embassies through the real broker (mTLS)."""

from __future__ import annotations

import grpc
import pytest
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as pb
from g2g_sdk.errors import UnknownServiceError

from agency_adapters.consular.service import seeded_data
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio

IMIGRASI = "ID/GOV/IMIGRASI"
NL_EMBASSY = "NL/GOV/EMBASSY-JAKARTA"
AU_EMBASSY = "AU/GOV/EMBASSY-JAKARTA"
GET_STATUS = "g2g.consular.v1.StayPermits/GetStatus"
LIST = "g2g.consular.v1.ConsularNotifications/List"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
VCCR = "VCCR Art. 5"


def _sponsored_permit(nationality: str) -> tuple[str, str]:
    permit = next(p for p in seeded_data().permits
                  if p.nationality == nationality and p.sponsor is not None)
    return permit.passport_number, permit.permit_number


async def test_embassy_sees_its_national_s_permits_without_the_sponsor(fed: Fed) -> None:
    passport, permit_number = _sponsored_permit("NLD")
    async with fed.client(NL_EMBASSY) as client:
        answer = await client.call(
            GET_STATUS, pb.StayPermitQuery(passport_number=passport, nationality="NLD"),
            purpose="consular_assistance", legal_basis=VCCR)
    assert answer.header.sender == IMIGRASI
    status = answer.payload
    assert isinstance(status, pb.StayPermitStatus)
    assert status.found
    assert permit_number in [p.permit_number for p in status.permits]
    assert all(p.holder_name and p.issued_on and p.type for p in status.permits)
    assert not any(p.HasField("sponsor") for p in status.permits)


async def test_embassy_asking_about_another_nationality_is_denied(fed: Fed) -> None:
    passport, _ = _sponsored_permit("AUS")
    async with fed.client(NL_EMBASSY) as client:
        err = await expect_error(
            client.call(GET_STATUS, pb.StayPermitQuery(passport_number=passport,
                                                       nationality="AUS"),
                        purpose="consular_assistance", legal_basis=VCCR),
            grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
        assert err.metadata["rule_id"] == "none"
        await expect_error(
            client.call(GET_STATUS, pb.StayPermitQuery(passport_number=passport,
                                                       nationality="NLD"),
                        purpose="consular_assistance"),
            grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")


async def test_embassy_lists_notifications_about_its_nationals(fed: Fed) -> None:
    expected = sorted(n.notification_id for n in seeded_data().notifications
                      if n.nationality == "AUS" and "2021-01-01" <= n.date <= "2023-12-31")
    assert expected
    async with fed.client(AU_EMBASSY) as client:
        answer = await client.call(
            LIST, pb.NotificationQuery(nationality="AUS", from_date="2021-01-01",
                                       to_date="2023-12-31"),
            purpose="consular_assistance", legal_basis="VCCR Art. 36")
        assert isinstance(answer.payload, pb.NotificationList)
        assert sorted(n.notification_id for n in answer.payload.notifications) == expected
        assert all(n.person.passport_number for n in answer.payload.notifications)
        err = await expect_error(
            client.call(LIST, pb.NotificationQuery(nationality="AUS", from_date="2023-01-01",
                                                   to_date="2022-01-01"),
                        purpose="consular_assistance", legal_basis="VCCR Art. 36"),
            grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert "to_date" in err.message


async def test_immigration_verifies_a_dutch_passport_at_the_dutch_embassy(fed: Fed) -> None:
    passport = next(p for p in seeded_data().passports
                    if p.issuing_country == "NLD" and p.status == "VALID")
    request = pb.PassportVerificationRequest(passport_number=passport.passport_number,
                                             full_name=passport.full_name,
                                             date_of_birth=passport.date_of_birth)
    async with fed.client(IMIGRASI) as client:
        answer = await client.call(VERIFY, request, purpose="border_control",
                                   recipient=NL_EMBASSY)
        assert answer.header.sender == NL_EMBASSY
        assert isinstance(answer.payload, pb.PassportVerificationResponse)
        assert answer.payload.result == pb.VERIFICATION_RESULT_VALID
        # The Australian embassy's register does not hold Dutch passports.
        elsewhere = await client.call(VERIFY, request, purpose="border_control",
                                      recipient=AU_EMBASSY)
        assert isinstance(elsewhere.payload, pb.PassportVerificationResponse)
        assert elsewhere.payload.result == pb.VERIFICATION_RESULT_NOT_FOUND
        # Several embassies offer Verify: the consumer must name the recipient.
        with pytest.raises(UnknownServiceError):
            client.build(VERIFY, request, purpose="border_control")


async def test_police_may_not_ask_an_embassy(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        await expect_error(
            client.call(VERIFY, pb.PassportVerificationRequest(
                passport_number="NA0000001", full_name="Jan Jansen", date_of_birth="1970-01-01"),
                purpose="criminal_investigation", recipient=NL_EMBASSY),
            grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")


async def test_imigrasi_serves_watchlist_and_consular_services_from_one_server(fed: Fed) -> None:
    providers = fed.federation.providers
    assert {IMIGRASI, NL_EMBASSY, AU_EMBASSY, "MY/GOV/EMBASSY-JAKARTA",
            "INT/IO/INTERPOL"} <= set(providers)
    subject = fed.listed_subject
    async with fed.client(POLRI) as client:
        screened = await client.call(SCREEN, name_query(subject.full_name),
                                     purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert screened.header.sender == IMIGRASI
    passport, _ = _sponsored_permit("MYS")
    async with fed.client("MY/GOV/EMBASSY-JAKARTA") as client:
        permits = await client.call(
            GET_STATUS, pb.StayPermitQuery(passport_number=passport, nationality="MYS"),
            purpose="consular_assistance", legal_basis=VCCR)
    assert permits.header.sender == IMIGRASI
