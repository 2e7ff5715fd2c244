"""The consular adapter: stay permits and consular notifications (ID/GOV/IMIGRASI) and
passport verification by the embassies in Jakarta (NL, AU, MY).

One module, several agency identities: `build()` returns the Imigrasi handlers
under ID/GOV/IMIGRASI (merged by the runner with the immigration adapter's
handlers for the same agency) and one NationalityVerification handler per
embassy, each answering only from its own country's passport register.
`DATA` declares the data sets (``permits``, ``notifications``, ``passports``);
`build(data)` takes where the current index is read from, once per request, so
new data can be swapped in while serving. Never logs names, dates of birth or
document numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Final

from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as pb
from g2g_sdk.provider import Call, Handler
from google.protobuf import message as pb_message

from agency_adapters.common.calendar import local_day
from agency_adapters.common.countries import require_assigned
from agency_adapters.common.datasets import AdapterData, Current, Dataset, Records
from agency_adapters.common.names import tokens
from agency_adapters.consular import records as rec
from agency_adapters.consular import synthetic

IMIGRASI = "ID/GOV/IMIGRASI"
EMBASSIES: Final[Mapping[str, str]] = {
    "NL/GOV/EMBASSY-JAKARTA": "NLD",
    "AU/GOV/EMBASSY-JAKARTA": "AUS",
    "MY/GOV/EMBASSY-JAKARTA": "MYS",
}
"""Embassy agency id -> the country whose passports it verifies."""
GET_STATUS = "g2g.consular.v1.StayPermits/GetStatus"
LIST_NOTIFICATIONS = "g2g.consular.v1.ConsularNotifications/List"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
MAX_NOTIFICATIONS: Final = 1000

# Record enumerations to wire enums by name (the wire adds a prefix, e.g. PERMIT_TYPE_).
_PERMIT_TYPES: dict[str, pb.PermitType] = {
    name: getattr(pb, f"PERMIT_TYPE_{name}") for name in rec.PERMIT_TYPES}
_PERMIT_STATUSES: dict[str, pb.PermitStatus] = {
    name: getattr(pb, f"PERMIT_STATUS_{name}") for name in rec.PERMIT_STATUSES}
_NOTIFICATION_TYPES: dict[str, pb.NotificationType] = {
    name: getattr(pb, f"NOTIFICATION_TYPE_{name}") for name in rec.NOTIFICATION_TYPES}


@cache
def seeded_data() -> rec.ConsularData:
    """The default synthetic data (fixed seed), used for data sets without a file."""
    return synthetic.generate()


@dataclass(frozen=True)
class ConsularIndex:
    """Lookups over one data set."""

    permits: Mapping[tuple[str, str], tuple[rec.PermitRecord, ...]]
    notifications: Mapping[str, tuple[rec.NotificationRecord, ...]]
    passports: Mapping[tuple[str, str], rec.PassportRecord]

    @classmethod
    def build(cls, data: rec.ConsularData) -> ConsularIndex:
        permits: dict[tuple[str, str], list[rec.PermitRecord]] = defaultdict(list)
        for permit in data.permits:
            permits[(permit.passport_number, permit.nationality)].append(permit)
        notes: dict[str, list[rec.NotificationRecord]] = defaultdict(list)
        for note in data.notifications:
            notes[note.nationality].append(note)
        return cls(
            permits={k: tuple(sorted(v, key=lambda p: (p.issued_on, p.permit_number),
                                     reverse=True)) for k, v in permits.items()},
            notifications={k: tuple(sorted(v, key=lambda n: (n.date, n.notification_id)))
                           for k, v in notes.items()},
            passports={(p.issuing_country, p.passport_number): p for p in data.passports})


def _generate(size: int, seed: int) -> Records:
    data = synthetic.generate(size, seed)
    return {"permits": data.permits, "notifications": data.notifications,
            "passports": data.passports}


DATA: AdapterData[ConsularIndex] = AdapterData(
    datasets=(Dataset("permits", rec.PERMITS, lambda: seeded_data().permits),
              Dataset("notifications", rec.NOTIFICATIONS, lambda: seeded_data().notifications),
              Dataset("passports", rec.PASSPORTS, lambda: seeded_data().passports)),
    index=lambda records: ConsularIndex.build(rec.ConsularData(
        permits=records["permits"], notifications=records["notifications"],
        passports=records["passports"])),
    generate=_generate, default_size=synthetic.DEFAULT_SIZE, default_seed=synthetic.SEED)
"""Stay permits, consular notifications and embassy passport registers; see docs/DATA.md."""


def to_permit(record: rec.PermitRecord, on: date) -> pb.Permit:
    """The permit as the wire shows it, its status derived for day `on`."""
    permit = pb.Permit(permit_number=record.permit_number, type=_PERMIT_TYPES[record.type],
                       status=_PERMIT_STATUSES[record.status(on)], issued_on=record.issued_on,
                       expires_on=record.valid_until, holder_name=record.holder_name,
                       first_expires_on=record.expires_on, extensions=list(record.extensions),
                       ended_on=record.ended_on)
    if record.sponsor is not None:
        permit.sponsor.CopyFrom(pb.Sponsor(name=record.sponsor.name,
                                           address=record.sponsor.address,
                                           phone=record.sponsor.phone))
    return permit


def to_notification(record: rec.NotificationRecord) -> pb.Notification:
    return pb.Notification(
        notification_id=record.notification_id, type=_NOTIFICATION_TYPES[record.type],
        person=pb.Person(full_name=record.full_name, passport_number=record.passport_number,
                         nationality=record.nationality),
        date=record.date, place=record.place, authority=record.authority,
        summary=record.summary)


def same_name(a: str, b: str) -> bool:
    """Names equal after the watchlist normalisation, in any word order."""
    return sorted(tokens(a)) == sorted(tokens(b))


def verify(index: ConsularIndex, country: str, request: pb.PassportVerificationRequest
           ) -> pb.PassportVerificationResponse:
    passport = index.passports.get((country, request.passport_number))
    if passport is None:
        return pb.PassportVerificationResponse(result=pb.VERIFICATION_RESULT_NOT_FOUND)
    if passport.status != "VALID":
        return pb.PassportVerificationResponse(result=pb.VERIFICATION_RESULT_REVOKED)
    mismatched = []
    if not same_name(request.full_name, passport.full_name):
        mismatched.append("full_name")
    if request.date_of_birth != passport.date_of_birth:
        mismatched.append("date_of_birth")
    if mismatched:
        return pb.PassportVerificationResponse(result=pb.VERIFICATION_RESULT_DATA_MISMATCH,
                                               mismatched_fields=mismatched)
    return pb.PassportVerificationResponse(result=pb.VERIFICATION_RESULT_VALID)


def _now() -> datetime:
    return datetime.now(UTC)


def imigrasi_handlers(data: Current[ConsularIndex],
                      clock: Callable[[], datetime] = _now) -> dict[str, Handler]:
    """Imigrasi's consular handlers; each reads `data.current` once per request."""

    async def get_status(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.StayPermitQuery)
        require_assigned("nationality", request.nationality)
        on = local_day(clock())
        permits = [p for p in data.current.permits.get(
                       (request.passport_number, request.nationality), ())
                   if not request.permit_number or p.permit_number == request.permit_number]
        return pb.StayPermitStatus(found=bool(permits), permits=[to_permit(p, on) for p in permits],
                                   checked_on=on.isoformat())

    async def list_notifications(request: pb_message.Message, call: Call
                                 ) -> pb_message.Message:
        assert isinstance(request, pb.NotificationQuery)
        require_assigned("nationality", request.nationality)
        matched = [n for n in data.current.notifications.get(request.nationality, ())
                   if request.from_date <= n.date <= request.to_date]
        return pb.NotificationList(
            notifications=[to_notification(n) for n in matched[:MAX_NOTIFICATIONS]],
            truncated=len(matched) > MAX_NOTIFICATIONS)

    return {GET_STATUS: get_status, LIST_NOTIFICATIONS: list_notifications}


def embassy_handler(data: Current[ConsularIndex], country: str) -> Handler:
    async def verify_passport(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.PassportVerificationRequest)
        return verify(data.current, country, request)

    return verify_passport


def build(data: Current[ConsularIndex]) -> Mapping[str, Mapping[str, Handler]]:
    """Handlers per agency: Imigrasi's consular services and each embassy's Verify."""
    out: dict[str, Mapping[str, Handler]] = {IMIGRASI: imigrasi_handlers(data)}
    for agency, country in EMBASSIES.items():
        out[agency] = {VERIFY: embassy_handler(data, country)}
    return out
