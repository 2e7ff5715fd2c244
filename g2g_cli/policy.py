"""`g2g policy check|explain|test|diff`: know what a policy change does before it goes live.

Reads policy and test files only; never contacts the broker. Errors name file, line and field.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from g2g_sdk.errors import ConfigError

from g2g_cli import deployment

if TYPE_CHECKING:
    from g2g_sdk import yamlsrc
    from g2g_sdk.catalog import Catalog
    from g2g_sdk.registry import Registry

    from broker.policy import PolicySet, RequestContext

MAX_REQUEST_BYTES = 1 << 20
CASE_FIELDS = {"name", "consumer", "provider", "service", "purpose", "legal_basis", "request",
               "at", "expect"}
EXPECT_FIELDS = {"decision", "rule", "unmet_rule", "mask_includes", "mask_excludes", "mask"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("policy", help="check, explain, test and diff sharing policies")
    deployment.add_world_options(parser)
    sub = parser.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="validate a policy directory and summarise it")
    check.add_argument("path", nargs="?", type=Path,
                       help="a policy directory (default: the deployment's `policies`)")
    check.set_defaults(handler=_check)
    explain = sub.add_parser("explain", help="the decision for one request, and why")
    explain.add_argument("--policies", type=Path, metavar="DIR",
                         help="policy directory (default: the deployment's `policies`)")
    explain.add_argument("--consumer", required=True, help="the asking agency id")
    explain.add_argument("--provider", help="default: the service's only provider")
    explain.add_argument("--service", required=True, help="pkg.Service/Method")
    explain.add_argument("--purpose", required=True, help="the declared purpose")
    explain.add_argument("--legal-basis", default="", help="the declared legal basis")
    explain.add_argument("--json", dest="request", metavar="REQUEST",
                         help="request payload as protobuf JSON: a file, or inline '{...}'")
    explain.add_argument("--at", help="evaluate at this ISO time (default now)")
    explain.add_argument("--format", choices=("text", "json"), default="text",
                         help="text for people, json for tools (default text)")
    explain.set_defaults(handler=_explain)
    test = sub.add_parser("test", help="run YAML files of decision test cases")
    test.add_argument("files", nargs="+", type=Path, help="YAML files of decision test cases")
    test.add_argument("--policies", type=Path, metavar="DIR",
                      help="policy directory (default: the deployment's `policies`)")
    test.add_argument("--require-coverage", action="store_true",
                      help="fail unless every rule decides at least one case")
    test.set_defaults(handler=_test)
    diff = sub.add_parser("diff", help="decisions that change between two policy directories")
    diff.add_argument("old", type=Path, help="the policy directory in force")
    diff.add_argument("new", type=Path, help="the proposed policy directory")
    diff.add_argument("--exit-code", action="store_true",
                      help="exit 1 when any decision changes, 0 when none does (for CI "
                           "pipelines, like `git diff --exit-code`)")
    diff.set_defaults(handler=_diff)
    show = sub.add_parser("show", help="print the exact policy set stored under a past "
                                       "version (the policy_version of audit records)")
    show.add_argument("version", help="a policy version, e.g. from `g2g audit query`")
    show.add_argument("--out", type=Path, metavar="DIR",
                      help="write the files into DIR (new or empty) instead of printing, to "
                           "re-run `g2g policy explain --policies DIR`")
    show.set_defaults(handler=_show)


def _world(args: argparse.Namespace) -> tuple[Registry, Catalog]:
    from g2g_sdk.catalog import Catalog
    from g2g_sdk.registry import load_registry

    where = deployment.world(args)
    registry = load_registry(where.registry, where.pki_dir, require_keys=False)
    return registry, Catalog.from_registry(registry)


def _load(path: Path, registry: Registry, catalog: Catalog) -> PolicySet:
    from broker.policy import load_policy_set

    return load_policy_set(path, registry, catalog)


def _check(args: argparse.Namespace) -> int:
    args.path = args.path or deployment.load(args.config).policies
    policy = _load(args.path, *_world(args))
    effects = Counter(r.effect for r in policy.rules)
    consumers = {c for r in policy.rules for c in r.consumers}
    services = {(r.provider, s) for r in policy.rules for s in r.services
                if r.kind == "request"}
    event_types = {(r.provider, s) for r in policy.rules for s in r.services
                   if r.kind == "subscription"}
    print(f"OK {args.path}: version {policy.version}, {len(policy.rules)} rules "
          f"({effects['allow']} allow, {effects['deny']} deny), {len(policy.sources)} files")
    print(f"  consumers covered: {len(consumers)}: {', '.join(sorted(consumers))}")
    print(f"  services covered: {len(services)}")
    for provider, service in sorted(services):
        print(f"    {provider}  {service}")
    if event_types:
        print(f"  event types covered (subscriptions): {len(event_types)}")
        for publisher, event_type in sorted(event_types):
            print(f"    {publisher}  {event_type}")
    # Not errors (an expired agreement is kept to explain past decisions), but worth a look.
    today = datetime.now(UTC).date()
    for rule in policy.rules:
        s = rule.schedule
        if s.valid_until is not None and s.valid_until < today:
            print(f"  note: {rule.id} ({rule.where}) expired on {s.valid_until.isoformat()}")
        elif s.valid_from is not None and s.valid_from > today:
            print(f"  note: {rule.id} ({rule.where}) is not valid before "
                  f"{s.valid_from.isoformat()}")
    return 0


def _request_json(value: str) -> Any:
    """`--json` takes inline JSON or a file name; either way a JSON object."""
    from g2g_sdk import yamlsrc

    if value.lstrip().startswith("{"):
        text, where = value, "--json"
    else:
        data = yamlsrc.read_bytes(Path(value), max_bytes=MAX_REQUEST_BYTES)
        text, where = yamlsrc.decode(data, value), value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", file=where, line=exc.lineno,
                          column=exc.colno) from None


def _context(fields: dict[str, Any], catalog: Catalog, registry: Registry) -> RequestContext:
    """A RequestContext from explain arguments or a test case; ConfigError on bad input."""
    from g2g_sdk.catalog import message_class
    from google.protobuf import json_format

    from broker.policy import RequestContext

    service = fields["service"]
    spec = catalog.get(service)
    # An event type in place of a service asks about a subscription: the consumer
    # is the subscriber, the provider the publisher and the request the event.
    event = catalog.event(service)
    if spec is None and event is None:
        what = "service" if "/" in service else "event type"
        raise ConfigError(f"unknown {what} {service!r}", field="service")
    consumer = fields["consumer"]
    if registry.agency(consumer) is None:
        raise ConfigError(f"unknown agency {consumer!r}", field="consumer")
    providers = spec.providers if spec is not None else tuple(event.offers) if event else ()
    provider = fields.get("provider") or (providers[0] if len(providers) == 1 else None)
    if provider is None:
        raise ConfigError(f"{service} has several providers; give one "
                          f"({', '.join(providers)})", field="provider")
    if provider not in providers:
        raise ConfigError(f"{provider} does not offer {service}", field="provider")
    request = None
    if fields.get("request") is not None:
        descriptor = spec.request_descriptor if spec is not None else event.descriptor  # type: ignore[union-attr]
        request = message_class(descriptor)()
        try:
            json_format.ParseDict(fields["request"], request)
        except json_format.ParseError as exc:
            raise ConfigError(f"not a {descriptor.full_name}: {exc}",
                              field="request") from None
    at = fields.get("at")
    try:
        now = datetime.fromisoformat(str(at)) if at else datetime.now(UTC)
    except ValueError:
        raise ConfigError(f"expected an ISO time like 2026-01-31T08:00Z, got {at!r}",
                          field="at") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return RequestContext(consumer=consumer, provider=provider, service=service,
                          purpose=fields["purpose"], legal_basis=fields.get("legal_basis") or "",
                          request=request, now=now)


def _explain(args: argparse.Namespace) -> int:
    from broker.policy.evaluate import describe_refinements

    registry, catalog = _world(args)
    policy = _load(args.policies or deployment.load(args.config).policies, registry, catalog)
    ctx = _context({"consumer": args.consumer, "provider": args.provider,
                    "service": args.service, "purpose": args.purpose,
                    "legal_basis": args.legal_basis, "at": args.at,
                    "request": _request_json(args.request) if args.request else None},
                   catalog, registry)
    ex = policy.explain(ctx)
    d = ex.decision
    out: dict[str, Any] = {
        "decision": "allow" if d.allowed else "deny", "rule_id": d.rule_id,
        "policy_version": d.policy_version, "at": ctx.now.isoformat(),
        "reason": d.reason, "unmet_rule": d.unmet_rule or None,
        "field_mask": list(d.field_mask),
        "rule": {"file": str(ex.rule.where), "agreement": ex.rule.agreement,
                 "description": ex.rule.description,
                 "requires": describe_refinements(ex.rule)} if ex.rule else None,
        "rate_limits": [f"{lim.amount} {lim.name}" for lim in d.limits],
        "overrides": [{"rule_id": r.id, "file": str(r.where)} for r in ex.overrides],
        "near_misses": [{"rule_id": r.id, "file": str(r.where), "why_not": list(why)}
                        for r, why in ex.near_misses]}
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['decision'].upper()} by {d.rule_id or 'no rule (default deny)'} "
          f"[policy {d.policy_version}, at {out['at']}]")
    if ex.rule:
        print(f"  rule: {ex.rule.where}  {ex.rule.description}")
        print(f"  implements: {ex.rule.agreement}")
        if out["rule"]["requires"]:
            print(f"  requires: {'; '.join(out['rule']['requires'])}")
    elif d.reason:
        print(f"  reason: {d.reason}")
    if d.allowed:
        print(f"  field mask: {', '.join(d.field_mask)}")
        if out["rate_limits"]:
            print(f"  rate limits: {', '.join(out['rate_limits'])}")
    for rule in out["overrides"]:
        print(f"  overrides allow rule {rule['rule_id']} ({rule['file']}): a deny beats any allow")
    for miss in out["near_misses"]:
        print(f"  nearest rule {miss['rule_id']} ({miss['file']}) did not match: "
              f"{'; '.join(miss['why_not'])}")
    return 0


def _test(args: argparse.Namespace) -> int:
    from g2g_sdk import yamlsrc

    registry, catalog = _world(args)
    policy = _load(args.policies or deployment.load(args.config).policies, registry, catalog)
    failures = total = 0
    decided: set[str] = set()
    for path in args.files:
        root = yamlsrc.load(path)
        if root is None:
            raise ConfigError("empty test file (expected 'cases:')", file=str(path))
        top = root.mapping(allowed={"cases"}, required={"cases"})
        for case in top["cases"].items():
            f = case.mapping(allowed=CASE_FIELDS, required={"name", "consumer", "service",
                                                            "purpose", "expect"})
            name = f["name"].str()
            problems = _run_case(policy, f, catalog, registry, decided)
            total += 1
            if problems:
                failures += 1
                print(f"FAIL {case.file}:{case.line} {name}: {'; '.join(problems)}")
            else:
                print(f"ok   {name}")
    print(f"{total - failures}/{total} cases passed against policy {policy.version}")
    uncovered = [r.id for r in policy.rules if r.id not in decided]
    print(f"rules covered: {len(policy.rules) - len(uncovered)}/{len(policy.rules)}"
          + (f"; never decided a case: {', '.join(uncovered)}" if uncovered else ""))
    return 1 if failures or (args.require_coverage and uncovered) else 0


def _run_case(policy: PolicySet, f: dict[str, yamlsrc.Node], catalog: Catalog,
              registry: Registry, decided: set[str]) -> list[str]:
    """One test case's mismatches (empty: it passed); records the rules that decided."""
    fields: dict[str, Any] = {k: f[k].str() for k in f if k not in ("request", "expect", "at")}
    if "at" in f:
        at = f["at"].scalar()
        fields["at"] = at.isoformat() if isinstance(at, datetime) else at
    if "request" in f:
        fields["request"] = f["request"].plain()
    exp = f["expect"].mapping(allowed=EXPECT_FIELDS, required={"decision"})
    want = exp["decision"].str()
    if want not in ("allow", "deny"):
        raise exp["decision"].error("expected allow or deny")
    try:
        ctx = _context(fields, catalog, registry)
    except ConfigError as exc:
        node = f.get(exc.field, f["name"])
        raise node.error(exc.message.removeprefix(f"{exc.field}: ")) from None
    decision = policy.evaluate(ctx)
    for rule_id in (decision.rule_id, decision.unmet_rule):
        if rule_id:
            decided.add(rule_id)
    problems = []
    got = "allow" if decision.allowed else "deny"
    if want != got:
        problems.append(f"decision {got}, expected {want}")
    if "rule" in exp and (decision.rule_id or "none") != exp["rule"].str():
        problems.append(f"rule {decision.rule_id or 'none'}, expected {exp['rule'].str()}")
    if "unmet_rule" in exp and (decision.unmet_rule or "none") != exp["unmet_rule"].str():
        problems.append(f"unmet rule {decision.unmet_rule or 'none'}, "
                        f"expected {exp['unmet_rule'].str()}")
    return problems + _mask_problems(set(decision.field_mask), exp)


