"""Screening quality and speed, run by `make eval-screening`.

A fixed-seed evaluation set: queries that are variants of listed persons
(transliteration, old spelling, reordering, dropped middle name, typos,
year-only or missing date of birth) and decoys (other synthetic persons, with
their own dates of birth). Recall = variant queries whose listed person is
among the hits; precision = correct hits / all hits returned for variants and
decoys. Latency is one `screen` call, p50/p99, at each list size.
"""

from __future__ import annotations

import argparse
import random
import time

from agency_adapters.immigration import screening, synthetic
from agency_adapters.immigration.records import WatchlistRecord

SEED = 4242


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # transpose two letters


def variant(rng: random.Random, record: WatchlistRecord) -> screening.NameQuery:
    words = record.full_name.split()
    kind = rng.randrange(6)
    if kind == 0:
        words = [synthetic.VARIANTS.get(w, w) for w in words]
    elif kind == 1 and len(words) > 1:
        words = words[1:] + words[:1]
    elif kind == 2 and len(words) > 2:
        words = [words[0], words[-1]]
    elif kind == 3:
        j = max(range(len(words)), key=lambda k: len(words[k]))
        words[j] = _typo(rng, words[j])
    elif kind == 4:
        words = [w.upper() for w in words]
    dob = record.date_of_birth
    dob = rng.choice((dob, dob[:4], "")) if kind != 5 else dob
    return screening.NameQuery(" ".join(words), dob)


def evaluate(size: int, queries: int) -> dict[str, float]:
    rng = random.Random(SEED)
    listed = synthetic.generate(size)
    started = time.perf_counter()
    index = screening.ScreeningIndex.build(listed)
    build = time.perf_counter() - started
    targets = rng.sample(listed, queries)
    decoys = synthetic.generate(queries, seed=SEED + 1)
    found = correct = returned = 0
    latencies: list[float] = []
    for record in targets:
        q = variant(rng, record)
        t = time.perf_counter()
        hits = index.screen(q)
        latencies.append(time.perf_counter() - t)
        ids = [h.entry_id for h in hits]
        found += record.entry_id in ids
        correct += record.entry_id in ids
        # Other hits are false unless they are exact namesakes born the same day.
        returned += len([h for h in hits if h.entry_id == record.entry_id or not (
            h.record.full_name == record.full_name
            and h.record.date_of_birth == record.date_of_birth)])
    for decoy in decoys:
        q = screening.NameQuery(decoy.full_name, decoy.date_of_birth)
        t = time.perf_counter()
        hits = index.screen(q)
        latencies.append(time.perf_counter() - t)
        returned += len([h for h in hits if not (h.record.full_name == decoy.full_name and
                                                 h.record.date_of_birth == decoy.date_of_birth)])
    latencies.sort()
    return {"size": size, "build_s": round(build, 2), "recall": found / queries,
            "precision": correct / returned if returned else 1.0,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000", help="comma-separated, e.g. 10000,1000000")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"threshold {screening.DEFAULT_THRESHOLD}; {args.queries} variant + "
          f"{args.queries} decoy queries (seed {SEED})")
    for size in (int(s) for s in args.sizes.split(",")):
        r = evaluate(size, args.queries)
        print(f"listed {size:>9,}: recall {r['recall']:.3f} precision {r['precision']:.3f} "
              f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms (index build {r['build_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
