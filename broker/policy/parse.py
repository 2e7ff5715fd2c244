"""Policy files (YAML) to resolved `Rule`s, checked against the registry and catalog.

Every problem is a ConfigError naming file, line, column and field. Wildcards
and groups are expanded here so evaluation never has to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from g2g_sdk import fieldmask, yamlsrc
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry
from google.protobuf.descriptor import Descriptor

from broker.policy.model import (
    WEEKDAYS,
    Condition,
    Effect,
    Location,
    RateLimit,
    Rule,
    Schedule,
)

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
PURPOSE = re.compile(r"^[a-z][a-z0-9_]*$")
GROUP = "group:"
ANY = "*"
LIMIT_WINDOWS = {"per_minute": 60, "per_hour": 3600, "per_day": 86400}
RULE_FIELDS = {"id", "description", "agreement", "effect", "provider", "service", "consumers",
               "purposes", "legal_basis", "valid_from", "valid_until", "hours", "weekdays",
               "timezone", "when", "mask", "rate_limit"}


SUBSCRIPTION_FIELDS = {"id", "description", "agreement", "effect", "publisher", "event",
                       "subscribers", "purposes", "legal_basis", "valid_from", "valid_until",
                       "hours", "weekdays", "timezone", "when", "mask"}


@dataclass(frozen=True)
class ParsedFile:
    groups: dict[str, tuple[yamlsrc.Node, tuple[str, ...]]]
    rules: tuple[yamlsrc.Node, ...]
    subscriptions: tuple[yamlsrc.Node, ...] = ()


def parse_file(root: yamlsrc.Node | None, file: str) -> ParsedFile:
    """Split one file into its group definitions and its (unresolved) rule nodes."""
    if root is None:
        # Most likely a truncated write or a wrong file: refuse rather than drop its rules.
        raise ConfigError("empty policy file (expected 'rules:' and/or 'groups:')",
                          file=file, line=1, column=1)
    top = root.mapping(allowed={"groups", "rules", "subscriptions", "agreement"})
    if not top.keys() & {"groups", "rules", "subscriptions"}:
        raise root.error("a policy file has 'rules:', 'subscriptions:' and/or 'groups:'")
    groups = {}
    if "groups" in top:
        for name, node in top["groups"].mapping().items():
            if not RULE_ID.fullmatch(name):
                raise node.error(f"group name {name!r} must be lowercase letters, digits, -_.")
            groups[name] = (node, node.str_list())
    rules = tuple(top["rules"].items()) if "rules" in top else ()
    subscriptions = tuple(top["subscriptions"].items()) if "subscriptions" in top else ()
    return ParsedFile(groups, rules, subscriptions)


def resolve_groups(files: list[ParsedFile], registry: Registry) -> dict[str, tuple[str, ...]]:
    """Group name -> agency ids, nested groups expanded, every id registered."""
    raw: dict[str, tuple[yamlsrc.Node, tuple[str, ...]]] = {}
    for parsed in files:
        for name, entry in parsed.groups.items():
            if name in raw:
                first = raw[name][0]
                raise entry[0].error(f"group {name!r} already defined at "
                                     f"{first.file}:{first.line}")
            raw[name] = entry
    resolved: dict[str, tuple[str, ...]] = {}

    def expand(name: str, trail: tuple[str, ...]) -> tuple[str, ...]:
        if name in resolved:
            return resolved[name]
        node, members = raw[name]
        out: list[str] = []
        for member in members:
            if member.startswith(GROUP):
                inner = member[len(GROUP):]
                if inner not in raw:
                    raise node.error(f"unknown group {inner!r}")
                if inner in trail:
                    raise node.error(f"group cycle: {' -> '.join((*trail, inner))}")
                out.extend(expand(inner, (*trail, inner)))
            elif registry.agency(member) is None:
                raise node.error(f"unknown agency {member!r} in group {name!r}")
            else:
                out.append(member)
        resolved[name] = tuple(dict.fromkeys(out))
        return resolved[name]

    for name in raw:
        expand(name, (name,))
    return resolved


def _consumers(node: yamlsrc.Node, groups: dict[str, tuple[str, ...]],
               registry: Registry) -> tuple[tuple[str, ...], tuple[str, ...]]:
    items = (node,) if node.is_scalar else tuple(node.items())
    refs = tuple(item.str() for item in items)
    out: list[str] = []
    for item, ref in zip(items, refs, strict=True):
        if ref == ANY:
            out.extend(registry.agencies)
        elif ref.startswith(GROUP):
            if ref[len(GROUP):] not in groups:
                raise item.error(f"unknown group {ref[len(GROUP):]!r} "
                                 f"(defined: {', '.join(sorted(groups)) or 'none'})")
            out.extend(groups[ref[len(GROUP):]])
        elif registry.agency(ref) is None:
            raise item.error(f"unknown agency {ref!r}")
        else:
            out.append(ref)
    return tuple(dict.fromkeys(out)), refs


def _services(node: yamlsrc.Node, provider: str, registry: Registry) -> tuple[str, ...]:
    agency = registry.agency(provider)
    offered = tuple(s.name for s in agency.services) if agency else ()
    return _matching(node, offered, "/*", f"{provider} offers no service", "it offers")


def _matching(node: yamlsrc.Node, names: tuple[str, ...], wildcard: str, none: str,
              listed: str) -> tuple[str, ...]:
    """The `names` a pattern selects: `*`, a prefix ending in `wildcard`, or one name."""
    pattern = node.str()
    if pattern == ANY:
        matched = names
    elif pattern.endswith(wildcard):
        matched = tuple(n for n in names if n.startswith(pattern[:-1]))
    else:
        matched = (pattern,) if pattern in names else ()
    if not matched:
        raise node.error(f"{none} matching {pattern!r} "
                         f"({listed}: {', '.join(names) or 'nothing'})")
    return matched


def _regex(node: yamlsrc.Node) -> re.Pattern[str]:
    try:
        return re.compile(node.str())
    except re.error as exc:
        raise node.error(f"invalid regular expression: {exc}") from None


def _date(node: yamlsrc.Node) -> date:
    value = node.scalar()
    if isinstance(value, date):
        return value
    raise node.error(f"expected a date like 2025-01-31, got {value!r}")


def _hours(node: yamlsrc.Node) -> tuple[time, time]:
    match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", node.str())
    if not match:
        raise node.error("expected hours like 07:00-19:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise node.error("hours out of range")
    end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
    return time(h1, m1), end


def _schedule(f: dict[str, yamlsrc.Node]) -> Schedule:
    zone = ZoneInfo("UTC")
    if "timezone" in f:
        try:
            zone = ZoneInfo(f["timezone"].str())
        except (ZoneInfoNotFoundError, ValueError):
            raise f["timezone"].error("unknown time zone (use an IANA name like "
                                      "Asia/Jakarta)") from None
    weekdays = None
    if "weekdays" in f:
        days = []
        for item in f["weekdays"].items():
            if item.str() not in WEEKDAYS:
                raise item.error(f"expected one of {', '.join(WEEKDAYS)}")
            days.append(WEEKDAYS.index(item.str()))
        weekdays = frozenset(days)
    schedule = Schedule(
        valid_from=_date(f["valid_from"]) if "valid_from" in f else None,
        valid_until=_date(f["valid_until"]) if "valid_until" in f else None,
        hours=_hours(f["hours"]) if "hours" in f else None, weekdays=weekdays, zone=zone)
    if schedule.valid_from and schedule.valid_until and schedule.valid_until < schedule.valid_from:
        raise f["valid_until"].error("valid_until is before valid_from")
    return schedule


def _where(node: yamlsrc.Node) -> Location:
    return Location(node.file, node.line, node.column)


def _conditions(node: yamlsrc.Node, services: tuple[str, ...],
                catalog: Catalog) -> tuple[Condition, ...]:
    descriptors = []
    for service in services:
        spec = catalog.get(service)
        assert spec is not None
        descriptors.append(spec.request_descriptor)
    return _conditions_on(node, tuple(descriptors))


def _conditions_on(node: yamlsrc.Node, descriptors: tuple[Descriptor, ...]
                   ) -> tuple[Condition, ...]:
    """Conditions on fields of a request or event message (each of `descriptors`)."""
    out = []
    for item in node.items():
        f = item.mapping(allowed={"field", "equals", "in", "matches", "present"},
                         required={"field"})
        ops = [k for k in ("equals", "in", "matches", "present") if k in f]
        if len(ops) != 1:
            raise item.error("a condition needs exactly one of: equals, in, matches, present")
        path = f["field"].str()
        for descriptor in descriptors:
            if not _is_scalar_path(descriptor, path):
                raise f["field"].error(f"{path!r} is not a single-valued field of "
                                       f"{descriptor.full_name}")
        op = ops[0]
        where = _where(item)
        if op == "equals":
            out.append(Condition(path, "equals", (str(f["equals"].scalar()),), where=where))
        elif op == "in":
            out.append(Condition(path, "in", f["in"].str_list(), where=where))
        elif op == "matches":
            out.append(Condition(path, "matches", pattern=_regex(f["matches"]), where=where))
        else:
            if not f["present"].bool():
                raise f["present"].error("only 'present: true' is meaningful")
            out.append(Condition(path, "present", where=where))
    return tuple(out)


def _is_scalar_path(descriptor: object, path: str) -> bool:
    from google.protobuf.descriptor import Descriptor, FieldDescriptor
    current: Descriptor | None = cast(Descriptor, descriptor)
    fd = None
    for part in path.split("."):
        if current is None:
            return False
        fd = current.fields_by_name.get(part)
        if fd is None or fd.is_repeated:
            return False
        current = fd.message_type if fd.type == FieldDescriptor.TYPE_MESSAGE else None
    return fd is not None and current is None


def _mask_as_written(f: dict[str, yamlsrc.Node]
                     ) -> tuple[Literal["allow", "redact"], tuple[str, ...], yamlsrc.Node] | None:
    """A rule's mask mode, its paths and their node, not yet checked against a message."""
    if "mask" not in f:
        return None
    m = f["mask"].mapping(allowed={"allow", "redact"})
    if len(m) != 1:
        raise f["mask"].error("a mask has exactly one of: allow, redact")
    mode = cast(Literal["allow", "redact"], next(iter(m)))
    return mode, m[mode].str_list(), m[mode]


