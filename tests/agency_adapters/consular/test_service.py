"""Consular handlers over the seeded data (no transport): permits, notifications, verification."""

from __future__ import annotations

import grpc
import pytest
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as pb
from g2g_sdk.errors import SchemaError

from agency_adapters.common.datasets import Fixed
from agency_adapters.consular import service

DATA = service.seeded_data()
INDEX = service.ConsularIndex.build(DATA)


def test_build_serves_imigrasi_and_each_embassy() -> None:
    built = service.build(Fixed(INDEX))
    assert set(built) == {service.IMIGRASI, *service.EMBASSIES}
    assert set(built[service.IMIGRASI]) == {service.GET_STATUS, service.LIST_NOTIFICATIONS}
    assert all(set(built[e]) == {service.VERIFY} for e in service.EMBASSIES)


async def test_permits_newest_first_and_filtered_by_permit_number() -> None:
    holder = next(p for p in DATA.permits if p.ended == "CONVERTED")
    handler = service.imigrasi_handlers(Fixed(INDEX))[service.GET_STATUS]
    query = pb.StayPermitQuery(passport_number=holder.passport_number,
                               nationality=holder.nationality)
    answer = await handler(query, None)  # type: ignore[arg-type]
    assert isinstance(answer, pb.StayPermitStatus)
    assert answer.found
    assert len(answer.permits) >= 2
    issued = [p.issued_on for p in answer.permits]
    assert issued == sorted(issued, reverse=True)
    query.permit_number = holder.permit_number
    one = await handler(query, None)  # type: ignore[arg-type]
    assert isinstance(one, pb.StayPermitStatus)
    assert [p.permit_number for p in one.permits] == [holder.permit_number]
    query.nationality = "IDN"
    none = await handler(query, None)  # type: ignore[arg-type]
    assert isinstance(none, pb.StayPermitStatus)
    assert (none.found, len(none.permits)) == (False, 0)


async def test_notifications_by_nationality_and_inclusive_date_range() -> None:
    note = next(n for n in DATA.notifications if n.nationality == "AUS")
    handler = service.imigrasi_handlers(Fixed(INDEX))[service.LIST_NOTIFICATIONS]
    answer = await handler(pb.NotificationQuery(nationality="AUS", from_date=note.date,
                                                to_date=note.date), None)  # type: ignore[arg-type]
    assert isinstance(answer, pb.NotificationList)
    assert note.notification_id in [n.notification_id for n in answer.notifications]
    assert all(n.person.nationality == "AUS" and n.date == note.date
               for n in answer.notifications)
    everything = await handler(pb.NotificationQuery(
        nationality="AUS", from_date="1900-01-01", to_date="2100-01-01"), None)  # type: ignore[arg-type]
    assert isinstance(everything, pb.NotificationList)
    dates = [n.date for n in everything.notifications]
    assert dates == sorted(dates)
    assert len(dates) == sum(n.nationality == "AUS" for n in DATA.notifications)


@pytest.mark.parametrize("country", ["NLD", "AUS", "MYS"])
def test_verification_results(country: str) -> None:
    passport = next(p for p in DATA.passports
                    if p.issuing_country == country and p.status == "VALID")

    def ask(number: str, name: str, dob: str, in_country: str = country
            ) -> pb.PassportVerificationResponse:
        return service.verify(INDEX, in_country, pb.PassportVerificationRequest(
            passport_number=number, full_name=name, date_of_birth=dob))

    valid = ask(passport.passport_number, passport.full_name.upper(), passport.date_of_birth)
    assert valid.result == pb.VERIFICATION_RESULT_VALID
    swapped = " ".join(reversed(passport.full_name.split()))
    assert ask(passport.passport_number, swapped, passport.date_of_birth).result == (
        pb.VERIFICATION_RESULT_VALID)
    wrong = ask(passport.passport_number, "Someone Else", "1901-01-01")
    assert wrong.result == pb.VERIFICATION_RESULT_DATA_MISMATCH
    assert list(wrong.mismatched_fields) == ["full_name", "date_of_birth"]
    other = next(c for c in ("NLD", "AUS", "MYS") if c != country)
    assert ask(passport.passport_number, passport.full_name, passport.date_of_birth,
               other).result == pb.VERIFICATION_RESULT_NOT_FOUND


def test_revoked_lost_or_stolen_passport_is_revoked() -> None:
    bad = next(p for p in DATA.passports if p.status != "VALID")
    answer = service.verify(INDEX, bad.issuing_country, pb.PassportVerificationRequest(
        passport_number=bad.passport_number, full_name=bad.full_name,
        date_of_birth=bad.date_of_birth))
    assert answer.result == pb.VERIFICATION_RESULT_REVOKED


@pytest.mark.parametrize("service_name", [service.GET_STATUS, service.LIST_NOTIFICATIONS])
async def test_an_unassigned_nationality_is_refused_naming_the_field(service_name: str) -> None:
    # Through the broker the embassy policies deny XXX first; the adapter refuses it anyway.
    handler = service.imigrasi_handlers(Fixed(INDEX))[service_name]
    request = (pb.StayPermitQuery(passport_number="NA0000001", nationality="XXX")
               if service_name == service.GET_STATUS
               else pb.NotificationQuery(nationality="XXX", from_date="2020-01-01",
                                         to_date="2020-12-31"))
    with pytest.raises(SchemaError) as info:
        await handler(request, None)  # type: ignore[arg-type]
    assert (info.value.code, info.value.reason, info.value.metadata) == (
        grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_COUNTRY", {"field": "nationality"})


async def test_the_status_is_derived_from_the_dates_on_the_day_of_the_check() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from agency_adapters.consular.records import ConsularData, Sponsor

    sponsor = Sponsor("PT Maju Jaya Abadi", "Jl. Pemuda No. 1, Surabaya", "+62 21 5550000")
    itas = DATA.permits[0].__class__(
        permit_number="IT0000000001", type="ITAS", passport_number="NA1234567",
        nationality="NLD", holder_name="Jan de Vries", issued_on="2025-01-10",
        expires_on="2026-01-09", sponsor=sponsor, extensions=("2027-01-09",))
    deported = replace(itas, permit_number="IT0000000002", issued_on="2024-01-10",
                       expires_on="2025-01-09", extensions=(), ended="DEPORTED",
                       ended_on="2024-06-01")
    index = service.ConsularIndex.build(ConsularData((itas, deported), (), ()))

    async def on(day: datetime) -> list[tuple[str, int, str]]:
        handler = service.imigrasi_handlers(Fixed(index), clock=lambda: day)[service.GET_STATUS]
        answer = await handler(pb.StayPermitQuery(passport_number="NA1234567",
                                                  nationality="NLD"), None)  # type: ignore[arg-type]
        assert isinstance(answer, pb.StayPermitStatus)
        return [(answer.checked_on, p.status, p.expires_on) for p in answer.permits]

    assert await on(datetime(2026, 12, 1, 3, tzinfo=UTC)) == [
        ("2026-12-01", pb.PERMIT_STATUS_ACTIVE, "2027-01-09"),
        ("2026-12-01", pb.PERMIT_STATUS_DEPORTED, "2025-01-09")]
    assert (await on(datetime(2027, 1, 9, 17, tzinfo=UTC)))[0] == (  # 10 Jan in Jakarta
        "2027-01-10", pb.PERMIT_STATUS_EXPIRED, "2027-01-09")
    assert (await on(datetime(2024, 3, 1, tzinfo=UTC)))[1][1] == pb.PERMIT_STATUS_ACTIVE
