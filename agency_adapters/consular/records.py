"""Consular records: stay permits, consular notifications, embassy passport registers.

Strict JSONL/CSV loading via `agency_adapters.common.records`: one bad row
refuses the whole file with ``file:line: field: reason``; personal values are
never quoted in errors. A data directory holds ``permits.{jsonl,csv}``,
``notifications.{jsonl,csv}`` and ``passports.{jsonl,csv}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Literal, TypeAlias, cast

from agency_adapters.common import records as r
from agency_adapters.common.calendar import phase
from agency_adapters.common.records import Invalid, RecordError
from agency_adapters.consular import permit_terms

__all__ = [
    "EMBASSY_COUNTRIES", "NOTIFICATIONS", "PASSPORTS", "PERMITS", "ConsularData",
    "NotificationRecord", "PassportRecord", "PermitRecord", "RecordError", "Sponsor",
    "load_data",
]

PermitType: TypeAlias = Literal["ITK", "ITAS", "ITAP"]
PermitStatus: TypeAlias = Literal["ACTIVE", "EXPIRED", "CANCELLED", "CONVERTED", "DEPARTED",
                                  "DEPORTED", "DECEASED", "NOT_YET_VALID"]
PermitEnd: TypeAlias = Literal["CANCELLED", "CONVERTED", "DEPARTED", "DEPORTED", "DECEASED"]
NotificationType: TypeAlias = Literal["ARREST", "DETENTION", "DEATH", "SERIOUS_INJURY",
                                      "DEPORTATION"]
PassportStatus: TypeAlias = Literal["VALID", "REVOKED", "LOST", "STOLEN"]

PERMIT_TYPES: Final[tuple[PermitType, ...]] = ("ITK", "ITAS", "ITAP")
PERMIT_STATUSES: Final[tuple[PermitStatus, ...]] = (
    "ACTIVE", "EXPIRED", "CANCELLED", "CONVERTED", "DEPARTED", "DEPORTED", "DECEASED",
    "NOT_YET_VALID")
PERMIT_ENDS: Final[tuple[PermitEnd, ...]] = (
    "CANCELLED", "CONVERTED", "DEPARTED", "DEPORTED", "DECEASED")
"""Why a permit ended before its expiry (UU 6/2011 Pasal 51, 52, 62: the holder left,
the permit was cancelled or converted (alih status), the holder was deported or died)."""
NOTIFICATION_TYPES: Final[tuple[NotificationType, ...]] = (
    "ARREST", "DETENTION", "DEATH", "SERIOUS_INJURY", "DEPORTATION")
PASSPORT_STATUSES: Final[tuple[PassportStatus, ...]] = ("VALID", "REVOKED", "LOST", "STOLEN")
EMBASSY_COUNTRIES: Final[tuple[str, ...]] = ("NLD", "AUS", "MYS")
"""Countries whose embassy serves a passport register (NationalityVerification)."""

PERMIT_NUMBER: Final = re.compile(r"[A-Z0-9]{8,20}")
NOTIFICATION_ID: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{2,39}")
PHONE: Final = re.compile(r"\+?[0-9][0-9 -]{5,19}")

PERMIT_FIELDS: Final[tuple[str, ...]] = (
    "permit_number", "type", "passport_number", "nationality", "holder_name",
    "issued_on", "expires_on", "extensions", "ended", "ended_on", "sponsor",
)
PERMIT_CSV: Final[tuple[str, ...]] = (
    *PERMIT_FIELDS[:-1], "sponsor_name", "sponsor_address", "sponsor_phone")
NOTIFICATION_FIELDS: Final[tuple[str, ...]] = (
    "notification_id", "type", "full_name", "passport_number", "nationality", "date", "place",
    "authority", "summary",
)
PASSPORT_FIELDS: Final[tuple[str, ...]] = (
    "passport_number", "issuing_country", "full_name", "date_of_birth", "status",
)


@dataclass(frozen=True, slots=True)
class Sponsor:
    name: str
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class PermitRecord:
    """One Indonesian stay permit (ITK/ITAS/ITAP); `sponsor` is None when there is none.

    `expires_on` is the end of the term granted on `issued_on`; each of
    `extensions` is the new expiry an extension set; `ended` (``""`` when not)
    says why it stopped early, from `ended_on`. Its status on a day follows from
    these dates (`status`): no stored word can go stale.
    """

    permit_number: str
    type: PermitType
    passport_number: str
    nationality: str
    holder_name: str
    issued_on: str
    expires_on: str
    sponsor: Sponsor | None
    extensions: tuple[str, ...] = ()
    ended: PermitEnd | Literal[""] = ""
    ended_on: str = ""

    @property
    def valid_until(self) -> str:
        """The last day of the permit after its extensions."""
        return self.extensions[-1] if self.extensions else self.expires_on

    def status(self, on: date) -> PermitStatus:
        """ACTIVE, EXPIRED, NOT_YET_VALID, or why it ended, on day `on` (Jakarta)."""
        where = phase(self.issued_on, self.valid_until, self.ended_on, on)
        if where == "ENDED" and self.ended:
            return self.ended
        return "NOT_YET_VALID" if where == "NOT_YET" else "EXPIRED" if where == "EXPIRED" \
            else "ACTIVE"


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notifiable event concerning a foreign national."""

    notification_id: str
    type: NotificationType
    full_name: str
    passport_number: str
    nationality: str
    date: str
    place: str
    authority: str
    summary: str


