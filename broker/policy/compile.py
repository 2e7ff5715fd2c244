"""Compile a policy directory into an indexed, immutable `PolicySet`.

The index maps (consumer, provider, service, purpose) to the few rules that can
apply, so a decision is one dict lookup plus the refinements (legal basis,
schedule, request conditions) of those rules: no scan over the whole set.
Cross-rule checks (shadowed rules, conflicting masks) refuse the load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from g2g_sdk import fieldmask, yamlsrc
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import Registry
from google.protobuf.descriptor import Descriptor

from broker.policy.evaluate import (
    condition_fails,
    describe_refinements,
    mismatch,
    refinement_fails,
)
from broker.policy.model import Decision, RequestContext, Rule
from broker.policy.parse import ParsedFile, iter_rules, parse_file

Key = tuple[str, str, str, str]  # consumer, provider, service, purpose
NO_RULE = "no rule matched"


@dataclass(frozen=True)
class Candidates:
    """The rules that can decide one key: denies first (deny beats allow), then allows."""

    denies: tuple[Rule, ...] = ()
    allows: tuple[tuple[Rule, Decision], ...] = ()


@dataclass(frozen=True)
class Explanation:
    """A decision plus, for a default deny, the nearest rules and why each did not match;
    for a deny by a rule, the allow rules it overrides."""

    decision: Decision
    rule: Rule | None
    near_misses: tuple[tuple[Rule, tuple[str, ...]], ...] = ()
    overrides: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class PolicySet:
    """An immutable, validated policy set; `evaluate` is the only decision function."""

    version: str
    rules: tuple[Rule, ...]
    index: Mapping[Key, Candidates]
    sources: Mapping[str, bytes]
    _deny_none: Decision = field(repr=False, default=Decision(False, None, ""))
    # (publisher, event type, purpose) -> every agency some subscription rule names.
    subscribers: Mapping[tuple[str, str, str], tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    def route(self, ctx: RequestContext) -> tuple[tuple[str, Decision], ...]:
        """The subscription decision for every agency a rule names for this event.

        `ctx.provider` is the publisher, `ctx.service` the event type and
        `ctx.request` the event payload; `ctx.consumer` is ignored. Agencies no
        rule names are denied by default and not listed.
        """
        out = []
        for subscriber in self.subscribers.get((ctx.provider, ctx.service, ctx.purpose), ()):
            out.append((subscriber, self.evaluate(replace(ctx, consumer=subscriber))))
        return tuple(out)

    def may_subscribe(self, subscriber: str, event_types: Iterable[str] = ()) -> bool:
        """Whether any allow subscription rule names `subscriber` (for these types, if given)."""
        wanted = set(event_types)
        return any(r.kind == "subscription" and r.effect == "allow" and subscriber in r.consumers
                   and (not wanted or wanted & set(r.services)) for r in self.rules)

    def evaluate(self, ctx: RequestContext) -> Decision:
        """Default deny; an applicable deny rule beats any allow."""
        cands = self.index.get((ctx.consumer, ctx.provider, ctx.service, ctx.purpose))
        if cands is None:
            return self._deny_none
        for rule in cands.denies:
            if refinement_fails(rule, ctx) is None:
                return Decision(False, rule.id, self.version, reason=rule.description)
        unmet: tuple[Rule, str] | None = None
        unmet_off_topic = True
        for rule, decision in cands.allows:
            if rule.unconditional:
                return decision
            why = refinement_fails(rule, ctx)
            if why is None:
                return decision
            # Name the first rule whose request conditions hold: a rule written for
            # other requests (e.g. only those asking for history) is not the one missed.
            off_topic = any(condition_fails(c, ctx.request) for c in rule.conditions)
            if unmet is None or (unmet_off_topic and not off_topic):
                unmet, unmet_off_topic = (rule, why), off_topic
        if unmet is None:
            return self._deny_none
        # Only rules written for this very consumer are named, so a refusal never
        # reveals another agency's agreements.
        return Decision(False, None, self.version, reason=f"{NO_RULE}: rule {unmet[0].id} "
                        f"does not apply: {unmet[1]}", unmet_rule=unmet[0].id)

    def explain(self, ctx: RequestContext, nearest: int = 3) -> Explanation:
        """The decision and the rule behind it; for a default deny, why the nearest rules
        missed; for a deny by a rule, which allows it beats."""
        decision = self.evaluate(ctx)
        rule = next((r for r in self.rules if r.id == decision.rule_id), None)
        if decision.allowed:
            return Explanation(decision, rule)
        if rule is not None:
            return Explanation(decision, rule, overrides=tuple(
                r for r in self.rules if r.effect == "allow" and not mismatch(r, ctx)))
        scored = []
        # A service name has a "/", an event type never: near misses of the same kind only.
        kind = "request" if "/" in ctx.service else "subscription"
        for r in self.rules:
            if r is rule or r.kind != kind:
                continue
            why = mismatch(r, ctx)
            if why:
                # The unmet rule (written for this very request) is the nearest of all.
                scored.append((r.id != decision.unmet_rule, len(why), r.order, r, tuple(why)))
        scored.sort(key=lambda t: t[:3])
        return Explanation(decision, rule, tuple((r, why) for *_, r, why in scored[:nearest]))

    def decisions(self) -> dict[Key, tuple[str, ...]]:
        """Every indexed key and the rules that decide it, in evaluation order, in words.

        Keys absent here are denied by default. `g2g policy diff` compares these.
        """
        return {key: tuple(_outcome(r) for r in (*cands.denies, *(r for r, _ in cands.allows)))
                for key, cands in self.index.items()}


def _outcome(rule: Rule) -> str:
    text = f"{rule.effect} by {rule.id}"
    conditions = describe_refinements(rule)
    if conditions:
        text += " if " + "; ".join(conditions)
    if rule.effect == "allow":
        text += (" (all fields)" if rule.mask_mode == "all" else
                 f" ({rule.mask_mode} {', '.join(rule.mask_paths)})")
    return text


def resolve_mask(rule: Rule, response: Descriptor) -> tuple[str, ...]:
    """The rule's mask for one service as an allow-list of response field paths."""
    if rule.mask_mode == "all":
        return fieldmask.top_level_paths(response)
    if rule.mask_mode == "allow":
        return tuple(sorted(set(rule.mask_paths)))
    redact = {tuple(p.split(".")) for p in rule.mask_paths}
    out: list[str] = []

    def walk(descriptor: Descriptor, prefix: tuple[str, ...]) -> None:
        for fd in descriptor.fields:
            path = (*prefix, fd.name)
            if path in redact:
                continue
            sub = fieldmask.submessage_type(fd)
            if sub is not None and any(r[:len(path)] == path for r in redact):
                walk(sub, path)
            else:
                out.append(".".join(path))

    walk(response, ())
    return tuple(out)


