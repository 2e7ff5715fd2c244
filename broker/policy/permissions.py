"""What one consumer may call: the allow rules that name it, by provider, service and purpose.

For the Catalog's `callable_only` listing (`g2g catalog --as X`). Pure: reads the
compiled index only. A purpose is listed when at least one allow rule could
decide it and no deny rule refuses it outright (an unconditional deny beats
every allow, as in `PolicySet.evaluate`). A rule outside its validity period
(`valid_from`/`valid_until`, at `now` in the rule's time zone) allows nothing
today and is left out; weekday and hour windows only mark a purpose
`conditional`. Only rules written for this very consumer are read, so the
listing never reveals another agency's agreements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.policy.compile import PolicySet
from broker.policy.model import Rule


@dataclass(frozen=True)
class Permission:
    """One purpose a consumer may call a service of a provider for, and what else it needs."""

    provider: str
    service: str
    purpose: str
    legal_basis: tuple[str, ...]
    """Patterns the declared legal basis must fully match (one per rule); () = none needed."""
    rule_ids: tuple[str, ...]
    conditional: bool
    """A schedule or request conditions also apply: a call may still be refused."""


def in_force(rule: Rule, now: datetime) -> bool:
    """Whether `now` lies in the rule's validity period (dates only, not its windows)."""
    schedule = rule.schedule
    today = now.astimezone(schedule.zone).date()
    return ((schedule.valid_from is None or schedule.valid_from <= today)
            and (schedule.valid_until is None or today <= schedule.valid_until))


def permissions(policy: PolicySet, consumer: str, now: datetime) -> list[Permission]:
    """Every (provider, service, purpose) `consumer` may call at `now`, sorted."""
    found = []
    for (who, provider, service, purpose), cands in sorted(policy.index.items()):
        if who != consumer or not cands.allows:
            continue
        if any(rule.unconditional for rule in cands.denies):
            continue
        # Subscription rules share the index (keyed by event type): they call nothing.
        rules = [rule for rule, _ in cands.allows
                 if rule.kind == "request" and in_force(rule, now)]
        if not rules:
            continue
        # An allow without a legal-basis pattern accepts any: then none is required.
        patterns = () if any(r.legal_basis is None for r in rules) else tuple(
            dict.fromkeys(r.legal_basis.pattern for r in rules if r.legal_basis is not None))
        found.append(Permission(
            provider=provider, service=service, purpose=purpose, legal_basis=patterns,
            rule_ids=tuple(r.id for r in rules),
            conditional=bool(cands.denies) or not any(
                r.schedule.always and not r.conditions for r in rules)))
    return found
