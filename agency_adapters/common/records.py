"""Strict loading of adapter data files (JSONL or CSV), shared by every adapter.

Every row is validated before anything is accepted, one bad row refuses the
whole file with a `RecordError` naming the file, the line and the field, and
error messages never quote the value of a personal field (names, dates of
birth, document numbers); they quote only codes and enumerations.

A record type is described by a `Schema`: its JSONL fields, its CSV header
and how a CSV row becomes a JSONL-shaped mapping, the validation function and
the unique key. The field checks below raise `Invalid`; the loader adds the
file and line.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Generic, TextIO, TypeVar

from agency_adapters.common.bulk import collector_paused
from agency_adapters.common.countries import ISO_3166_ALPHA3

T = TypeVar("T")

MAX_TEXT: Final = 200
"""Longest accepted name or short text field."""
MAX_LONG_TEXT: Final = 1000
"""Longest accepted free-text field (summaries)."""
MIN_BIRTH_YEAR: Final = 1900

ALPHA3: Final = re.compile(r"[A-Z]{3}")
DOC_NUMBER: Final = re.compile(r"[A-Z0-9]{5,20}")
DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
YEAR: Final = re.compile(r"\d{4}")
# Control characters would corrupt the line-based formats; "|" separates CSV lists.
_BAD_TEXT: Final = re.compile(r"[\x00-\x1f\x7f|]")


class RecordError(ValueError):
    """A data row is invalid; the whole import is refused.

    The message is ``"<file>:<line>: <field>: <reason>"``; the parts are also
    attributes so callers can report them without parsing.
    """

    def __init__(self, path: Path | str, line: int, field: str, reason: str) -> None:
        super().__init__(f"{path}:{line}: {field}: {reason}")
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason


class Invalid(Exception):
    """Raised by field checks; turned into a RecordError with file and line by the loader."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# ---------------------------------------------------------------- field checks

def text(field: str, value: object, *, personal: bool, required: bool = True,
         max_len: int = MAX_TEXT) -> str:
    """A trimmed single-line string; `personal` values are never quoted in errors."""
    if not isinstance(value, str):
        raise Invalid(field, "must be a string")
    if not value:
        if required:
            raise Invalid(field, "is required")
        return value
    if not value.strip():
        raise Invalid(field, "is required" if required else "is only whitespace")
    if len(value) > max_len:
        raise Invalid(field, f"longer than {max_len} characters")
    if value != value.strip():
        raise Invalid(field, "has leading or trailing whitespace")
    if _BAD_TEXT.search(value):
        what = "a control character or '|'"
        raise Invalid(field, f"contains {what}" if personal else f"contains {what}: {value!r}")
    return value


def texts(field: str, value: object, *, personal: bool) -> tuple[str, ...]:
    """A list of non-empty strings (``field[i]`` in errors)."""
    if not isinstance(value, list | tuple):
        raise Invalid(field, "must be a list of strings")
    return tuple(text(f"{field}[{i}]", v, personal=personal) for i, v in enumerate(value))


_CODE_SHAPED = re.compile(r"[A-Z0-9_]{1,32}|[A-Za-z]{1,3}")


def _shown(value: object) -> str:
    """`value` quoted for an error message only when it looks like a code.

    A code field holding anything else (a producer's shifted column, a name
    where a sex or nationality belongs) may be personal data, which errors and
    logs never carry.
    """
    if isinstance(value, str) and _CODE_SHAPED.fullmatch(value):
        return repr(value)
    return "the value"