def _mask_problems(mask: set[str], exp: dict[str, yamlsrc.Node]) -> list[str]:
    problems = []
    if "mask" in exp and mask != set(exp["mask"].str_list()):
        problems.append(f"mask {sorted(mask)}")
    for p in exp["mask_includes"].str_list() if "mask_includes" in exp else ():
        if p not in mask:
            problems.append(f"mask lacks {p}")
    for p in exp["mask_excludes"].str_list() if "mask_excludes" in exp else ():
        if any(m == p or m.startswith(p + ".") or p.startswith(m + ".") for m in mask):
            problems.append(f"mask exposes {p}")
    return problems


def _diff(args: argparse.Namespace) -> int:
    registry, catalog = _world(args)
    old, new = _load(args.old, registry, catalog), _load(args.new, registry, catalog)
    before, after = old.decisions(), new.decisions()
    default = ("deny by default (no rule)",)
    changed = 0
    print(f"--- {args.old} (policy {old.version})")
    print(f"+++ {args.new} (policy {new.version})")
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key, default), after.get(key, default)
        if a == b:
            continue
        changed += 1
        consumer, provider, service, purpose = key
        print(f"{consumer} -> {provider} {service} [{purpose}]")
        for line in a:
            print(f"  - {line}")
        for line in b:
            print(f"  + {line}")
    print(f"{changed} decision(s) change")
    return 1 if args.exit_code and changed else 0


def _show(args: argparse.Namespace) -> int:
    """The sources the broker kept for `version` beside its audit log, byte for byte."""
    from g2g_cli.audit import open_log

    args.auditor = None  # the policy sets are kept in the local store only
    with open_log(args) as log:
        sources = log.reader.policy_sources(args.version)
    if sources is None:
        raise ConfigError(f"no policy set is stored under version {args.version!r} "
                          "(versions appear as policy_version in `g2g audit query --format "
                          "jsonl`)")
    if args.out is None:
        for name, text in sorted(sources.items()):
            print(f"# ---- {name} (policy {args.version}) ----")
            print(text, end="" if text.endswith("\n") else "\n")
        return 0
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise ConfigError(f"{args.out} exists and is not an empty directory")
    for name in sources:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ConfigError(f"stored file name {name!r} would leave {args.out}")
    for name, text in sources.items():
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(sources)} file(s) of policy {args.version} to {args.out}")
    return 0