def version_of(sources: Mapping[str, bytes]) -> str:
    """Content hash of a policy set: same files, same version, on any machine."""
    h = hashlib.sha256()
    for name in sorted(sources):
        data = sources[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def _located(rule: Rule, message: str, field_name: str = "") -> ConfigError:
    return ConfigError(message, file=rule.where.file, line=rule.where.line,
                       column=rule.where.column, field=field_name or f"rule {rule.id}")


def build(rules: list[Rule], sources: Mapping[str, bytes], catalog: Catalog) -> PolicySet:
    """Index rules by key and refuse shadowed rules and conflicting masks."""
    version = version_of(sources)
    denies: dict[Key, list[Rule]] = {}
    allows: dict[Key, list[tuple[Rule, Decision]]] = {}
    for rule in rules:
        for service in rule.services:
            mask = resolve_mask(rule, _disclosed(rule, service, catalog))
            decision = Decision(True, rule.id, version, mask, rule.description, rule.limits)
            for consumer in rule.consumers:
                for purpose in rule.purposes:
                    key = (consumer, rule.provider, service, purpose)
                    if rule.effect == "deny":
                        denies.setdefault(key, []).append(rule)
                    else:
                        allows.setdefault(key, []).append((rule, decision))
    for key, entries in allows.items():
        first_rule, first = entries[0]
        for rule, decision in entries[1:]:
            if decision.field_mask != first.field_mask:
                raise _located(rule, f"overlaps rule {first_rule.id!r} ({first_rule.where}) for "
                               f"{key[0]} / {key[2]} / {key[3]} with a different mask; "
                               "merge them or make their consumers/purposes disjoint")
    for rule in rules:
        if rule.effect == "allow":
            _check_reachable(rule, denies)
    index = {key: Candidates(tuple(denies.get(key, ())), tuple(allows.get(key, ())))
             for key in denies.keys() | allows.keys()}
    return PolicySet(version, tuple(rules), MappingProxyType(index),
                     MappingProxyType(dict(sources)), Decision(False, None, version, (), NO_RULE),
                     _subscribers(rules))


def _subscribers(rules: list[Rule]) -> Mapping[tuple[str, str, str], tuple[str, ...]]:
    """(publisher, event type, purpose) -> every agency a subscription rule names for it."""
    named: dict[tuple[str, str, str], list[str]] = {}
    for rule in rules:
        if rule.kind != "subscription":
            continue
        for event_type in rule.services:
            for purpose in rule.purposes:
                names = named.setdefault((rule.provider, event_type, purpose), [])
                names.extend(c for c in rule.consumers if c not in names)
    return MappingProxyType({k: tuple(v) for k, v in named.items()})


def _disclosed(rule: Rule, name: str, catalog: Catalog) -> Descriptor:
    """What a rule's mask selects from: a service's response, or an event's payload."""
    if rule.kind == "subscription":
        return catalog.events[name].descriptor
    spec = catalog.get(name)
    assert spec is not None
    return spec.response_descriptor


def _check_reachable(rule: Rule, denies: Mapping[Key, list[Rule]]) -> None:
    blockers: set[str] = set()
    for service in rule.services:
        for consumer in rule.consumers:
            for purpose in rule.purposes:
                found = [d.id for d in denies.get((consumer, rule.provider, service, purpose), ())
                         if d.unconditional]
                if not found:
                    return
                blockers.add(found[0])
    raise _located(rule, f"unreachable: every request it allows is denied by "
                   f"{', '.join(sorted(blockers))}")


def compile_sources(sources: Mapping[str, bytes], registry: Registry, catalog: Catalog,
                    base: str = "") -> PolicySet:
    """Compile named YAML texts (name -> bytes) into a PolicySet."""
    files: list[ParsedFile] = []
    if not sources:
        raise ConfigError("no policy files (*.yaml, *.yml): refusing to deny everything "
                          "silently", file=base.rstrip("/"))
    for name in sorted(sources):
        text = yamlsrc.decode(sources[name], base + name)
        files.append(parse_file(yamlsrc.parse(text, base + name), base + name))
    rules = [rule for _, rule in iter_rules(files, registry, catalog)]
    return build(rules, sources, catalog)


def read_sources(directory: Path) -> dict[str, bytes]:
    """Every *.yaml/*.yml file under `directory`, by relative path, size-checked."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError("policy directory does not exist", file=str(directory))
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file() or \
                any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        out[path.relative_to(directory).as_posix()] = yamlsrc.read_bytes(path)
    return out


def load_policy_set(directory: Path, registry: Registry, catalog: Catalog) -> PolicySet:
    """Read, validate and compile every policy file under `directory`."""
    directory = Path(directory)
    return compile_sources(read_sources(directory), registry, catalog, base=f"{directory}/")
