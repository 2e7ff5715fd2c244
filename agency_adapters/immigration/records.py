"""Watchlist (cekal) records: the data model, strict loading from JSONL/CSV, and writing.

Every row is validated before anything is accepted: one bad row refuses the whole
import with a `RecordError` naming the file, the line and the field. Error
messages never quote the value of a personal field (names, dates of birth,
document numbers, NIK), because import errors end up in logs; they quote only
codes and enumerations.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Literal, TypeAlias, cast

from agency_adapters.common.countries import ISO_3166_ALPHA3

DocumentType: TypeAlias = Literal["PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT"]
Sex: TypeAlias = Literal["M", "F", "X"]
BanType: TypeAlias = Literal["EXIT_PREVENTION", "ENTRY_REFUSAL"]

DOCUMENT_TYPES: Final[tuple[DocumentType, ...]] = ("PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT")
SEXES: Final[tuple[Sex, ...]] = ("M", "F", "X")
BAN_TYPES: Final[tuple[BanType, ...]] = ("EXIT_PREVENTION", "ENTRY_REFUSAL")

FIELDS: Final[tuple[str, ...]] = (
    "entry_id", "full_name", "aliases", "date_of_birth", "sex", "nationality", "documents",
    "national_id", "ban_type", "legal_basis", "issuing_authority", "valid_from", "valid_until",
    "case_reference",
)
"""Every record field, in the order of the CSV header and of JSONL objects."""

MAX_TEXT: Final = 200
"""Longest accepted name or free-text field (the wire NameQuery allows 200 too)."""

_ENTRY_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{2,39}")
_ALPHA3 = re.compile(r"[A-Z]{3}")
_DOC_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
_NIK = re.compile(r"\d{16}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
# Control characters would corrupt the line-based formats; "|" separates CSV lists.
_BAD_TEXT = re.compile(r"[\x00-\x1f\x7f|]")
_MIN_BIRTH_YEAR = 1900


class RecordError(ValueError):
    """A watchlist row is invalid; the whole import is refused.

    The message is ``"<file>:<line>: <field>: <reason>"``; the parts are also
    attributes so callers can report them without parsing.
    """

    def __init__(self, path: Path | str, line: int, field: str, reason: str) -> None:
        super().__init__(f"{path}:{line}: {field}: {reason}")
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    """A travel or identity document: type, number (upper-case A-Z0-9) and issuing country."""

    type: DocumentType
    number: str
    issuing_country: str


@dataclass(frozen=True, slots=True)
class WatchlistRecord:
    """One listed person under an exit prevention (cegah) or entry refusal (tangkal) order.

    `date_of_birth` is ``YYYY-MM-DD``, or ``YYYY`` when only the year is known.
    `national_id` is the 16-digit Indonesian NIK, or ``""`` when the person has none.
    """

    entry_id: str
    full_name: str
    aliases: tuple[str, ...]
    date_of_birth: str
    sex: Sex
    nationality: str
    documents: tuple[IdentityDocument, ...]
    national_id: str
    ban_type: BanType
    legal_basis: str
    issuing_authority: str
    valid_from: str
    valid_until: str
    case_reference: str


class _Invalid(Exception):
    """Raised by field checks; turned into a RecordError with file and line by the loader."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _text(field: str, value: object, *, personal: bool) -> str:
    if not isinstance(value, str):
        raise _Invalid(field, "must be a string")
    if not value.strip():
        raise _Invalid(field, "is required")
    if len(value) > MAX_TEXT:
        raise _Invalid(field, f"longer than {MAX_TEXT} characters")
    if value != value.strip():
        raise _Invalid(field, "has leading or trailing whitespace")
    if _BAD_TEXT.search(value):
        what = "a control character or '|'"
        raise _Invalid(field, f"contains {what}" if personal else f"contains {what}: {value!r}")
    return value


