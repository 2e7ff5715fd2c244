"""Interpol-style records: notices and stolen/lost travel documents (SLTD).

Strict JSONL/CSV loading via `agency_adapters.common.records`: one bad row
refuses the whole file with ``file:line: field: reason``; personal values are
never quoted in errors. A data directory holds ``notices.jsonl|csv`` and
``sltd.jsonl|csv``.
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

__all__ = [
    "CATEGORIES", "DOCUMENT_STATUSES", "DOCUMENT_TYPES", "NOTICES", "SLTD", "IdentityDocument",
    "NoticeRecord", "RecordError", "SltdRecord", "load_data", "load_notices", "load_sltd",
]

Category: TypeAlias = Literal["RED", "YELLOW", "BLUE", "BLACK", "GREEN", "ORANGE", "PURPLE"]
DocumentType: TypeAlias = Literal["PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT", "VISA"]
DocumentStatus: TypeAlias = Literal["STOLEN", "LOST", "REVOKED", "INVALID", "STOLEN_BLANK"]
NoticeStatus: TypeAlias = Literal["ACTIVE", "CANCELLED", "WITHDRAWN"]

CATEGORIES: Final[tuple[Category, ...]] = (
    "RED", "YELLOW", "BLUE", "BLACK", "GREEN", "ORANGE", "PURPLE")
DOCUMENT_TYPES: Final[tuple[DocumentType, ...]] = (
    "PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT", "VISA")
DOCUMENT_STATUSES: Final[tuple[DocumentStatus, ...]] = (
    "STOLEN", "LOST", "REVOKED", "INVALID", "STOLEN_BLANK")
NOTICE_STATUSES: Final[tuple[NoticeStatus, ...]] = ("ACTIVE", "CANCELLED", "WITHDRAWN")
SEXES: Final = ("M", "F", "X", "")

NOTICE_ID: Final = re.compile(r"(\d{4})/\d{1,7}")

NOTICE_FIELDS: Final[tuple[str, ...]] = (
    "notice_id", "category", "full_name", "aliases", "sex", "date_of_birth", "nationalities",
    "documents", "issuing_country", "charges", "issued_on", "valid_until", "status",
    "status_date",
)
SLTD_FIELDS: Final[tuple[str, ...]] = (
    "number", "issuing_country", "document_type", "status", "date_reported",
    "reporting_country", "cleared_on",
)


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    type: DocumentType
    number: str
    issuing_country: str


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """One notice about a person. `charges` is non-empty exactly for RED notices.

    `date_of_birth` is ``YYYY-MM-DD``, ``YYYY`` or ``""`` (unknown, e.g. a black
    notice); `sex` is M, F, X or ``""`` (unknown).
    """

    notice_id: str
    category: Category
    full_name: str
    aliases: tuple[str, ...]
    sex: str
    date_of_birth: str
    nationalities: tuple[str, ...]
    documents: tuple[IdentityDocument, ...]
    issuing_country: str
    charges: tuple[str, ...]
    issued_on: str
    valid_until: str
    status: NoticeStatus = "ACTIVE"
    status_date: str = ""

    def standing(self, on: date) -> str:
        """IN_FORCE, EXPIRED, CANCELLED, WITHDRAWN or NOT_YET_IN_FORCE on day `on`: a
        cancelled or withdrawn notice binds no one from its `status_date`."""
        where = phase(self.issued_on, self.valid_until, self.status_date, on)
        return {"ENDED": self.status, "NOT_YET": "NOT_YET_IN_FORCE", "EXPIRED": "EXPIRED",
                "CURRENT": "IN_FORCE"}[where]


@dataclass(frozen=True, slots=True)
class SltdRecord:
    """One stolen, lost, revoked or invalid travel document.

    `cleared_on` is the day the entry left the list (document recovered, report
    withdrawn), ``""`` while it is listed.
    """

    number: str
    issuing_country: str
    document_type: DocumentType
    status: DocumentStatus
    date_reported: str
    reporting_country: str
    cleared_on: str = ""

    def listed_on(self, on: date) -> bool:
        """Whether the document is on the list on day `on`."""
        return (date.fromisoformat(self.date_reported) <= on
                and (not self.cleared_on or on < date.fromisoformat(self.cleared_on)))


def _document(index: int, value: object) -> IdentityDocument:
    doc_type, number, country = r.document(index, value, DOCUMENT_TYPES)
    return IdentityDocument(cast(DocumentType, doc_type), number, country)


def _notice(row: Mapping[str, object]) -> NoticeRecord:
    r.check_keys(row, NOTICE_FIELDS)
    notice_id = r.pattern("notice_id", row["notice_id"], NOTICE_ID, personal=False)
    category = cast(Category, r.enum("category", row["category"], CATEGORIES))
    full_name = r.text("full_name", row["full_name"], personal=True)
    aliases = r.texts("aliases", row["aliases"], personal=True)
    sex = r.enum("sex", row["sex"], SEXES)
    nationalities = r.countries("nationalities", row["nationalities"])
    raw_docs = row["documents"]
    if not isinstance(raw_docs, list | tuple):
        raise Invalid("documents", "must be a list of documents")
    documents = tuple(_document(i, d) for i, d in enumerate(raw_docs))
    if len(set(documents)) != len(documents):
        raise Invalid("documents", "lists a document twice")
    issuing_country = r.country("issuing_country", row["issuing_country"])
    charges = r.texts("charges", row["charges"], personal=False)
    if category == "RED" and not charges:
        raise Invalid("charges", "is required for a RED notice")
    if category != "RED" and charges:
        raise Invalid("charges", "only RED notices carry charges")
    issued_on = r.day("issued_on", row["issued_on"])
    if notice_id[:4] != f"{issued_on.year:04d}":
        raise Invalid("notice_id", "year must be the year of issued_on")
    valid_until = r.day("valid_until", row["valid_until"])
    if valid_until < issued_on:
        raise Invalid("valid_until", "is before issued_on")
    date_of_birth = r.birth("date_of_birth", row["date_of_birth"], not_after=issued_on,
                            after_name="issued_on", required=False)
    status = cast(NoticeStatus, r.enum("status", row["status"], NOTICE_STATUSES))
    status_date = ""
    if status == "ACTIVE":
        if row["status_date"] != "":
            raise Invalid("status_date", "must be empty for an ACTIVE notice")
    else:
        changed = r.day("status_date", row["status_date"])
        if not issued_on <= changed <= valid_until:
            raise Invalid("status_date", f"a notice is {status.lower()} between issued_on "
                                         "and valid_until")
        status_date = changed.isoformat()
    return NoticeRecord(
        notice_id=notice_id, category=category, full_name=full_name, aliases=aliases, sex=sex,
        date_of_birth=date_of_birth, nationalities=nationalities, documents=documents,
        issuing_country=issuing_country, charges=charges, issued_on=issued_on.isoformat(),
        valid_until=valid_until.isoformat(), status=status, status_date=status_date)


def _sltd(row: Mapping[str, object]) -> SltdRecord:
    r.check_keys(row, SLTD_FIELDS)
    number = r.pattern("number", row["number"], r.DOC_NUMBER, personal=True)
    issuing_country = r.country("issuing_country", row["issuing_country"])
    doc_type = cast(DocumentType, r.enum("document_type", row["document_type"], DOCUMENT_TYPES))
    status = cast(DocumentStatus, r.enum("status", row["status"], DOCUMENT_STATUSES))
    reported = r.day("date_reported", row["date_reported"])
    reporting = r.country("reporting_country", row["reporting_country"])
    cleared_on = ""
    if row["cleared_on"] != "":
        cleared = r.day("cleared_on", row["cleared_on"])
        if cleared <= reported:
            raise Invalid("cleared_on", "must be after date_reported")
        cleared_on = cleared.isoformat()
    return SltdRecord(number=number, issuing_country=issuing_country, document_type=doc_type,
                      status=status, date_reported=reported.isoformat(),
                      reporting_country=reporting, cleared_on=cleared_on)


def _notice_from_csv(cells: dict[str, str]) -> Mapping[str, object]:
    row: dict[str, object] = dict(cells)
    for field in ("aliases", "nationalities", "charges"):
        row[field] = r.split_list(cells[field])
    row["documents"] = r.documents_from_cell(cells["documents"])
    return row


def notice_to_mapping(n: NoticeRecord) -> dict[str, object]:
    return {
        "notice_id": n.notice_id, "category": n.category, "full_name": n.full_name,
        "aliases": list(n.aliases), "sex": n.sex, "date_of_birth": n.date_of_birth,
        "nationalities": list(n.nationalities),
        "documents": [{"type": d.type, "number": d.number, "issuing_country": d.issuing_country}
                      for d in n.documents],
        "issuing_country": n.issuing_country, "charges": list(n.charges),
        "issued_on": n.issued_on, "valid_until": n.valid_until, "status": n.status,
        "status_date": n.status_date,
    }


def _notice_to_csv(n: NoticeRecord) -> list[str]:
    return [
        n.notice_id, n.category, n.full_name, "|".join(n.aliases), n.sex, n.date_of_birth,
        "|".join(n.nationalities),
        "|".join(f"{d.type}:{d.number}:{d.issuing_country}" for d in n.documents),
        n.issuing_country, "|".join(n.charges), n.issued_on, n.valid_until, n.status,
        n.status_date,
    ]


def sltd_to_mapping(s: SltdRecord) -> dict[str, object]:
    return {"number": s.number, "issuing_country": s.issuing_country,
            "document_type": s.document_type, "status": s.status,
            "date_reported": s.date_reported, "reporting_country": s.reporting_country,
            "cleared_on": s.cleared_on}


def _sltd_to_csv(s: SltdRecord) -> list[str]:
    return [s.number, s.issuing_country, s.document_type, s.status, s.date_reported,
            s.reporting_country, s.cleared_on]


NOTICES: Final = r.Schema[NoticeRecord](
    name="notices", fields=NOTICE_FIELDS, csv_header=NOTICE_FIELDS, validate=_notice,
    from_csv=_notice_from_csv, to_mapping=notice_to_mapping, to_csv=_notice_to_csv,
    key=lambda n: n.notice_id, key_field="notice_id")
"""Notices: CSV lists (aliases, nationalities, charges) are ``a|b``; documents
``TYPE:NUMBER:COUNTRY|...``."""

SLTD: Final = r.Schema[SltdRecord](
    name="sltd", fields=SLTD_FIELDS, csv_header=SLTD_FIELDS, validate=_sltd,
    from_csv=dict, to_mapping=sltd_to_mapping, to_csv=_sltd_to_csv,
    key=lambda s: (s.document_type, s.number, s.issuing_country), key_field="number")
"""Stolen/lost travel documents: unique per (document_type, number, issuing_country)."""


def load_notices(path: Path | str) -> tuple[NoticeRecord, ...]:
    return r.load(NOTICES, path)


def load_sltd(path: Path | str) -> tuple[SltdRecord, ...]:
    return r.load(SLTD, path)


def load_data(directory: Path | str) -> tuple[tuple[NoticeRecord, ...], tuple[SltdRecord, ...]]:
    """Notices and SLTD entries from ``notices.{jsonl,csv}`` and ``sltd.{jsonl,csv}``."""
    return (load_notices(r.find(directory, "notices")), load_sltd(r.find(directory, "sltd")))
