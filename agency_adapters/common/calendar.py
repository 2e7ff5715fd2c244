"""The calendar adapters judge dates on, and the day seeded data is relative to.

Orders, notices and permits are dated in Indonesia, so a check is judged on
the Jakarta calendar day (``Asia/Jakarta``). Seeded synthetic data is dated
relative to a reference day (`reference_date`) so that it looks like today
whenever it is generated, yet is reproducible: ``G2G_SEED_DATE=YYYY-MM-DD``
fixes the day.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Final, Literal, TypeAlias
from zoneinfo import ZoneInfo

__all__ = ["JAKARTA", "Phase", "local_day", "phase", "reference_date", "today"]

Phase: TypeAlias = Literal["ENDED", "NOT_YET", "EXPIRED", "CURRENT"]

JAKARTA: Final = ZoneInfo("Asia/Jakarta")


def local_day(moment: datetime) -> date:
    """The Jakarta calendar day of an aware `moment` (the day a check is judged on)."""
    return moment.astimezone(JAKARTA).date()


def today() -> date:
    """Today on the Jakarta calendar."""
    return local_day(datetime.now(UTC))


def reference_date() -> date:
    """The day seeded data is relative to: ``G2G_SEED_DATE`` (YYYY-MM-DD) when set (tests,
    reproducible files), else today on the Jakarta calendar."""
    fixed = os.environ.get("G2G_SEED_DATE", "")
    return date.fromisoformat(fixed) if fixed else today()


def phase(first: str, last: str, ended_on: str, on: date) -> Phase:
    """Where day `on` falls in the life of an order, notice or permit running from `first`
    through `last` (``""``: no end), ended early from `ended_on` (``""``: never): ENDED,
    NOT_YET (before `first`), EXPIRED (after `last`) or CURRENT. Dates YYYY-MM-DD."""
    if ended_on and on >= date.fromisoformat(ended_on):
        return "ENDED"
    if on < date.fromisoformat(first):
        return "NOT_YET"
    if last and on > date.fromisoformat(last):
        return "EXPIRED"
    return "CURRENT"
