"""The policy language's data model: rules, conditions, decisions. Pure data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from google.protobuf import message as pb_message

Effect = Literal["allow", "deny"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Location:
    """Where a rule or one of its parts was written, for messages and `explain`."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Condition:
    """A test on one request field; a missing field never satisfies it (fail closed)."""

    field: str
    op: Literal["equals", "in", "matches", "present"]
    values: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    where: Location | None = None

    def describe(self) -> str:
        if self.op == "present":
            return f"{self.field} is present"
        if self.op == "matches":
            return f"{self.field} matches /{self.pattern.pattern if self.pattern else ''}/"
        if self.op == "equals":
            return f"{self.field} == {self.values[0]!r}"
        return f"{self.field} in {list(self.values)}"


@dataclass(frozen=True)
class Schedule:
    """Validity dates and time-of-day/weekday windows, in the rule's time zone."""

    valid_from: date | None = None
    valid_until: date | None = None
    hours: tuple[time, time] | None = None
    weekdays: frozenset[int] | None = None  # 0 = Monday
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @property
    def always(self) -> bool:
        return (self.valid_from is None and self.valid_until is None and self.hours is None
                and self.weekdays is None)


@dataclass(frozen=True)
class RateLimit:
    """At most `amount` requests per `seconds`, counted per consumer and rule."""

    amount: int
    seconds: int
    name: str  # "per_minute", "per_hour", "per_day"


@dataclass(frozen=True)
class Rule:
    """One sharing rule, as written and resolved against the catalog."""

    id: str
    description: str
    agreement: str
    effect: Effect
    provider: str
    services: tuple[str, ...]        # resolved: wildcards expanded against the catalog
    service_pattern: str             # as written
    consumers: tuple[str, ...]       # resolved: groups expanded
    consumer_refs: tuple[str, ...]   # as written
    purposes: tuple[str, ...]
    legal_basis: re.Pattern[str] | None
    schedule: Schedule
    conditions: tuple[Condition, ...]
    mask: tuple[str, ...] | None     # resolved allow-list per service is in the index
    mask_mode: Literal["all", "allow", "redact"]
    mask_paths: tuple[str, ...]
    limits: tuple[RateLimit, ...]
    where: Location
    order: int
    # A request rule, or a subscription rule (provider = publisher, services =
    # event types, consumers = subscribers).
    kind: Literal["request", "subscription"] = "request"

    @property
    def unconditional(self) -> bool:
        """True if only who/what/why decides: no legal basis, window or request test."""
        return self.legal_basis is None and self.schedule.always and not self.conditions


@dataclass(frozen=True)
class RequestContext:
    """Everything a decision may depend on."""

    consumer: str
    provider: str
    service: str
    purpose: str
    legal_basis: str
    request: pb_message.Message | None
    now: datetime


@dataclass(frozen=True)
class Decision:
    """The outcome: allow with a resolved field mask, or deny (with the rule, if any).

    A default deny (`rule_id` None) names in `unmet_rule` the first allow rule
    written for this consumer, service and purpose whose legal basis, validity
    window or request conditions did not hold; `reason` then says why.
    """

    allowed: bool
    rule_id: str | None
    policy_version: str
    field_mask: tuple[str, ...] = ()
    reason: str = ""
    limits: tuple[RateLimit, ...] = ()
    unmet_rule: str = ""
