"""Policy decision micro-benchmark: p50/p99 of PolicySet.evaluate at 10, 1,000, 10,000 rules.

Prints a raw baseline in the same run (a dict lookup plus a regex search, the
irreducible work of one indexed decision) next to each figure.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from g2g_sdk import pki  # noqa: E402
from g2g_sdk.catalog import Catalog  # noqa: E402
from g2g_sdk.registry import load_registry  # noqa: E402

from broker.policy import RequestContext, compile_sources  # noqa: E402

SCREEN = "g2g.immigration.v1.Watchlist/Screen"
CALLS = 100_000


def policy_text(n: int, consumers: list[str]) -> str:
    lines = ["rules:"]
    for i in range(n):
        lines += [f"  - id: rule-{i}", f"    description: generated rule {i}",
                  "    agreement: benchmark", "    effect: allow",
                  "    provider: ID/GOV/IMIGRASI", f"    service: {SCREEN}",
                  f"    consumers: [{consumers[i % len(consumers)]}]",
                  f"    purposes: [purpose_{i}]", '    legal_basis: "UU 6/2011( .+)?"']
    return "\n".join(lines) + "\n"


def percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return (samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000)


def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pki.init_pki(REPO / "config/agencies.yaml", Path(tmp))
        registry = load_registry(REPO / "config/agencies.yaml", Path(tmp))
    catalog = Catalog.from_registry(registry)
    consumers = sorted(a for a in registry.agencies if a != "ID/GOV/IMIGRASI")
    rng = random.Random(7)
    results = []
    print(f"{'rules':>7} {'load s':>8} {'p50 µs':>8} {'p99 µs':>8} "
          f"{'baseline p50 µs':>16} {'baseline p99 µs':>16}")
    for n in (10, 1_000, 10_000):
        # Several files: each stays under the 1 MiB config-file limit.
        text = policy_text(n, consumers)
        chunks = text.split("\n  - id: ")
        per = 1000
        sources = {}
        for f in range(0, len(chunks) - 1, per):
            body = "\n  - id: ".join(chunks[1 + f:1 + f + per])
            sources[f"gen-{f:06d}.yaml"] = ("rules:\n  - id: " + body + "\n").encode()
        t0 = time.perf_counter()
        policy = compile_sources(sources, registry, catalog)
        load = time.perf_counter() - t0
        now = datetime.now(UTC)
        contexts = []
        for _ in range(1000):
            i = rng.randrange(n)
            contexts.append(RequestContext(consumers[i % len(consumers)], "ID/GOV/IMIGRASI",
                                           SCREEN, f"purpose_{i}", "UU 6/2011 Pasal 91",
                                           None, now))
        samples = []
        for k in range(CALLS):
            c = contexts[k % 1000]
            t = time.perf_counter_ns()
            d = policy.evaluate(c)
            samples.append(time.perf_counter_ns() - t)
        assert d.allowed
        index = {(c.consumer, c.provider, c.service, c.purpose): re.compile("UU 6/2011( .+)?")
                 for c in contexts}
        base = []
        for k in range(CALLS):
            c = contexts[k % 1000]
            t = time.perf_counter_ns()
            index[(c.consumer, c.provider, c.service, c.purpose)].fullmatch(c.legal_basis)
            base.append(time.perf_counter_ns() - t)
        p50, p99 = percentiles(samples)
        b50, b99 = percentiles(base)
        print(f"{n:>7} {load:>8.2f} {p50:>8.2f} {p99:>8.2f} {b50:>16.2f} {b99:>16.2f}")
        results.append({"rules": n, "load_seconds": round(load, 3), "p50_us": p50,
                        "p99_us": p99, "baseline_p50_us": b50, "baseline_p99_us": b99,
                        "mean_us": round(statistics.mean(samples) / 1000, 3)})
    out = REPO / "bench" / "results" / "policy.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"target: p99 < 50 µs at 10,000 rules; written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