def _mask(f: dict[str, yamlsrc.Node], services: tuple[str, ...], catalog: Catalog
          ) -> tuple[Literal["all", "allow", "redact"], tuple[str, ...]]:
    written = _mask_as_written(f)
    if written is None:
        return "all", ()
    mode, paths, node = written
    for service in services:
        spec = catalog.get(service)
        assert spec is not None
        bad = fieldmask.unknown_paths(spec.response_descriptor, paths)
        if bad:
            raise node.error(f"unknown field path {bad[0]!r} in "
                             f"{spec.response_descriptor.full_name}")
    return mode, paths


def _limits(node: yamlsrc.Node) -> tuple[RateLimit, ...]:
    f = node.mapping(allowed=set(LIMIT_WINDOWS))
    return tuple(RateLimit(f[name].int(minimum=1), LIMIT_WINDOWS[name], name)
                 for name in LIMIT_WINDOWS if name in f)


def _head(f: dict[str, yamlsrc.Node], party: str, registry: Registry
          ) -> tuple[str, str, str, tuple[str, ...]]:
    """A rule's id, effect, provider (or publisher, `party`) and purposes, each checked."""
    rule_id = f["id"].str()
    if not RULE_ID.fullmatch(rule_id):
        raise f["id"].error("a rule id is lowercase letters, digits, '.', '_' or '-'")
    effect = f["effect"].str()
    if effect not in ("allow", "deny"):
        raise f["effect"].error("effect is 'allow' or 'deny'")
    agency = f[party].str()
    if registry.agency(agency) is None:
        raise f[party].error(f"unknown agency {agency!r}")
    purposes = f["purposes"].str_list()
    for p in purposes:
        if not PURPOSE.fullmatch(p):
            raise f["purposes"].error(f"purpose {p!r} must match {PURPOSE.pattern}")
    return rule_id, effect, agency, purposes


