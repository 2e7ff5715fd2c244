"""Watchlist (cekal) records: the data model, strict loading from JSONL/CSV, and writing.

Loading and writing go through the shared strict loader
(`agency_adapters.common.records`): every row is validated before anything is
accepted, one bad row refuses the whole import with a `RecordError` naming the
file, the line and the field. Error messages never quote the value of a
personal field (names, dates of birth, document numbers, NIK), because import
errors end up in logs; they quote only codes and enumerations.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, TypeAlias, cast

from agency_adapters.common import records as r
from agency_adapters.common.records import MAX_TEXT, Invalid, RecordError
from agency_adapters.immigration import orders
from agency_adapters.immigration.orders import DECISION_KINDS, Decision, DecisionKind

__all__ = ["BAN_TYPES", "DECISION_KINDS", "DOCUMENT_TYPES", "FIELDS", "MAX_TEXT", "SEXES",
           "WATCHLIST", "Decision", "IdentityDocument", "RecordError", "WatchlistRecord",
           "load_records", "record_from_mapping", "to_csv_row", "to_mapping", "write_csv",
           "write_jsonl"]

DocumentType: TypeAlias = Literal["PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT"]
Sex: TypeAlias = Literal["M", "F", "X"]
BanType: TypeAlias = Literal["EXIT_PREVENTION", "ENTRY_REFUSAL"]

DOCUMENT_TYPES: Final[tuple[DocumentType, ...]] = ("PASSPORT", "NATIONAL_ID", "TRAVEL_DOCUMENT")
SEXES: Final[tuple[Sex, ...]] = ("M", "F", "X")
BAN_TYPES: Final[tuple[BanType, ...]] = ("EXIT_PREVENTION", "ENTRY_REFUSAL")

FIELDS: Final[tuple[str, ...]] = (
    "entry_id", "full_name", "aliases", "date_of_birth", "sex", "nationality", "documents",
    "national_id", "ban_type", "legal_basis", "issuing_authority", "decisions",
    "case_reference",
)
"""Every record field, in the order of the CSV header and of JSONL objects."""

_ENTRY_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{2,39}")
_NIK = re.compile(r"\d{16}")
_REFERENCE = re.compile(r"[A-Z0-9][A-Z0-9./-]{2,59}")


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    """A travel or identity document: type, number (upper-case A-Z0-9) and issuing country."""

    type: DocumentType
    number: str
    issuing_country: str


# How a record is held in memory (a national list is a million of them: 1.3 kB each as a
# plain dataclass, about 0.3 kB packed). The dates and the codes repeat across records
# and are shared (`sys.intern`, `_shared`); everything unique to a record is one string
# whose fields are split by the separators below, which loaded text cannot contain
# (`common.records.text` refuses control characters).
_SEP: Final = "\x1f"   # between the packed fields
_ITEM: Final = "\x1e"  # between the items of a list (aliases, documents, decisions)
_PART: Final = "\x1d"  # between the parts of one document or decision
_DOC_CODE: Final = {t: str(i) for i, t in enumerate(DOCUMENT_TYPES)}
_KIND_CODE: Final = {k: str(i) for i, k in enumerate(DECISION_KINDS)}
# (sex, nationality, ban type, legal basis, authority): a few hundred combinations on a
# whole list, each held once. Bounded, so odd data cannot grow it without end.
_HEADS: dict[tuple[str, str, str, str, str], tuple[str, str, str, str, str]] = {}
_MAX_HEADS: Final = 4096


def _shared(head: tuple[str, str, str, str, str]) -> tuple[str, str, str, str, str]:
    held = _HEADS.get(head)
    if held is not None:
        return held
    if len(_HEADS) < _MAX_HEADS:
        head = (sys.intern(head[0]), sys.intern(head[1]), sys.intern(head[2]),
                sys.intern(head[3]), sys.intern(head[4]))
        _HEADS[head] = head
    return head


@dataclass(frozen=True)
class _Fields:
    """The public fields of `WatchlistRecord`, for `dataclasses.fields` and `replace`."""

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
    decisions: tuple[Decision, ...] = ()
    lifted_on: str = ""


_FIELD_NAMES: Final = tuple(f.name for f in dataclasses.fields(_Fields))


class WatchlistRecord:
    """One listed person under an exit prevention (cegah) or entry refusal (tangkal) order.

    `date_of_birth` is ``YYYY-MM-DD``, or ``YYYY`` when only the year is known.
    `national_id` is the 16-digit Indonesian NIK, or ``""`` when the person has none.
    `valid_from`, `valid_until` and `lifted_on` follow from `decisions` (see
    `agency_adapters.immigration.orders`): the first day of the issued term, the
    last day of the latest term (``""``: indefinite) and the day a lifting took
    effect (``""``: never lifted).

    Behaves as a frozen dataclass of the fields of `_Fields` (equality, hash, repr,
    `dataclasses.fields` and `replace`), but is held packed (see `_SEP`): the
    documents and decisions are built when read. Text must not contain the
    separators \\x1d-\\x1f (`ValueError`); loaded records never do.
    """

    __slots__ = ("_head", "_rest", "date_of_birth", "lifted_on", "valid_from", "valid_until")
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]] = (
        _Fields.__dataclass_fields__)

    _head: tuple[str, str, str, str, str]
    _rest: str
    date_of_birth: str
    valid_from: str
    valid_until: str
    lifted_on: str

    def __init__(self, entry_id: str, full_name: str, aliases: tuple[str, ...],
                 date_of_birth: str, sex: Sex, nationality: str,
                 documents: tuple[IdentityDocument, ...], national_id: str, ban_type: BanType,
                 legal_basis: str, issuing_authority: str, valid_from: str, valid_until: str,
                 case_reference: str, decisions: tuple[Decision, ...] = (),
                 lifted_on: str = "") -> None:
        try:
            docs = _ITEM.join(f"{_DOC_CODE[d.type]}{d.number}{_PART}{d.issuing_country}"
                              for d in documents)
            decs = _ITEM.join(f"{_KIND_CODE[d.kind]}{d.reference}{_PART}{d.decided_on}"
                              f"{_PART}{d.valid_from}{_PART}{d.valid_until}" for d in decisions)
        except KeyError as err:
            raise ValueError(f"unknown document type or decision kind {err}") from None
        rest = _SEP.join((entry_id, full_name, _ITEM.join(aliases), national_id,
                          case_reference, docs, decs))
        # Every separator is ours (text holding one would not read back the same), and an
        # empty alias would read back as none.
        items = max(len(aliases) - 1, 0) + max(len(documents) - 1, 0) + max(
            len(decisions) - 1, 0)
        if (rest.count(_SEP) != 6 or rest.count(_ITEM) != items or "" in aliases
                or rest.count(_PART) != len(documents) + 3 * len(decisions)):
            raise ValueError("a field is empty where it may not be, or holds \\x1d-\\x1f")
        head = _shared((sex, nationality, ban_type, legal_basis, issuing_authority))
        setattr_ = object.__setattr__
        setattr_(self, "_head", head)
        setattr_(self, "_rest", rest)
        setattr_(self, "date_of_birth", sys.intern(date_of_birth))
        setattr_(self, "valid_from", sys.intern(valid_from))
        setattr_(self, "valid_until", sys.intern(valid_until))
        setattr_(self, "lifted_on", sys.intern(lifted_on))

    def _part(self, i: int) -> str:
        return self._rest.split(_SEP, i + 1)[i]

    @property
    def entry_id(self) -> str:
        return self._rest.partition(_SEP)[0]

    @property
    def full_name(self) -> str:
        return self._part(1)

    def names(self) -> tuple[str, ...]:
        """The full name, then the aliases (what is screened), read in one go."""
        parts = self._rest.split(_SEP, 3)
        return (parts[1], *parts[2].split(_ITEM)) if parts[2] else (parts[1],)

    @property
    def aliases(self) -> tuple[str, ...]:
        packed = self._part(2)
        return tuple(packed.split(_ITEM)) if packed else ()

    @property
    def national_id(self) -> str:
        return self._part(3)

    @property
    def case_reference(self) -> str:
        return self._part(4)

    @property
    def documents(self) -> tuple[IdentityDocument, ...]:
        return tuple(IdentityDocument(DOCUMENT_TYPES[int(d[0])], *d[1:].split(_PART))
                     for d in self._items(5))

    def document_numbers(self) -> list[str]:
        """The numbers of `documents`, without building them (index building)."""
        return [d[1:d.index(_PART)] for d in self._items(5)]

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(Decision(DECISION_KINDS[int(d[0])], *d[1:].split(_PART))
                     for d in self._items(6))

    def _items(self, i: int) -> list[str]:
        packed = self._part(i) if i < 6 else self._rest.rpartition(_SEP)[2]
        return packed.split(_ITEM) if packed else []

    @property
    def sex(self) -> Sex:
        return cast(Sex, self._head[0])

    @property
    def nationality(self) -> str:
        return self._head[1]

    @property
    def ban_type(self) -> BanType:
        return cast(BanType, self._head[2])

    @property
    def legal_basis(self) -> str:
        return self._head[3]

    @property
    def issuing_authority(self) -> str:
        return self._head[4]

    def _key(self) -> tuple[object, ...]:
        return (self._rest, self._head, self.date_of_birth, self.valid_from,
                self.valid_until, self.lifted_on)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, WatchlistRecord)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELD_NAMES)
        return f"WatchlistRecord({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[WatchlistRecord], tuple[object, ...]]:
        return WatchlistRecord, tuple(getattr(self, name) for name in _FIELD_NAMES)

    def standing(self, on: date) -> orders.Standing:
        """Whether this order binds on day `on` (a Jakarta calendar day)."""
        return orders.standing(self.valid_from, self.valid_until, self.lifted_on, on)


def _document(index: int, value: object) -> IdentityDocument:
    doc_type, number, country = r.document(index, value, DOCUMENT_TYPES)
    return IdentityDocument(cast(DocumentType, doc_type), number, country)


def _decision(index: int, value: object) -> Decision:
    field = f"decisions[{index}]"
    keys = {"kind", "reference", "decided_on", "valid_from", "valid_until"}
    if not isinstance(value, Mapping) or set(value) != keys:
        raise Invalid(field, "must be an object with exactly the keys kind, reference, "
                             "decided_on, valid_from, valid_until")
    kind = cast(DecisionKind, r.enum(f"{field}.kind", value["kind"], DECISION_KINDS))
    reference = r.pattern(f"{field}.reference", value["reference"], _REFERENCE, personal=False)
    decided_on = r.day(f"{field}.decided_on", value["decided_on"]).isoformat()
    valid_from = r.day(f"{field}.valid_from", value["valid_from"]).isoformat()
    until = value["valid_until"]
    valid_until = "" if until == "" else r.day(f"{field}.valid_until", until).isoformat()
    return Decision(kind, reference, decided_on, valid_from, valid_until)


def _validated(row: Mapping[str, object]) -> WatchlistRecord:
    r.check_keys(row, FIELDS)
    entry_id = row["entry_id"]
    if not isinstance(entry_id, str) or _ENTRY_ID.fullmatch(entry_id) is None:
        raise Invalid("entry_id", "must match ^[A-Z0-9][A-Z0-9-]{2,39}$")
    full_name = r.text("full_name", row["full_name"], personal=True)
    raw_aliases = row["aliases"]
    if not isinstance(raw_aliases, list | tuple):
        raise Invalid("aliases", "must be a list of names")
    aliases = tuple(r.text(f"aliases[{i}]", a, personal=True) for i, a in enumerate(raw_aliases))
    sex = cast(Sex, r.enum("sex", row["sex"], SEXES))
    nationality = r.country("nationality", row["nationality"])
    raw_docs = row["documents"]
    if not isinstance(raw_docs, list | tuple):
        raise Invalid("documents", "must be a list of documents")
    documents = tuple(_document(i, d) for i, d in enumerate(raw_docs))
    seen: set[tuple[str, str, str]] = set()
    for i, doc in enumerate(documents):
        key = (doc.type, doc.number, doc.issuing_country)
        if key in seen:
            raise Invalid(f"documents[{i}]", "duplicate document")
        seen.add(key)
    national_id = row["national_id"]
    if not isinstance(national_id, str) or not (national_id == "" or _NIK.fullmatch(national_id)):
        raise Invalid("national_id", "must be 16 digits (NIK) or empty")
    ban_type = cast(BanType, r.enum("ban_type", row["ban_type"], BAN_TYPES))
    legal_basis = r.text("legal_basis", row["legal_basis"], personal=False)
    authority = r.text("issuing_authority", row["issuing_authority"], personal=False)
    raw_decisions = row["decisions"]
    if not isinstance(raw_decisions, list | tuple) or not raw_decisions:
        raise Invalid("decisions", "must be a non-empty list of decisions")
    decisions = tuple(_decision(i, d) for i, d in enumerate(raw_decisions))
    # The law's rules for this kind of order (who may order it, terms, extensions).
    term = orders.check(ban_type, nationality, authority, legal_basis, decisions)
    # Checked after the decisions so the date of birth can be compared with the order.
    if not isinstance(row["date_of_birth"], str):
        raise Invalid("date_of_birth", "must be a string YYYY-MM-DD or YYYY")
    date_of_birth = r.birth("date_of_birth", row["date_of_birth"],
                            not_after=date.fromisoformat(term.valid_from),
                            after_name="the order's first day")
    case_reference = r.text("case_reference", row["case_reference"], personal=False)
    return WatchlistRecord(
        entry_id=entry_id, full_name=full_name, aliases=aliases, date_of_birth=date_of_birth,
        sex=sex, nationality=nationality, documents=documents, national_id=national_id,
        ban_type=ban_type, legal_basis=legal_basis, issuing_authority=authority,
        valid_from=term.valid_from, valid_until=term.valid_until,
        case_reference=case_reference, decisions=decisions, lifted_on=term.lifted_on,
    )


def _decisions_from_cell(cell: str) -> list[dict[str, str]]:
    """A CSV decisions cell ``KIND:REFERENCE:DECIDED_ON:FROM:UNTIL|...`` in the JSONL shape."""
    out = []
    for i, part in enumerate(r.split_list(cell)):
        pieces = part.split(":")
        if len(pieces) != 5:
            raise Invalid(f"decisions[{i}]", "must be KIND:REFERENCE:DECIDED_ON:FROM:UNTIL")
        out.append(dict(zip(("kind", "reference", "decided_on", "valid_from", "valid_until"),
                            pieces, strict=True)))
    return out


def _decision_mapping(d: Decision) -> dict[str, str]:
    return {"kind": d.kind, "reference": d.reference, "decided_on": d.decided_on,
            "valid_from": d.valid_from, "valid_until": d.valid_until}


def _from_csv(cells: dict[str, str]) -> Mapping[str, object]:
    """CSV cells to the JSONL shape: lists are ``a|b``; documents ``TYPE:NUMBER:COUNTRY|...``."""
    row: dict[str, object] = dict(cells)
    row["aliases"] = r.split_list(cells["aliases"])
    row["documents"] = r.documents_from_cell(cells["documents"])
    row["decisions"] = _decisions_from_cell(cells["decisions"])
    return row


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
        "decisions": [_decision_mapping(d) for d in record.decisions],
        "case_reference": record.case_reference,
    }


def to_csv_row(record: WatchlistRecord) -> list[str]:
    """The CSV cells of a record (column order as in `FIELDS`)."""
    return [
        record.entry_id, record.full_name, "|".join(record.aliases), record.date_of_birth,
        record.sex, record.nationality,
        "|".join(f"{d.type}:{d.number}:{d.issuing_country}" for d in record.documents),
        record.national_id, record.ban_type, record.legal_basis, record.issuing_authority,
        "|".join(":".join(_decision_mapping(d).values()) for d in record.decisions),
        record.case_reference,
    ]


WATCHLIST: Final = r.Schema(
    name="watchlist", fields=FIELDS, csv_header=FIELDS, validate=_validated,
    from_csv=_from_csv, to_mapping=to_mapping, to_csv=to_csv_row,
    key=lambda record: record.entry_id, key_field="entry_id")


def record_from_mapping(row: Mapping[str, object]) -> WatchlistRecord:
    """Validate one JSONL-shaped row; errors name path ``"<mapping>"`` and line 0."""
    return r.from_mapping(WATCHLIST, row)


def load_records(path: Path | str) -> tuple[WatchlistRecord, ...]:
    """Load and validate a ``.jsonl`` or ``.csv`` watchlist; entry ids must be unique."""
    return r.load(WATCHLIST, path)


def write_jsonl(records: Iterable[WatchlistRecord], path: Path | str) -> int:
    return r.write_jsonl(WATCHLIST, records, path)


def write_csv(records: Iterable[WatchlistRecord], path: Path | str) -> int:
    return r.write_csv(WATCHLIST, records, path)
