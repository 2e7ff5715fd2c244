"""The events row of `make bench`: g2g publish → 10 verified deliveries, next to raw JetStream.

One embedded nats-server (file storage) serves both measurements in the same
run. Baseline: per event, 10 JetStream publishes with Nats-Msg-Id (one per
subscriber subject, as the broker fans out) and 10 durable pull consumers
that fetch and ack. g2g: `Publisher.publish` through the broker (signature,
disclosures, policy routing to 10 subscribers, audit records, 10 JetStream
publishes) and 10 `Subscriber`s that verify every delivery and acknowledge it
with a signed, audited receipt. Latency is publish start → delivery in the
subscriber (verified, for g2g). Everything runs in this one process on
loopback, so both rows pay the same client overhead.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUBSCRIBERS = 10


@dataclass(frozen=True)
class EventsRow:
    path: str
    events: int
    subscribers: int
    concurrency: int
    events_per_s: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    # Deliveries handed out again (JetStream's num_delivered > 1), and receipts beyond
    # one per delivery: the cost of deliveries that outlived their ack wait.
    redeliveries: int = 0
    extra_receipts: int = 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def _row(path: str, count: int, concurrency: int, elapsed: float, latencies: list[float],
         errors: int, redeliveries: int, extra_receipts: int) -> EventsRow:
    return EventsRow(path, count, SUBSCRIBERS, concurrency, round(count / elapsed, 1),
                     round(len(latencies) / elapsed, 1), _pct(latencies, 0.5),
                     _pct(latencies, 0.99), errors, redeliveries, extra_receipts)


async def _bounded(count: int, concurrency: int, one: Any) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(run(i) for i in range(count)))


async def raw_jetstream(url: str, count: int, concurrency: int, size: int) -> EventsRow:
    """Publish/consume on JetStream directly: the floor under the events path."""
    import nats
    from nats.js import api

    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = f"BENCH_RAW_{uuid.uuid4().hex[:8]}"
    await js.add_stream(api.StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"],
                                         duplicate_window=120))
    latencies: list[float] = []
    started: dict[int, float] = {}
    redelivered = 0
    done = asyncio.Event()
    expected = count * SUBSCRIBERS
    subs = [await js.pull_subscribe(f"{stream.lower()}.s{i}", durable=f"s{i}", stream=stream)
            for i in range(SUBSCRIBERS)]

    async def consume(sub: Any) -> None:
        nonlocal redelivered
        while not done.is_set():
            try:
                msgs = await sub.fetch(32, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                if msg.metadata.num_delivered > 1:
                    redelivered += 1
                    continue
                latencies.append(time.perf_counter() - started[int(msg.data[:8])])
                await msg.ack()
            if len(latencies) >= expected:
                done.set()

    consumers = [asyncio.ensure_future(consume(s)) for s in subs]
    body = b"x" * max(size - 8, 0)

    async def publish(i: int) -> None:
        started[i] = time.perf_counter()
        await asyncio.gather(*(js.publish(f"{stream.lower()}.s{s}", b"%08d" % i + body,
                                          headers={"Nats-Msg-Id": f"{i}:{s}"})
                               for s in range(SUBSCRIBERS)))

    t0 = time.perf_counter()
    await _bounded(count, concurrency, publish)
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - t0
    for c in consumers:
        c.cancel()
    await js.delete_stream(stream)
    await nc.close()
    return _row("baseline: raw JetStream publish/consume", count, concurrency, elapsed,
                latencies, 0, redelivered, 0)


def _bench_policies(work: Path) -> Path:
    """The shipped policies plus one rule: every agency (10) receives NoticeChanged."""
    import shutil

    from g2g_harness.federation import POLICIES

    out = work / "policies"
    shutil.copytree(POLICIES, out)
    (out / "bench.yaml").write_text(
        "subscriptions:\n  - id: bench-fanout\n    description: bench fan-out\n"
        "    agreement: bench\n    effect: allow\n    publisher: INT/IO/INTERPOL\n"
        "    event: g2g.interpol.v1.NoticeChanged\n    subscribers: ['*']\n"
        "    purposes: [bench]\n", encoding="utf-8")
    return out


async def g2g_events(url: str, work: Path, count: int, concurrency: int) -> EventsRow:
    from g2g_sdk import pki
    from g2g_sdk._gen.g2g.interpol.v1 import events_pb2 as iev
    from g2g_sdk.publisher import Publisher
    from g2g_sdk.subscriber import Subscriber

    from g2g_harness.federation import REGISTRY, start_federation, write_config

    pki_dir = work / "pki"
    pki.init_pki(REGISTRY, pki_dir)
    config = write_config(work, pki_dir=pki_dir, policies=_bench_policies(work), extra=(
        f"events:\n  url: {url}\n  stream: BENCH_G2G\n  subject_prefix: bench.g2g\n"))
    fed = await start_federation(work, pki_dir=pki_dir, config_path=config, adapters=())
    agencies = sorted(fed.registry.agencies)[:SUBSCRIBERS]
    started: dict[str, float] = {}
    latencies: list[float] = []
    errors = 0

    async def consume(agency: str) -> None:
        nonlocal errors
        async with Subscriber(pki.load_identity(pki_dir, agency), fed.registry,
                              broker_endpoint=fed.address) as subscriber:
            received = 0
            async for event in subscriber.events():  # each event id once
                notice = event.payload
                assert isinstance(notice, iev.NoticeChanged)  # the only type published here
                latencies.append(time.perf_counter() - started[notice.notice_id])
                await subscriber.acknowledge(event)
                received += 1
                # Every subscriber gets every event: it leaves after its last receipt,
                # never cancelled in the middle of one (that left receipts half done).
                if received == count:
                    break
            errors += len(subscriber.rejected)

    consumers = [asyncio.ensure_future(consume(a)) for a in agencies]
    async with Publisher(pki.load_identity(pki_dir, "INT/IO/INTERPOL"), fed.registry,
                         broker_endpoint=fed.address) as publisher:

        async def publish(i: int) -> None:
            notice = iev.NoticeChanged(
                notice_id=f"2026/{i:06d}", change=iev.NOTICE_CHANGE_PUBLISHED,
                full_name="Budi Santoso", date_of_birth="1975-01-01", nationality="IDN",
                issuing_country="IDN", charges=["fraud"], valid_until="2031-01-01")
            started[notice.notice_id] = time.perf_counter()
            await publisher.publish(notice, purpose="bench", legal_basis="bench")

        t0 = time.perf_counter()
        try:
            await _bounded(count, concurrency, publish)
            # A subscriber's failure ends the run with its error, not a silent timeout.
            await asyncio.wait_for(asyncio.gather(*consumers), 300)
            elapsed = time.perf_counter() - t0
        finally:
            for c in consumers:
                c.cancel()  # only still running after a failure or the timeout
            await asyncio.gather(*consumers, return_exceptions=True)
    # The broker counts every delivery it hands out by attempt, and every receipt, from
    # its audit records (g2g_event_deliveries_total).
    redelivered = sum(_samples(fed, "g2g_event_deliveries_total", "redelivered"))
    receipts = sum(_samples(fed, "g2g_event_deliveries_total", "acknowledged"))
    await fed.stop()
    return _row("g2g events: signed, routed, audited, verified, receipted", count,
                concurrency, elapsed, latencies, errors, int(redelivered),
                int(receipts) - count * SUBSCRIBERS)


def _samples(fed: Any, name: str, outcome: str) -> list[float]:
    """The values of counter `name` for this outcome, over all its other labels."""
    return [s.value for metric in fed.broker.metrics.registry.collect() for s in metric.samples
            if s.name == name and s.labels.get("outcome") == outcome]


def delivery_size() -> int:
    """Bytes of one stored g2g delivery of the bench event (the baseline's message size):
    the signed event plus a routing statement and its signature."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from g2g_sdk import events
    from g2g_sdk._gen.g2g.interpol.v1 import events_pb2 as iev

    notice = iev.NoticeChanged(notice_id="2026/000001", change=iev.NOTICE_CHANGE_PUBLISHED,
                               full_name="Budi Santoso", date_of_birth="1975-01-01",
                               nationality="IDN", issuing_country="IDN", charges=["fraud"],
                               valid_until="2031-01-01")
    signed = events.build_event(publisher="INT/IO/INTERPOL", payload=notice, purpose="bench",
                                legal_basis="bench", key=Ed25519PrivateKey.generate(),
                                now=datetime.now(UTC))
    return signed.ByteSize() + 300


async def run(quick: bool) -> list[EventsRow]:
    from broker.events.embedded import EmbeddedJetStream

    count, concurrency = (20, 4) if quick else (400, 16)
    with tempfile.TemporaryDirectory(prefix="g2g-bench-events-") as tmp:
        work = Path(tmp)
        server = EmbeddedJetStream(work / "jetstream")
        await server.start()
        try:
            rows = [await raw_jetstream(server.url, count, concurrency, delivery_size()),
                    await g2g_events(server.url, work / "g2g", count, concurrency)]
        finally:
            server.stop()
    return rows


def print_rows(rows: list[EventsRow]) -> None:
    print(f"\nevents, {SUBSCRIBERS} subscribers each (publish → delivery):")
    print(f"{'path':58}  {'conc':>4}  {'events/s':>9}  {'deliv/s':>8}  {'p50 ms':>8}  "
          f"{'p99 ms':>8}  errors  {'redeliv':>7}  {'xtra rcpt':>9}")
    for r in rows:
        print(f"{r.path:58}  {r.concurrency:>4}  {r.events_per_s:>9.1f}  "
              f"{r.deliveries_per_s:>8.1f}  {r.p50_ms:>8.2f}  {r.p99_ms:>8.2f}  {r.errors:>6}  "
              f"{r.redeliveries:>7}  {r.extra_receipts:>9}")
    base, g2g = rows[0], rows[-1]
    if base.events_per_s:
        print(f"g2g events / raw JetStream: {g2g.events_per_s / base.events_per_s:.2f}x "
              f"throughput, p50 +{g2g.p50_ms - base.p50_ms:.2f} ms")



if __name__ == "__main__":
    # `python -m bench.events [--quick]`: only the events rows (the full bench runs them last).
    import sys

    print_rows(asyncio.run(run("--quick" in sys.argv[1:])))