@dataclass(frozen=True, slots=True)
class PassportRecord:
    """One passport in an embassy's register."""

    passport_number: str
    issuing_country: str
    full_name: str
    date_of_birth: str
    status: PassportStatus


def _passport_number(field: str, value: object) -> str:
    return r.pattern(field, value, r.DOC_NUMBER, personal=True)


def _sponsor(value: object) -> Sponsor | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Invalid("sponsor", "must be null or an object with name, address, phone")
    if set(value) != {"name", "address", "phone"}:
        raise Invalid("sponsor", "must have exactly the keys name, address, phone")
    # A sponsor may be a person: its fields are personal.
    name = r.text("sponsor.name", value["name"], personal=True)
    address = r.text("sponsor.address", value["address"], personal=True)
    phone = r.pattern("sponsor.phone", value["phone"], PHONE, personal=True)
    return Sponsor(name, address, phone)


def _ending(row: Mapping[str, object], issued: date, last: date) -> tuple[str, str]:
    ended = row["ended"]
    if ended == "":
        if row["ended_on"] != "":
            raise Invalid("ended_on", "must be empty when the permit has not ended early")
        return "", ""
    reason = r.enum("ended", ended, PERMIT_ENDS)
    ended_on = r.day("ended_on", row["ended_on"])
    if not issued <= ended_on <= last:
        raise Invalid("ended_on", "must fall within the permit's term (issued_on to its "
                                  "last expiry)")
    return reason, ended_on.isoformat()


def _permit(row: Mapping[str, object]) -> PermitRecord:
    r.check_keys(row, PERMIT_FIELDS)
    number = r.pattern("permit_number", row["permit_number"], PERMIT_NUMBER, personal=False)
    permit_type = cast(PermitType, r.enum("type", row["type"], PERMIT_TYPES))
    passport = _passport_number("passport_number", row["passport_number"])
    nationality = r.country("nationality", row["nationality"])
    holder = r.text("holder_name", row["holder_name"], personal=True)
    issued = r.day("issued_on", row["issued_on"])
    expires = r.day("expires_on", row["expires_on"])
    if expires < issued:
        raise Invalid("expires_on", "is before issued_on")
    raw = row["extensions"]
    if not isinstance(raw, list | tuple):
        raise Invalid("extensions", "must be a list of dates")
    extensions = tuple(r.day(f"extensions[{i}]", d) for i, d in enumerate(raw))
    permit_terms.check(permit_type, issued, expires, extensions)
    ended, ended_on = _ending(row, issued, extensions[-1] if extensions else expires)
    sponsor = _sponsor(row["sponsor"])
    if permit_type == "ITAS" and sponsor is None:
        raise Invalid("sponsor", "is required for an ITAS")
    return PermitRecord(permit_number=number, type=permit_type,
                        passport_number=passport, nationality=nationality, holder_name=holder,
                        issued_on=issued.isoformat(), expires_on=expires.isoformat(),
                        sponsor=sponsor, extensions=tuple(d.isoformat() for d in extensions),
                        ended=cast(PermitEnd, ended), ended_on=ended_on)


def _permit_from_csv(cells: dict[str, str]) -> Mapping[str, object]:
    row: dict[str, object] = {f: cells[f] for f in PERMIT_FIELDS[:-1]}
    row["extensions"] = r.split_list(cells["extensions"])
    parts = {"name": cells["sponsor_name"], "address": cells["sponsor_address"],
             "phone": cells["sponsor_phone"]}
    row["sponsor"] = None if not any(parts.values()) else parts
    return row


def permit_to_mapping(p: PermitRecord) -> dict[str, object]:
    return {
        "permit_number": p.permit_number, "type": p.type,
        "passport_number": p.passport_number, "nationality": p.nationality,
        "holder_name": p.holder_name, "issued_on": p.issued_on, "expires_on": p.expires_on,
        "extensions": list(p.extensions), "ended": p.ended, "ended_on": p.ended_on,
        "sponsor": (None if p.sponsor is None else
                    {"name": p.sponsor.name, "address": p.sponsor.address,
                     "phone": p.sponsor.phone}),
    }