def _enum(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _Invalid(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _country(field: str, value: object) -> str:
    if not isinstance(value, str) or _ALPHA3.fullmatch(value) is None:
        raise _Invalid(field, f"{value!r} is not an upper-case ISO 3166-1 alpha-3 code")
    if value not in ISO_3166_ALPHA3:
        raise _Invalid(field, f"{value!r} is not an assigned ISO 3166-1 alpha-3 code")
    return value


def _day(field: str, value: object) -> date:
    if not isinstance(value, str) or _DAY.fullmatch(value) is None:
        raise _Invalid(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Invalid(field, "is not a calendar date") from None


def _birth(value: object, valid_from: date) -> str:
    field = "date_of_birth"
    if not isinstance(value, str):
        raise _Invalid(field, "must be a string YYYY-MM-DD or YYYY")
    if _YEAR.fullmatch(value):
        year, born = int(value), None
    elif _DAY.fullmatch(value):
        try:
            born = date.fromisoformat(value)
        except ValueError:
            raise _Invalid(field, "is not a calendar date") from None
        year = born.year
    else:
        raise _Invalid(field, "must be YYYY-MM-DD, or YYYY when only the year is known")
    if year < _MIN_BIRTH_YEAR:
        raise _Invalid(field, f"year before {_MIN_BIRTH_YEAR}")
    if year > valid_from.year or (born is not None and born > valid_from):
        raise _Invalid(field, "is after valid_from")
    return value


def _document(index: int, value: object) -> IdentityDocument:
    field = f"documents[{index}]"
    if not isinstance(value, Mapping):
        raise _Invalid(field, "must be an object with type, number, issuing_country")
    keys = set(value)
    if keys != {"type", "number", "issuing_country"}:
        raise _Invalid(field, "must have exactly the keys type, number, issuing_country")
    doc_type = cast(DocumentType, _enum(f"{field}.type", value["type"], DOCUMENT_TYPES))
    number = value["number"]
    if not isinstance(number, str) or _DOC_NUMBER.fullmatch(number) is None:
        raise _Invalid(f"{field}.number", "must match ^[A-Z0-9]{5,20}$")
    country = _country(f"{field}.issuing_country", value["issuing_country"])
    return IdentityDocument(doc_type, number, country)


def record_from_mapping(row: Mapping[str, object]) -> WatchlistRecord:
    """Validate one row shaped like a JSONL object into a record.

    Raises `RecordError` with path ``"<mapping>"`` and line 0 (no file is involved).
    """
    try:
        return _validated(row)
    except _Invalid as err:
        raise RecordError("<mapping>", 0, err.field, err.reason) from None


def _validated(row: Mapping[str, object]) -> WatchlistRecord:
    missing = [f for f in FIELDS if f not in row]
    if missing:
        raise _Invalid(missing[0], "is missing")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise _Invalid(unknown[0], "is not a record field")
    entry_id = row["entry_id"]
    if not isinstance(entry_id, str) or _ENTRY_ID.fullmatch(entry_id) is None:
        raise _Invalid("entry_id", "must match ^[A-Z0-9][A-Z0-9-]{2,39}$")
    full_name = _text("full_name", row["full_name"], personal=True)
    raw_aliases = row["aliases"]
    if not isinstance(raw_aliases, list | tuple):
        raise _Invalid("aliases", "must be a list of names")
    aliases = tuple(_text(f"aliases[{i}]", a, personal=True) for i, a in enumerate(raw_aliases))
    sex = cast(Sex, _enum("sex", row["sex"], SEXES))
    nationality = _country("nationality", row["nationality"])
    raw_docs = row["documents"]
    if not isinstance(raw_docs, list | tuple):
        raise _Invalid("documents", "must be a list of documents")
    documents = tuple(_document(i, d) for i, d in enumerate(raw_docs))
    seen: set[tuple[str, str, str]] = set()
    for i, doc in enumerate(documents):
        key = (doc.type, doc.number, doc.issuing_country)
        if key in seen:
            raise _Invalid(f"documents[{i}]", "duplicate document")
        seen.add(key)
    national_id = row["national_id"]
    if not isinstance(national_id, str) or not (national_id == "" or _NIK.fullmatch(national_id)):
        raise _Invalid("national_id", "must be 16 digits (NIK) or empty")
    ban_type = cast(BanType, _enum("ban_type", row["ban_type"], BAN_TYPES))
    legal_basis = _text("legal_basis", row["legal_basis"], personal=False)
    authority = _text("issuing_authority", row["issuing_authority"], personal=False)
    valid_from = _day("valid_from", row["valid_from"])
    valid_until = _day("valid_until", row["valid_until"])
    if valid_from > valid_until:
        raise _Invalid("valid_until", "is before valid_from")
    # Checked after valid_from so the date of birth can be compared with it.
    date_of_birth = _birth(row["date_of_birth"], valid_from)
    case_reference = _text("case_reference", row["case_reference"], personal=False)
    return WatchlistRecord(
        entry_id=entry_id, full_name=full_name, aliases=aliases, date_of_birth=date_of_birth,
        sex=sex, nationality=nationality, documents=documents, national_id=national_id,
        ban_type=ban_type, legal_basis=legal_basis, issuing_authority=authority,
        valid_from=valid_from.isoformat(), valid_until=valid_until.isoformat(),
        case_reference=case_reference,
    )


def _parse_documents(text: str) -> list[dict[str, str]]:
    """CSV documents cell ``TYPE:NUMBER:COUNTRY|...`` into JSON-shaped mappings."""
    docs: list[dict[str, str]] = []
    if text == "":
        return docs
    for i, part in enumerate(text.split("|")):
        pieces = part.split(":")
        if len(pieces) != 3:
            raise _Invalid(f"documents[{i}]", "must be TYPE:NUMBER:COUNTRY")
        docs.append({"type": pieces[0], "number": pieces[1], "issuing_country": pieces[2]})
    return docs


def _csv_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, object]]]:
    reader = csv.reader(handle, delimiter=",", quotechar='"', strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise _Located(1, _Invalid("header", "file is empty")) from None
    if tuple(header) != FIELDS:
        raise _Located(1, _Invalid("header", f"must be exactly: {','.join(FIELDS)}"))
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _Located(start, _Invalid("row", f"malformed CSV: {err}")) from None
        previous_end = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(FIELDS):
            raise _Located(start, _Invalid(
                "row", f"has {len(cells)} cells, expected {len(FIELDS)}"))
        row: dict[str, object] = dict(zip(FIELDS, cells, strict=True))
        aliases = cast(str, row["aliases"])
        row["aliases"] = aliases.split("|") if aliases else []
        try:
            row["documents"] = _parse_documents(cast(str, row["documents"]))
        except _Invalid as err:
            raise _Located(start, err) from None
        yield start, row


def _jsonl_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, object]]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise _Located(number, _Invalid("row", f"invalid JSON at column {err.colno}")) from None
        if not isinstance(row, dict):
            raise _Located(number, _Invalid("row", "must be a JSON object"))
        yield number, row


