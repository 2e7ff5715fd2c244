"""The law of cegah and tangkal orders, as data rules: who may order them, for how
long, how often they may be extended, and whether an order binds on a given day.

Sources (quoted and discussed in docs/DATA.md, "The law the watchlist follows"):

- UU 6/2011 tentang Keimigrasian, Pasal 91 ayat (2) (who orders an exit
  prevention), Pasal 97 ayat (1) (its term) as read after Constitutional Court
  decision 64/PUU-IX/2011 of 20 June 2012 (the words "setiap kali" struck: one
  extension), Pasal 98 (the Minister orders an entry refusal), Pasal 102 (its
  term; ayat (2): indefinite for a foreigner considered a threat to security
  and public order).
- UU 63/2024 (third amendment of UU 6/2011, enacted 17 October 2024): Pasal 97
  ayat (1) restates the one extension; Pasal 102 ayat (1) becomes at most
  10 years, extendable by at most 10 years.

Each decision is judged by the law in force on the day it was decided. Pure
computation: no I/O, never sees a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal, TypeAlias

from agency_adapters.common.calendar import local_day, phase
from agency_adapters.common.records import Invalid

__all__ = [
    "DECISION_KINDS", "ENTRY_AUTHORITIES", "EXIT_AUTHORITIES", "LAW_2011", "LAW_2024",
    "MK_64", "STATUSES", "Decision", "Standing", "Term", "add_months", "check", "local_day",
    "standing", "summary",
]

DecisionKind: TypeAlias = Literal["ISSUED", "EXTENDED", "LIFTED"]
Status: TypeAlias = Literal["IN_FORCE", "EXPIRED", "LIFTED", "NOT_YET_IN_FORCE"]

DECISION_KINDS: Final[tuple[DecisionKind, ...]] = ("ISSUED", "EXTENDED", "LIFTED")
STATUSES: Final[tuple[Status, ...]] = ("IN_FORCE", "EXPIRED", "LIFTED", "NOT_YET_IN_FORCE")

LAW_2011: Final = date(2011, 5, 5)
"""UU 6/2011 enacted; earlier orders were made under UU 9/1992 and are not accepted."""
MK_64: Final = date(2012, 6, 20)
"""MK 64/PUU-IX/2011 pronounced: from then on an exit prevention is extended once."""
LAW_2024: Final = date(2024, 10, 17)
"""UU 63/2024 enacted: entry refusal terms of up to 10 years (Pasal 102 ayat (1) new)."""

EXIT_AUTHORITIES: Final[dict[str, str]] = {
    "MENTERI": "huruf a (the Minister: immigration supervision, administrative action)",
    "MENTERI_KEUANGAN": "huruf b (Minister of Finance)",
    "JAKSA_AGUNG": "huruf b (Attorney General)",
    "KAPOLRI": "huruf c (Chief of the National Police)",
    "KPK": "huruf d (Chair of the Corruption Eradication Commission)",
    "BNN": "huruf e (Head of the National Narcotics Agency)",
    "LEMBAGA_LAIN": "huruf f (head of another ministry or body a statute empowers)",
    "PENGADILAN": "huruf f (a court, where a statute empowers it)",
}
"""Who may order an exit prevention: UU 6/2011 Pasal 91 ayat (2)."""
ENTRY_AUTHORITIES: Final[dict[str, str]] = {
    "MENTERI": "Pasal 98 ayat (1) (the Minister orders it; others may only ask for it)",
}
"""Who may order an entry refusal: UU 6/2011 Pasal 98."""

_INDEFINITE_BASIS: Final = "Pasal 102 ayat (2)"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision on an order: issued, extended or lifted (dicabut).

    `valid_from`..`valid_until` is the term the decision sets (inclusive); a
    LIFTED decision has only `valid_from` (the first day the order no longer
    binds) and an empty `valid_until`; an indefinite entry refusal (Pasal 102
    ayat (2)) has an empty `valid_until`. Each decision has its own `reference`.
    """

    kind: DecisionKind
    reference: str
    decided_on: str
    valid_from: str
    valid_until: str


@dataclass(frozen=True, slots=True)
class Term:
    """What the decisions add up to: first day, last day (``""`` indefinite), lifted from."""

    valid_from: str
    valid_until: str
    lifted_on: str


@dataclass(frozen=True, slots=True)
class Standing:
    """Whether an order binds on a day, and the date that decides it.

    `decisive_date`: IN_FORCE, the last day it binds (``""`` indefinite);
    EXPIRED, the last day it bound; LIFTED, the day the lifting took effect;
    NOT_YET_IN_FORCE, its first day.
    """

    status: Status
    decisive_date: str

    @property
    def in_force(self) -> bool:
        return self.status == "IN_FORCE"