def parse_rule(node: yamlsrc.Node, order: int, groups: dict[str, tuple[str, ...]],
               registry: Registry, catalog: Catalog) -> Rule:
    """One rule node, resolved against the registry and catalog."""
    f = node.mapping(allowed=RULE_FIELDS, required={
        "id", "description", "agreement", "effect", "provider", "service", "consumers",
        "purposes"})
    rule_id, effect, provider, purposes = _head(f, "provider", registry)
    services = _services(f["service"], provider, registry)
    consumers, refs = _consumers(f["consumers"], groups, registry)
    mode, paths = _mask(f, services, catalog)
    if effect == "deny" and ("mask" in f or "rate_limit" in f):
        raise node.error("a deny rule takes no mask or rate_limit")
    return Rule(
        id=rule_id, description=f["description"].str(), agreement=f["agreement"].str(),
        effect=cast(Effect, effect), provider=provider, services=services,
        service_pattern=f["service"].str(), consumers=consumers, consumer_refs=refs,
        purposes=purposes,
        legal_basis=_regex(f["legal_basis"]) if "legal_basis" in f else None,
        schedule=_schedule(f),
        conditions=_conditions(f["when"], services, catalog) if "when" in f else (),
        mask=None, mask_mode=mode, mask_paths=paths,
        limits=_limits(f["rate_limit"]) if "rate_limit" in f else (),
        where=_where(node), order=order)