class _Located(Exception):
    def __init__(self, line: int, error: _Invalid) -> None:
        super().__init__(error.reason)
        self.line = line
        self.error = error


def load_records(path: Path | str) -> tuple[WatchlistRecord, ...]:
    """Load and validate every record of a ``.jsonl`` or ``.csv`` file (format by extension).

    Raises `RecordError` naming the file, line and field of the first bad row; nothing
    is returned then (the whole import is refused). Entry ids must be unique.
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise RecordError(source, 0, "path", "extension must be .jsonl or .csv")
    records: list[WatchlistRecord] = []
    first_line: dict[str, int] = {}
    with source.open(encoding="utf-8", newline="" if suffix == ".csv" else None) as handle:
        rows = _csv_rows(handle) if suffix == ".csv" else _jsonl_rows(handle)
        try:
            for line, row in rows:
                try:
                    record = _validated(row)
                except _Invalid as err:
                    raise RecordError(source, line, err.field, err.reason) from None
                if record.entry_id in first_line:
                    raise RecordError(source, line, "entry_id",
                                      f"duplicate of line {first_line[record.entry_id]}")
                first_line[record.entry_id] = line
                records.append(record)
        except _Located as err:
            raise RecordError(source, err.line, err.error.field, err.error.reason) from None
        except UnicodeDecodeError:
            raise RecordError(source, 0, "encoding", "file is not UTF-8") from None
    return tuple(records)


def to_mapping(record: WatchlistRecord) -> dict[str, object]:
    """The JSONL object of a record (field order as in `FIELDS`)."""
    return {
        "entry_id": record.entry_id,
        "full_name": record.full_name,
        "aliases": list(record.aliases),
        "date_of_birth": record.date_of_birth,
        "sex": record.sex,
        "nationality": record.nationality,
        "documents": [{"type": d.type, "number": d.number, "issuing_country": d.issuing_country}
                      for d in record.documents],
        "national_id": record.national_id,
        "ban_type": record.ban_type,
        "legal_basis": record.legal_basis,
        "issuing_authority": record.issuing_authority,
        "valid_from": record.valid_from,
        "valid_until": record.valid_until,
        "case_reference": record.case_reference,
    }


def to_csv_row(record: WatchlistRecord) -> list[str]:
    """The CSV cells of a record (column order as in `FIELDS`)."""
    return [
        record.entry_id, record.full_name, "|".join(record.aliases), record.date_of_birth,
        record.sex, record.nationality,
        "|".join(f"{d.type}:{d.number}:{d.issuing_country}" for d in record.documents),
        record.national_id, record.ban_type, record.legal_basis, record.issuing_authority,
        record.valid_from, record.valid_until, record.case_reference,
    ]


def write_jsonl(records: Iterable[WatchlistRecord], path: Path | str) -> int:
    """Write one JSON object per line (UTF-8, names unescaped); returns the record count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(to_mapping(record), ensure_ascii=False,
                                    separators=(",", ":")))
            handle.write("\n")
            count += 1
    return count


def write_csv(records: Iterable[WatchlistRecord], path: Path | str) -> int:
    """Write the header row then one row per record (RFC 4180 quoting); returns the count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FIELDS)
        for record in records:
            writer.writerow(to_csv_row(record))
            count += 1
    return count