def add_months(start: date, months: int) -> date:
    """`start` plus whole calendar months (the 31st becomes the month's last day)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _months_allowed(ban_type: str, decided_on: date) -> tuple[int, str]:
    """The longest term (months) of one decision, and the article that sets it."""
    if ban_type == "EXIT_PREVENTION":
        return 6, "UU 6/2011 Pasal 97 ayat (1)"
    if decided_on >= LAW_2024:
        return 120, "UU 6/2011 Pasal 102 ayat (1) as amended by UU 63/2024"
    return 6, "UU 6/2011 Pasal 102 ayat (1) (before UU 63/2024)"


def _check_authority(ban_type: str, nationality: str, authority: str) -> None:
    allowed = EXIT_AUTHORITIES if ban_type == "EXIT_PREVENTION" else ENTRY_AUTHORITIES
    if authority not in allowed:
        names = ", ".join(allowed)
        law = ("UU 6/2011 Pasal 91 ayat (2)" if ban_type == "EXIT_PREVENTION"
               else "UU 6/2011 Pasal 98 ayat (1)")
        shown = repr(authority) if authority.replace("_", "").isalnum() else "the value"
        raise Invalid("issuing_authority",
                      f"{shown} may not order an {ban_type.lower().replace('_', ' ')}: "
                      f"{law} names {names}")
    if ban_type == "ENTRY_REFUSAL" and nationality == "IDN":
        raise Invalid("nationality", "an entry refusal (penangkalan) applies to foreigners "
                                     "only (UU 6/2011 Pasal 1, Pasal 102); 'IDN' is an "
                                     "Indonesian national")


def _check_term(ban_type: str, legal_basis: str, i: int, d: Decision) -> None:
    field = f"decisions[{i}]"
    start = date.fromisoformat(d.valid_from)
    decided = date.fromisoformat(d.decided_on)
    if start < decided:
        raise Invalid(f"{field}.valid_from", "is before decided_on: a decision does not "
                                             "take effect before it is made")
    if d.valid_until == "":
        if ban_type != "ENTRY_REFUSAL" or _INDEFINITE_BASIS not in legal_basis:
            raise Invalid(f"{field}.valid_until",
                          "is required: only an entry refusal under UU 6/2011 Pasal 102 "
                          "ayat (2) (legal_basis citing it) may be indefinite")
        if d.kind == "EXTENDED":
            raise Invalid(f"{field}.valid_until", "is required: an extension has an end")
        return
    end = date.fromisoformat(d.valid_until)
    if end < start:
        raise Invalid(f"{field}.valid_until", "is before valid_from")
    months, law = _months_allowed(ban_type, decided)
    latest = add_months(start, months) - timedelta(days=1)
    if end > latest:
        raise Invalid(f"{field}.valid_until",
                      f"a term of {(end - start).days + 1} days is longer than the "
                      f"{months} months {law} allows (it must end by {latest.isoformat()})")


def _check_extension(ban_type: str, legal_basis: str, i: int, d: Decision, until: str) -> None:
    field = f"decisions[{i}]"
    if until == "":
        raise Invalid(f"{field}.kind", "an indefinite order cannot be extended")
    end = date.fromisoformat(until)
    if date.fromisoformat(d.decided_on) > end:
        raise Invalid(f"{field}.decided_on",
                      f"is after the order ended on {until}: an order that has "
                      "ended cannot be extended (issue a new order)")
    start = date.fromisoformat(d.valid_from)
    if start > end + timedelta(days=1):
        raise Invalid(f"{field}.valid_from",
                      f"starts after the order ended on {until}: an extension "
                      "continues the order from the next day")
    if start <= end:
        raise Invalid(f"{field}.valid_from",
                      f"overlaps the term it extends (ending {until}): an "
                      "extension starts the day after")
    _check_term(ban_type, legal_basis, i, d)


def _check_extension_count(ban_type: str, i: int, decisions: Sequence[Decision]) -> None:
    """Pasal 97 ayat (1) after MK 64: one extension; Pasal 102 ayat (1) after UU 63/2024:
    one extension decided under it (before it, "setiap kali": any number)."""
    decided = [date.fromisoformat(d.decided_on) for d in decisions[1:i + 1]
               if d.kind == "EXTENDED"]
    if ban_type == "EXIT_PREVENTION" and sum(day >= MK_64 for day in decided) > 1:
        raise Invalid(f"decisions[{i}].kind",
                      "a second extension: an exit prevention may be extended once "
                      "(UU 6/2011 Pasal 97 ayat (1) as read by MK 64/PUU-IX/2011)")
    if ban_type == "ENTRY_REFUSAL" and sum(day >= LAW_2024 for day in decided) > 1:
        raise Invalid(f"decisions[{i}].kind",
                      "a second extension under UU 63/2024: an entry refusal may be "
                      "extended once by at most 10 years (Pasal 102 ayat (1) as amended)")


def _check_lifting(i: int, d: Decision, first_day: str, until: str) -> None:
    field = f"decisions[{i}]"
    if d.valid_until != "":
        raise Invalid(f"{field}.valid_until", "must be empty: a lifting has no end")
    start = date.fromisoformat(d.valid_from)
    if start < date.fromisoformat(d.decided_on):
        raise Invalid(f"{field}.valid_from", "is before decided_on: a decision does "
                                             "not take effect before it is made")
    if start < date.fromisoformat(first_day):
        raise Invalid(f"{field}.valid_from", "is before the order's first day")
    if until and start > date.fromisoformat(until):
        raise Invalid(f"{field}.valid_from",
                      f"is after the order ended on {until}: nothing to lift")


def _check_sequence(i: int, d: Decision, decisions: Sequence[Decision]) -> None:
    """References, dates and order of decision `i` against those before it."""
    field = f"decisions[{i}]"
    earlier = [e.reference for e in decisions[:i]]
    if d.reference in earlier:
        raise Invalid(f"{field}.reference", f"same as decisions[{earlier.index(d.reference)}]: "
                                            "each decision has its own reference")
    decided = date.fromisoformat(d.decided_on)
    if decided < LAW_2011:
        raise Invalid(f"{field}.decided_on", "is before UU 6/2011 (2011-05-05): orders "
                                             "made under UU 9/1992 are not accepted")
    if i and decided < date.fromisoformat(decisions[i - 1].decided_on):
        raise Invalid(f"{field}.decided_on", f"is before decisions[{i - 1}].decided_on: "
                                             "decisions are listed in the order made")
    if i and decisions[i - 1].kind == "LIFTED":
        raise Invalid(f"{field}.kind", "follows the lifting: a lifted order is over "
                                       "(issue a new order)")
    if i == 0 and d.kind != "ISSUED":
        raise Invalid(f"{field}.kind", "the first decision must be ISSUED")
    if i and d.kind == "ISSUED":
        raise Invalid(f"{field}.kind", "an order is issued once; a new order is a new entry")


def check(ban_type: str, nationality: str, authority: str, legal_basis: str,
          decisions: Sequence[Decision]) -> Term:
    """Check an order's decisions against the law; return the term they add up to.

    Raises `Invalid` naming the field (``decisions[2].valid_from``) and the rule.
    """
    _check_authority(ban_type, nationality, authority)
    until = ""
    for i, d in enumerate(decisions):
        _check_sequence(i, d, decisions)
        if d.kind == "ISSUED":
            _check_term(ban_type, legal_basis, i, d)
            until = d.valid_until
        elif d.kind == "EXTENDED":
            _check_extension(ban_type, legal_basis, i, d, until)
            _check_extension_count(ban_type, i, decisions)
            until = d.valid_until
        else:
            _check_lifting(i, d, decisions[0].valid_from, until)
    return summary(decisions)


def summary(decisions: Sequence[Decision]) -> Term:
    """The term checked decisions add up to: the issued term's first day, the latest
    term's last day, the day a lifting took effect."""
    until, lifted_on = "", ""
    for d in decisions:
        if d.kind == "LIFTED":
            lifted_on = d.valid_from
        else:
            until = d.valid_until
    return Term(decisions[0].valid_from, until, lifted_on)


def standing(valid_from: str, valid_until: str, lifted_on: str, on: date) -> Standing:
    """Whether an order with this term binds on day `on` (a Jakarta calendar day)."""
    where = phase(valid_from, valid_until, lifted_on, on)
    if where == "ENDED":
        return Standing("LIFTED", lifted_on)
    if where == "NOT_YET":
        return Standing("NOT_YET_IN_FORCE", valid_from)
    if where == "EXPIRED":
        return Standing("EXPIRED", valid_until)
    last = valid_until
    if lifted_on:
        day_before = (date.fromisoformat(lifted_on) - timedelta(days=1)).isoformat()
        last = min(last, day_before) if last else day_before
    return Standing("IN_FORCE", last)