def _events(node: yamlsrc.Node, publisher: str, catalog: Catalog) -> tuple[str, ...]:
    published = tuple(name for name, spec in sorted(catalog.events.items())
                      if publisher in spec.offers)
    return _matching(node, published, ".*", f"{publisher} publishes no event type",
                     "it publishes")


def _event_mask(f: dict[str, yamlsrc.Node], descriptors: tuple[Descriptor, ...]
                ) -> tuple[Literal["all", "allow", "redact"], tuple[str, ...]]:
    """An event mask names top-level fields only: each one is one signed disclosure."""
    written = _mask_as_written(f)
    if written is None:
        return "all", ()
    mode, paths, node = written
    for descriptor in descriptors:
        for path in paths:
            if path not in descriptor.fields_by_name:
                raise node.error(f"{path!r} is not a top-level field of "
                                 f"{descriptor.full_name} (event masks select whole "
                                 "top-level fields)")
    return mode, paths


def parse_subscription(node: yamlsrc.Node, order: int, groups: dict[str, tuple[str, ...]],
                       registry: Registry, catalog: Catalog) -> Rule:
    """One subscription rule: which agencies may receive which events of a publisher.

    It is a `Rule` whose provider is the publisher, whose services are event
    types and whose consumers are the subscribers, so that evaluation,
    explanation and diffs are the request rules' own.
    """
    f = node.mapping(allowed=SUBSCRIPTION_FIELDS, required={
        "id", "description", "agreement", "effect", "publisher", "event", "subscribers",
        "purposes"})
    rule_id, effect, publisher, purposes = _head(f, "publisher", registry)
    events = _events(f["event"], publisher, catalog)
    descriptors = tuple(catalog.events[e].descriptor for e in events)
    subscribers, refs = _consumers(f["subscribers"], groups, registry)
    mode, paths = _event_mask(f, descriptors)
    if effect == "deny" and "mask" in f:
        raise node.error("a deny rule takes no mask")
    return Rule(
        id=rule_id, description=f["description"].str(), agreement=f["agreement"].str(),
        effect=cast(Effect, effect), provider=publisher, services=events,
        service_pattern=f["event"].str(), consumers=subscribers, consumer_refs=refs,
        purposes=purposes,
        legal_basis=_regex(f["legal_basis"]) if "legal_basis" in f else None,
        schedule=_schedule(f),
        conditions=_conditions_on(f["when"], descriptors) if "when" in f else (),
        mask=None, mask_mode=mode, mask_paths=paths, limits=(), where=_where(node),
        order=order, kind="subscription")


def iter_rules(files: list[ParsedFile], registry: Registry, catalog: Catalog
               ) -> Iterator[tuple[yamlsrc.Node, Rule]]:
    groups = resolve_groups(files, registry)
    order = 0
    seen: dict[str, yamlsrc.Node] = {}
    for parsed in files:
        parsed_rules = [(node, parse_rule) for node in parsed.rules]
        parsed_rules += [(node, parse_subscription) for node in parsed.subscriptions]
        for node, parse in parsed_rules:
            rule = parse(node, order, groups, registry, catalog)
            if rule.id in seen:
                first = seen[rule.id]
                raise node.error(f"rule id {rule.id!r} already used at {first.file}:{first.line}",
                                 field=node.path + ".id")
            seen[rule.id] = node
            order += 1
            yield node, rule
