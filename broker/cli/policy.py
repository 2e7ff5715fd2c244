"""`g2g policy check|explain|test|diff`: know what a policy change does before it goes live."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.protocol.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("policy", help="check, explain, test and diff sharing policies")
    parser.add_argument("--registry", type=Path, default=Path("config/agencies.yaml"))
    parser.add_argument("--pki-dir", type=Path, default=Path("var/pki"))
    sub = parser.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="validate a policy directory and summarise it")
    check.add_argument("path", nargs="?", type=Path, default=Path("config/policies"))
    check.set_defaults(handler=_check)
    explain = sub.add_parser("explain", help="the decision for one request, and why")
    explain.add_argument("--policies", type=Path, default=Path("config/policies"))
    explain.add_argument("--consumer", required=True)
    explain.add_argument("--provider", help="default: the service's only provider")
    explain.add_argument("--service", required=True)
    explain.add_argument("--purpose", required=True)
    explain.add_argument("--legal-basis", default="")
    explain.add_argument("--json", dest="request", help="request payload as protobuf JSON")
    explain.add_argument("--at", help="evaluate at this ISO time (default now)")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(handler=_explain)
    test = sub.add_parser("test", help="run a YAML file of decision test cases")
    test.add_argument("files", nargs="+", type=Path)
    test.add_argument("--policies", type=Path, default=Path("config/policies"))
    test.set_defaults(handler=_test)
    diff = sub.add_parser("diff", help="decisions that change between two policy directories")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.set_defaults(handler=_diff)


def _world(args: argparse.Namespace) -> tuple[Any, Any]:
    from broker.protocol.catalog import Catalog
    from broker.protocol.registry import load_registry

    registry = load_registry(args.registry, args.pki_dir, require_keys=False)
    return registry, Catalog.from_registry(registry)


def _load(path: Path, args: argparse.Namespace) -> Any:
    from broker.policy import load_policy_set

    registry, catalog = _world(args)
    return load_policy_set(path, registry, catalog)


def _check(args: argparse.Namespace) -> int:
    policy = _load(args.path, args)
    effects = Counter(r.effect for r in policy.rules)
    consumers = {c for r in policy.rules for c in r.consumers}
    services = {(r.provider, s) for r in policy.rules for s in r.services}
    print(f"OK {args.path}: version {policy.version}, {len(policy.rules)} rules "
          f"({effects['allow']} allow, {effects['deny']} deny), {len(policy.sources)} files")
    print(f"  consumers covered: {len(consumers)}: {', '.join(sorted(consumers))}")
    print(f"  services covered: {len(services)}")
    for provider, service in sorted(services):
        print(f"    {provider}  {service}")
    return 0


def _context(fields: dict[str, Any], catalog: Any, registry: Any) -> Any:
    from google.protobuf import json_format

    from broker.policy import RequestContext
    from broker.protocol.catalog import message_class

    service = fields["service"]
    spec = catalog.get(service)
    if spec is None:
        raise ConfigError(f"unknown service {service!r}")
    provider = fields.get("provider") or (spec.providers[0] if len(spec.providers) == 1
                                          else None)
    if provider is None:
        raise ConfigError(f"{service} has several providers; give one "
                          f"({', '.join(spec.providers)})")
    request = None
    if fields.get("request") is not None:
        request = message_class(spec.request_descriptor)()
        raw = fields["request"]
        json_format.ParseDict(json.loads(raw) if isinstance(raw, str) else raw, request)
    at = fields.get("at")
    now = (datetime.fromisoformat(str(at).replace("Z", "+00:00")) if at
           else datetime.now(UTC))
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return RequestContext(consumer=fields["consumer"], provider=provider, service=service,
                          purpose=fields["purpose"], legal_basis=fields.get("legal_basis") or "",
                          request=request, now=now)


def _explain(args: argparse.Namespace) -> int:
    registry, catalog = _world(args)
    from broker.policy import load_policy_set

    policy = load_policy_set(args.policies, registry, catalog)
    ctx = _context({"consumer": args.consumer, "provider": args.provider,
                    "service": args.service, "purpose": args.purpose,
                    "legal_basis": args.legal_basis, "request": args.request, "at": args.at},
                   catalog, registry)
    ex = policy.explain(ctx)
    d = ex.decision
    out: dict[str, Any] = {"decision": "allow" if d.allowed else "deny", "rule_id": d.rule_id,
           "policy_version": d.policy_version, "field_mask": list(d.field_mask),
           "reason": d.reason,
           "rule": {"file": str(ex.rule.where), "agreement": ex.rule.agreement,
                    "description": ex.rule.description} if ex.rule else None,
           "rate_limits": [f"{lim.amount} {lim.name}" for lim in d.limits],
           "near_misses": [{"rule_id": r.id, "file": str(r.where), "why_not": list(why)}
                           for r, why in ex.near_misses]}
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['decision'].upper()} by {d.rule_id or 'no rule (default deny)'} "
              f"[policy {d.policy_version}]")
        if ex.rule:
            print(f"  rule: {ex.rule.where}  {ex.rule.description}")
            print(f"  implements: {ex.rule.agreement}")
        if d.allowed:
            print(f"  field mask: {', '.join(d.field_mask)}")
            if out["rate_limits"]:
                print(f"  rate limits: {', '.join(out['rate_limits'])}")
        for miss in out["near_misses"]:
            print(f"  nearest rule {miss['rule_id']} ({miss['file']}) did not match: "
                  f"{'; '.join(miss['why_not'])}")
    return 0


def _test(args: argparse.Namespace) -> int:
    from broker.policy import load_policy_set
    from broker.protocol import yamlsrc

    registry, catalog = _world(args)
    policy = load_policy_set(args.policies, registry, catalog)
    failures = total = 0
    for path in args.files:
        root = yamlsrc.load(path)
        if root is None:
            raise ConfigError("empty test file", file=str(path))
        top = root.mapping(allowed={"cases"}, required={"cases"})
        for case in top["cases"].items():
            f = case.mapping(allowed={"name", "consumer", "provider", "service", "purpose",
                                      "legal_basis", "request", "at", "expect"},
                             required={"name", "consumer", "service", "purpose", "expect"})
            fields: dict[str, Any] = {k: f[k].scalar() for k in f if k not in ("request",
                                                                              "expect")}
            if "request" in f:
                fields["request"] = yaml_to_obj(f["request"])
            exp = f["expect"].mapping(allowed={"decision", "rule", "mask_includes",
                                               "mask_excludes", "mask"},
                                      required={"decision"})
            decision = policy.evaluate(_context(fields, catalog, registry))
            problems = []
            want = exp["decision"].str()
            got = "allow" if decision.allowed else "deny"
            if want != got:
                problems.append(f"decision {got}, expected {want}")
            if "rule" in exp and (decision.rule_id or "none") != exp["rule"].str():
                problems.append(f"rule {decision.rule_id or 'none'}, expected {exp['rule'].str()}")
            problems += _mask_problems(set(decision.field_mask), exp)
            total += 1
            name = f["name"].str()
            if problems:
                failures += 1
                print(f"FAIL {path}:{case.line} {name}: {'; '.join(problems)}")
            else:
                print(f"ok   {name}")
    print(f"{total - failures}/{total} cases passed against policy {policy.version}")
    return 1 if failures else 0


def _mask_problems(mask: set[str], exp: dict[str, Any]) -> list[str]:
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


def yaml_to_obj(node: Any) -> Any:
    import yaml

    return yaml.safe_load(yaml.serialize(node._node))


def _diff(args: argparse.Namespace) -> int:
    old, new = _load(args.old, args), _load(args.new, args)
    before, after = old.decisions(), new.decisions()
    changed = 0
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key, "deny:default"), after.get(key, "deny:default")
        if a != b:
            changed += 1
            consumer, provider, service, purpose = key
            print(f"{consumer} -> {provider} {service} [{purpose}]\n    - {a}\n    + {b}")
    print(f"{changed} decision(s) change between {old.version} and {new.version}",
          file=sys.stderr)
    return 0