def enum(field: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(field, f"{_shown(value)} is not one of {', '.join(allowed)}")
    return value


def pattern(field: str, value: object, regex: re.Pattern[str], *, personal: bool) -> str:
    """A string matching `regex` completely; quotes the value only when not personal."""
    if not isinstance(value, str) or regex.fullmatch(value) is None:
        shown = "" if personal else f"{value!r} "
        raise Invalid(field, f"{shown}must match ^{regex.pattern}$")
    return value


def country(field: str, value: object) -> str:
    if not isinstance(value, str) or ALPHA3.fullmatch(value) is None:
        raise Invalid(field, f"{_shown(value)} is not an upper-case ISO 3166-1 alpha-3 code")
    if value not in ISO_3166_ALPHA3:
        raise Invalid(field, f"{_shown(value)} is not an assigned ISO 3166-1 alpha-3 code")
    return value


def countries(field: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise Invalid(field, "must be a list of country codes")
    out = tuple(country(f"{field}[{i}]", v) for i, v in enumerate(value))
    if len(set(out)) != len(out):
        raise Invalid(field, "lists a country twice")
    return out


def day(field: str, value: object) -> date:
    if not isinstance(value, str) or DAY.fullmatch(value) is None:
        raise Invalid(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(field, "is not a calendar date") from None


def birth(field: str, value: object, *, not_after: date, after_name: str,
          year_only: bool = True, required: bool = True) -> str:
    """A date of birth ``YYYY-MM-DD`` (or ``YYYY`` if `year_only`), not after `not_after`."""
    if not isinstance(value, str):
        raise Invalid(field, "must be a string")
    if value == "" and not required:
        return value
    if year_only and YEAR.fullmatch(value):
        year, born = int(value), None
    elif DAY.fullmatch(value):
        try:
            born = date.fromisoformat(value)
        except ValueError:
            raise Invalid(field, "is not a calendar date") from None
        year = born.year
    else:
        shape = "YYYY-MM-DD, or YYYY when only the year is known" if year_only else "YYYY-MM-DD"
        raise Invalid(field, f"must be {shape}")
    if year < MIN_BIRTH_YEAR:
        raise Invalid(field, f"year before {MIN_BIRTH_YEAR}")
    if year > not_after.year or (born is not None and born > not_after):
        raise Invalid(field, f"is after {after_name}")
    return value


def document(index: int, value: object, types: Sequence[str]) -> tuple[str, str, str]:
    """One ``{type, number, issuing_country}`` object of a ``documents`` list, checked."""
    field = f"documents[{index}]"
    if not isinstance(value, Mapping):
        raise Invalid(field, "must be an object with type, number, issuing_country")
    if set(value) != {"type", "number", "issuing_country"}:
        raise Invalid(field, "must have exactly the keys type, number, issuing_country")
    return (enum(f"{field}.type", value["type"], types),
            pattern(f"{field}.number", value["number"], DOC_NUMBER, personal=True),
            country(f"{field}.issuing_country", value["issuing_country"]))


def documents_from_cell(cell: str) -> list[dict[str, str]]:
    """A CSV documents cell ``TYPE:NUMBER:COUNTRY|...`` in the JSONL shape."""
    docs = []
    for i, part in enumerate(split_list(cell)):
        pieces = part.split(":")
        if len(pieces) != 3:
            raise Invalid(f"documents[{i}]", "must be TYPE:NUMBER:COUNTRY")
        docs.append({"type": pieces[0], "number": pieces[1], "issuing_country": pieces[2]})
    return docs


def check_keys(row: Mapping[str, object], fields: Sequence[str]) -> None:
    """Exactly the fields of the record type: none missing, none unknown."""
    missing = [f for f in fields if f not in row]
    if missing:
        raise Invalid(missing[0], "is missing")
    unknown = sorted(set(row) - set(fields))
    if unknown:
        raise Invalid(unknown[0], "is not a record field")


def split_list(cell: str) -> list[str]:
    """A CSV list cell ``a|b|c`` (empty cell: empty list)."""
    return cell.split("|") if cell else []


# ---------------------------------------------------------------- loading

@dataclass(frozen=True)
class Schema(Generic[T]):
    """How one record type is read and written.

    `validate` turns a JSONL-shaped mapping into a record (raising `Invalid`);
    `from_csv` turns the CSV cells (keyed by `csv_header`) into such a mapping;
    `to_mapping`/`to_csv` are their inverses; `key` gives the unique key of a
    record, reported against `key_field` when duplicated.
    """

    name: str
    fields: tuple[str, ...]
    csv_header: tuple[str, ...]
    validate: Callable[[Mapping[str, object]], T]
    from_csv: Callable[[dict[str, str]], Mapping[str, object]]
    to_mapping: Callable[[T], dict[str, object]]
    to_csv: Callable[[T], list[str]]
    key: Callable[[T], Hashable]
    key_field: str


class _Located(Exception):
    def __init__(self, line: int, error: Invalid) -> None:
        super().__init__(error.reason)
        self.line = line
        self.error = error


def _csv_rows(handle: Iterable[str], header_fields: tuple[str, ...],
              from_csv: Callable[[dict[str, str]], Mapping[str, object]],
              ) -> Iterator[tuple[int, Mapping[str, object]]]:
    reader = csv.reader(handle, delimiter=",", quotechar='"', strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise _Located(1, Invalid("header", "file is empty")) from None
    except csv.Error as err:
        raise _Located(1, Invalid("header", f"malformed CSV: {err}")) from None
    if tuple(header) != header_fields:
        raise _Located(1, Invalid("header", f"must be exactly: {','.join(header_fields)}"))
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _Located(start, Invalid("row", f"malformed CSV: {err}")) from None
        previous_end = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(header_fields):
            raise _Located(start, Invalid(
                "row", f"has {len(cells)} cells, expected {len(header_fields)}"))
        try:
            row = from_csv(dict(zip(header_fields, cells, strict=True)))
        except Invalid as err:
            raise _Located(start, err) from None
        yield start, row


def _jsonl_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, object]]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise _Located(number, Invalid("row", f"invalid JSON at column {err.colno}")) from None
        if not isinstance(row, dict):
            raise _Located(number, Invalid("row", "must be a JSON object"))
        yield number, row


FORMATS: Final = ("jsonl", "csv")
"""The accepted file formats; a file's format is its extension unless named."""


def file_format(path: Path | str, fmt: str | None = None) -> str:
    """`fmt` if given, else the extension of `path`; a RecordError when neither is a format."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise RecordError(path, 0, "format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise RecordError(path, 0, "path",
                          "extension must be .jsonl or .csv (or name the format)")
    return suffix


def load(schema: Schema[T], path: Path | str, fmt: str | None = None) -> tuple[T, ...]:
    """Load and validate every record of a JSONL or CSV file (format by extension or `fmt`).

    Raises `RecordError` naming the file, line and field of the first bad row; nothing
    is returned then (the whole import is refused). Keys must be unique.
    """
    source = Path(path)
    suffix = "." + file_format(source, fmt)
    records: list[T] = []
    first_line: dict[Hashable, int] = {}
    try:
        handle = source.open(encoding="utf-8", newline="" if suffix == ".csv" else None)
    except OSError as err:
        raise RecordError(source, 0, "path", f"cannot open: {err.strerror}") from None
    with handle, collector_paused():
        rows = (_csv_rows(handle, schema.csv_header, schema.from_csv) if suffix == ".csv"
                else _jsonl_rows(handle))
        try:
            for line, row in rows:
                try:
                    record = schema.validate(row)
                except Invalid as err:
                    raise RecordError(source, line, err.field, err.reason) from None
                key = schema.key(record)
                if key in first_line:
                    raise RecordError(source, line, schema.key_field,
                                      f"duplicate of line {first_line[key]}")
                first_line[key] = line
                records.append(record)
        except _Located as err:
            raise RecordError(source, err.line, err.error.field, err.error.reason) from None
        except UnicodeDecodeError:
            raise RecordError(source, 0, "encoding", "file is not UTF-8") from None
    return tuple(records)


def from_mapping(schema: Schema[T], row: Mapping[str, object]) -> T:
    """Validate one JSONL-shaped row; errors name path ``"<mapping>"`` and line 0."""
    try:
        return schema.validate(row)
    except Invalid as err:
        raise RecordError("<mapping>", 0, err.field, err.reason) from None


def find(directory: Path | str, stem: str) -> Path:
    """The one data file ``<stem>.jsonl`` or ``<stem>.csv`` in `directory`."""
    found = find_optional(directory, stem)
    if found is None:
        raise RecordError(directory, 0, "path",
                          f"must hold exactly one of {stem}.jsonl, {stem}.csv")
    return found


def find_optional(directory: Path | str, stem: str) -> Path | None:
    """``<stem>.jsonl`` or ``<stem>.csv`` in `directory`, None if neither; both is an error."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RecordError(folder, 0, "path", "must be a directory of data files")
    found = [p for p in (folder / f"{stem}.jsonl", folder / f"{stem}.csv") if p.is_file()]
    if len(found) > 1:
        raise RecordError(folder, 0, "path",
                          f"holds both {stem}.jsonl and {stem}.csv; keep exactly one")
    return found[0] if found else None


def _jsonl_lines(schema: Schema[T], records: Iterable[T], handle: TextIO) -> int:
    count = 0
    for record in records:
        handle.write(json.dumps(schema.to_mapping(record), ensure_ascii=False,
                                separators=(",", ":")))
        handle.write("\n")
        count += 1
    return count


def write_jsonl(schema: Schema[T], records: Iterable[T], path: Path | str) -> int:
    """Write one JSON object per line (UTF-8, names unescaped); returns the record count."""
    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        return _jsonl_lines(schema, records, handle)


def _csv_lines(schema: Schema[T], records: Iterable[T], handle: TextIO) -> int:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(schema.csv_header)
    count = 0
    for record in records:
        writer.writerow(schema.to_csv(record))
        count += 1
    return count


def write_csv(schema: Schema[T], records: Iterable[T], path: Path | str) -> int:
    """Write the header row then one row per record (RFC 4180 quoting); returns the count."""
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        return _csv_lines(schema, records, handle)


def write(schema: Schema[T], records: Iterable[T], path: Path | str) -> int:
    """`write_csv` for a ``.csv`` path, else `write_jsonl`."""
    if Path(path).suffix.lower() == ".csv":
        return write_csv(schema, records, path)
    return write_jsonl(schema, records, path)


def replace_atomically(schema: Schema[T], records: Iterable[T], target: Path | str) -> int:
    """Write `records` to `target` (CSV for ``.csv``, else JSONL) so readers never see half.

    A temporary file in the same directory (mode 0600: the rows are personal
    data) is written, fsynced and renamed over `target` (`os.replace`), then the
    directory is fsynced so the rename survives a crash. Returns the count.
    """
    final = Path(target)
    as_csv = final.suffix.lower() == ".csv"
    fd, temp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.",
                                     suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="" if as_csv else "\n") as handle:
            count = (_csv_lines if as_csv else _jsonl_lines)(schema, records, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return count
