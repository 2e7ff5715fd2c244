"""How long Indonesian stay permits run and how they are extended, as data rules.

Sources (quoted in docs/DATA.md, "Stay permits and the implementing regulation"):
UU 6/2011 Pasal 48 (the kinds of stay permit; an ITAP runs five
years and may be extended for an unlimited time); PP 31/2013 as amended (PP
26/2016, PP 48/2021, PP 40/2023): an ITK on a visit visa runs at most 60 days
and is extended at most four times by at most 30 days each (180 days in all);
an ITAS runs for the visa's stay, at most 5 years per grant or extension. Pure
computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from agency_adapters.common.records import Invalid

__all__ = ["TERMS", "Term", "check"]


@dataclass(frozen=True, slots=True)
class Term:
    """The longest first term and extension (days), how many extensions (None: no limit),
    and the longest stay in all (days; None: no limit), with the rule's source."""

    first_days: int
    extension_days: int
    max_extensions: int | None
    total_days: int | None
    source: str


TERMS: Final[dict[str, Term]] = {
    "ITK": Term(60, 30, 4, 180, "PP 31/2013 Pasal 136 as amended"),
    "ITAS": Term(5 * 366, 5 * 366, None, None, "PP 31/2013 as amended by PP 48/2021"),
    "ITAP": Term(5 * 366, 5 * 366, None, None, "UU 6/2011; PP 31/2013 as amended"),
}
"""Five years are counted as 5 * 366 days so a term that includes two leap days passes."""


def check(kind: str, issued: date, expires: date, extensions: Sequence[date]) -> None:
    """Refuse terms and extensions the regulation does not allow for `kind` (`Invalid`)."""
    term = TERMS[kind]
    first = (expires - issued).days + 1
    if first > term.first_days:
        raise Invalid("expires_on", f"an {kind} is granted for at most {term.first_days} days "
                                    f"({term.source}); this one runs {first}")
    if term.max_extensions is not None and len(extensions) > term.max_extensions:
        raise Invalid(f"extensions[{term.max_extensions}]",
                      f"an {kind} is extended at most {term.max_extensions} times "
                      f"({term.source})")
    previous = expires
    for i, new in enumerate(extensions):
        if new <= previous:
            raise Invalid(f"extensions[{i}]", "must be after the expiry it extends")
        if (new - previous).days > term.extension_days:
            raise Invalid(f"extensions[{i}]", f"an {kind} extension is at most "
                                              f"{term.extension_days} days ({term.source})")
        previous = new
    stay = (previous - issued).days + 1
    if term.total_days is not None and stay > term.total_days:
        raise Invalid(f"extensions[{len(extensions) - 1}]",
                      f"an {kind} stay is at most {term.total_days} days in all "
                      f"({term.source}); this one is {stay}")