def _permit_to_csv(p: PermitRecord) -> list[str]:
    s = p.sponsor
    return [p.permit_number, p.type, p.passport_number, p.nationality, p.holder_name,
            p.issued_on, p.expires_on, "|".join(p.extensions), p.ended, p.ended_on,
            s.name if s else "", s.address if s else "", s.phone if s else ""]


def _notification(row: Mapping[str, object]) -> NotificationRecord:
    r.check_keys(row, NOTIFICATION_FIELDS)
    nid = r.pattern("notification_id", row["notification_id"], NOTIFICATION_ID, personal=False)
    ntype = cast(NotificationType, r.enum("type", row["type"], NOTIFICATION_TYPES))
    return NotificationRecord(
        notification_id=nid, type=ntype,
        full_name=r.text("full_name", row["full_name"], personal=True),
        passport_number=_passport_number("passport_number", row["passport_number"]),
        nationality=r.country("nationality", row["nationality"]),
        date=r.day("date", row["date"]).isoformat(),
        place=r.text("place", row["place"], personal=False),
        authority=r.text("authority", row["authority"], personal=False),
        # Free text about a person: treated as personal, never quoted.
        summary=r.text("summary", row["summary"], personal=True, max_len=r.MAX_LONG_TEXT))


def notification_to_mapping(n: NotificationRecord) -> dict[str, object]:
    return {f: getattr(n, f) for f in NOTIFICATION_FIELDS}


def _passport(row: Mapping[str, object]) -> PassportRecord:
    r.check_keys(row, PASSPORT_FIELDS)
    number = _passport_number("passport_number", row["passport_number"])
    country = r.country("issuing_country", row["issuing_country"])
    if country not in EMBASSY_COUNTRIES:
        raise Invalid("issuing_country",
                      f"{country!r} has no embassy register; one of "
                      f"{', '.join(EMBASSY_COUNTRIES)}")
    full_name = r.text("full_name", row["full_name"], personal=True)
    # Registers hold full dates (the wire request requires YYYY-MM-DD too).
    dob = r.birth("date_of_birth", row["date_of_birth"], not_after=date.max,
                  after_name="the end of time", year_only=False)
    status = cast(PassportStatus, r.enum("status", row["status"], PASSPORT_STATUSES))
    return PassportRecord(number, country, full_name, dob, status)


def passport_to_mapping(p: PassportRecord) -> dict[str, object]:
    return {f: getattr(p, f) for f in PASSPORT_FIELDS}


PERMITS: Final = r.Schema[PermitRecord](
    name="permits", fields=PERMIT_FIELDS, csv_header=PERMIT_CSV, validate=_permit,
    from_csv=_permit_from_csv, to_mapping=permit_to_mapping, to_csv=_permit_to_csv,
    key=lambda p: p.permit_number, key_field="permit_number")
"""Stay permits. In CSV the sponsor is three columns (all empty: no sponsor);
in JSONL it is an object ``{name, address, phone}`` or null."""

NOTIFICATIONS: Final = r.Schema[NotificationRecord](
    name="notifications", fields=NOTIFICATION_FIELDS, csv_header=NOTIFICATION_FIELDS,
    validate=_notification, from_csv=dict, to_mapping=notification_to_mapping,
    to_csv=lambda n: [getattr(n, f) for f in NOTIFICATION_FIELDS],
    key=lambda n: n.notification_id, key_field="notification_id")

PASSPORTS: Final = r.Schema[PassportRecord](
    name="passports", fields=PASSPORT_FIELDS, csv_header=PASSPORT_FIELDS, validate=_passport,
    from_csv=dict, to_mapping=passport_to_mapping,
    to_csv=lambda p: [getattr(p, f) for f in PASSPORT_FIELDS],
    key=lambda p: (p.issuing_country, p.passport_number), key_field="passport_number")
"""Embassy passport registers, one file for all embassies (by issuing_country)."""


@dataclass(frozen=True)
class ConsularData:
    permits: tuple[PermitRecord, ...]
    notifications: tuple[NotificationRecord, ...]
    passports: tuple[PassportRecord, ...]


def load_data(directory: Path | str) -> ConsularData:
    """All three record types from ``permits.*``, ``notifications.*``, ``passports.*``."""
    return ConsularData(
        permits=r.load(PERMITS, r.find(directory, "permits")),
        notifications=r.load(NOTIFICATIONS, r.find(directory, "notifications")),
        passports=r.load(PASSPORTS, r.find(directory, "passports")))
