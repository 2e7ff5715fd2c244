"""Does a rule match a request context, and if not, why not. Pure functions, no I/O."""

from __future__ import annotations

from datetime import datetime, time

from g2g_sdk.fieldmask import field_value
from google.protobuf import message as pb_message

from broker.policy.model import WEEKDAYS, Condition, RequestContext, Rule, Schedule


def condition_fails(cond: Condition, request: pb_message.Message | None) -> str | None:
    """None when the condition holds, else why not (never quoting the request value)."""
    value = field_value(request, cond.field)
    if value is None:
        return f"request field {cond.field} is not set"
    if cond.op == "present":
        return None
    if cond.op == "matches":
        assert cond.pattern is not None
        ok = cond.pattern.fullmatch(value) is not None
    else:
        ok = value in cond.values
    return None if ok else f"condition failed: {cond.describe()}"


def schedule_fails(schedule: Schedule, now: datetime) -> str | None:
    if schedule.always:
        return None
    local = now.astimezone(schedule.zone)
    if schedule.valid_from is not None and local.date() < schedule.valid_from:
        return f"not valid before {schedule.valid_from.isoformat()}"
    if schedule.valid_until is not None and local.date() > schedule.valid_until:
        return f"expired on {schedule.valid_until.isoformat()}"
    if schedule.weekdays is not None and local.weekday() not in schedule.weekdays:
        return f"not allowed on {local.strftime('%A')} ({schedule.zone.key})"
    if schedule.hours is not None:
        start, end = schedule.hours
        t = local.time().replace(tzinfo=None)
        inside = start <= t < end if start <= end else (t >= start or t < end)
        if not inside:
            return (f"outside hours {_hours(schedule.hours)} "
                    f"({schedule.zone.key})")
    return None


def _hours(hours: tuple[time, time]) -> str:
    """As written: an end of "24:00" is stored as the last instant of the day."""
    start, end = hours
    last = "24:00" if end == time.max else end.strftime("%H:%M")
    return f"{start.strftime('%H:%M')}-{last}"


def refinement_fails(rule: Rule, ctx: RequestContext) -> str | None:
    """Legal basis, schedule and request conditions (who/what/why already matched)."""
    if rule.legal_basis is not None and not rule.legal_basis.fullmatch(ctx.legal_basis):
        return f"legal basis does not match /{rule.legal_basis.pattern}/"
    why = schedule_fails(rule.schedule, ctx.now)
    if why:
        return why
    for cond in rule.conditions:
        why = condition_fails(cond, ctx.request)
        if why:
            return why
    return None


def mismatch(rule: Rule, ctx: RequestContext) -> list[str]:
    """Every reason `rule` does not apply to `ctx` (empty: it applies). For `explain`."""
    reasons = []
    if rule.provider != ctx.provider:
        reasons.append(f"provider is {rule.provider}")
    if ctx.service not in rule.services:
        reasons.append(f"service is {rule.service_pattern}")
    if ctx.consumer not in rule.consumers:
        reasons.append(f"consumer not in {list(rule.consumer_refs)}")
    if ctx.purpose not in rule.purposes:
        reasons.append(f"purpose not in {list(rule.purposes)}")
    if not reasons:
        why = refinement_fails(rule, ctx)
        if why:
            reasons.append(why)
    return reasons


def describe_refinements(rule: Rule) -> list[str]:
    """What a rule requires beyond who/what/why, in words (for `diff` and `explain`)."""
    out = []
    if rule.legal_basis is not None:
        out.append(f"legal basis matches /{rule.legal_basis.pattern}/")
    s = rule.schedule
    if s.valid_from or s.valid_until:
        out.append(f"valid {s.valid_from.isoformat() if s.valid_from else '...'}.."
                   f"{s.valid_until.isoformat() if s.valid_until else '...'}")
    if s.weekdays is not None:
        out.append("on " + ",".join(WEEKDAYS[d] for d in sorted(s.weekdays)))
    if s.hours is not None:
        out.append(f"hours {_hours(s.hours)}")
    if not s.always:
        out[-1] += f" ({s.zone.key})"
    out += [c.describe() for c in rule.conditions]
    return out
