"""A Subscribe stream's unacknowledged deliveries: how many it holds, and their ack wait.

JetStream's ack wait runs from the moment it hands a message to the broker's
pull. A stream that fetched far ahead (batches of 32, up to 1000 unacknowledged
per consumer) left deliveries queued in the broker, gRPC's buffers and the
subscriber's SDK for longer than the first ack wait (2 s): JetStream handed ~95 %
of them out again to subscribers that were alive and working through the
queue, and the duplicated deliveries and receipts snowballed. A smaller
`max_ack_pending` alone does not help: it caps the queue but still starts the
clock at the fetch, and a consumer-wide cap stalls every stream of the agency.

So each stream keeps two rules (docs/PROTOCOL.md §9.5):

* a **window**: it holds at most `events.delivery_window` unacknowledged
  deliveries and fetches more only as receipts (or expiries) free room, so what
  waits in any queue is bounded;
* the **ack wait runs only while the subscriber is at a delivery**: from when it
  is the oldest one the stream has written (gRPC accepted it) and has not had a
  receipt for. Until then (fetched and not yet written, or written behind
  older unacknowledged ones) the broker tells JetStream the delivery is in
  progress (+WPI, which restarts its ack wait) every third of the shortest ack
  wait. Starting the head, it sends one more, so the head gets its whole ack
  wait from then.

A head not acknowledged within its ack wait leaves the window; JetStream hands it
out again (behind the others) and, after max_deliver attempts, dead-letters it.
A stream that closes stops refreshing: everything it held comes back after its
ack wait. So a subscriber that is gone, or does not acknowledge what it has,
still gets redeliveries; one that is slow but working through its queue does not.

Receipts settle a delivery through `Flows` (this process's streams, by consumer).
A receipt sent to another broker of the cluster is acknowledged in JetStream all
the same; this stream then frees its slot when that delivery's ack wait ends.
Nothing here logs payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass

import nats
import structlog
from g2g_sdk import logs
from nats.aio.msg import Msg

log = structlog.get_logger("g2g.events")


@dataclass
class _Held:
    """One unacknowledged delivery of the stream."""

    msg: Msg
    attempt: int
    refreshed: float  # loop time JetStream's ack wait last (re)started: fetch or +WPI
    written: bool = False  # gRPC accepted it on the stream
    due: float | None = None  # the head's ack wait ends (None: not running)


class Flow:
    """The window and ack-wait keeping of one Subscribe stream on one durable consumer."""

    def __init__(self, consumer: str, window: int, waits: tuple[float, ...]) -> None:
        if window < 1 or not waits or min(waits) <= 0:
            raise ValueError("a window of at least 1 and positive ack waits")
        self.consumer = consumer
        self.window = window
        # The consumer's ack wait for attempt 1, 2, ... (the last repeats), as JetStream
        # applies it: read from the consumer, not from this broker's config.
        self._waits = waits
        self.refresh_every = min(waits) / 3
        self._held: OrderedDict[int, _Held] = OrderedDict()  # by stream sequence
        self._room = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.closed = False

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def free(self) -> int:
        return max(self.window - len(self._held), 0)

    async def room(self) -> int:
        """Wait until the window has room; how many deliveries the stream may fetch."""
        while not self.free and not self.closed:
            self._room.clear()
            await self._room.wait()
        return self.free

    def hold(self, msg: Msg) -> int:
        """Take a fetched delivery into the window; its stream sequence."""
        meta = msg.metadata
        seq = meta.sequence.stream
        # JetStream handed out one we still hold (its ack wait ended before our refresh
        # reached it): the new delivery replaces the old, which no receipt can settle now.
        self._held.pop(seq, None)
        self._held[seq] = _Held(msg, meta.num_delivered, self._loop.time())
        self._wake.set()
        return seq

    def written(self, seq: int) -> None:
        """gRPC accepted the delivery on the stream: the subscriber has it or is next to."""
        held = self._held.get(seq)
        if held is not None:
            held.written = True
            self._wake.set()

    def settle(self, seq: int) -> None:
        """A receipt for `seq` was acknowledged in JetStream: its slot is free."""
        if self._held.pop(seq, None) is not None:
            self._room.set()
            self._wake.set()

    def _wait(self, attempt: int) -> float:
        return self._waits[min(max(attempt, 1), len(self._waits)) - 1]

    def _step(self, now: float) -> tuple[list[Msg], float]:
        """The deliveries to mark in progress now, and when to look again."""
        # A head whose ack wait ended unacknowledged leaves the window: JetStream
        # hands it out again, and the next one is the head.
        while self._held:
            seq, oldest = next(iter(self._held.items()))
            if oldest.due is None or now < oldest.due:
                break
            del self._held[seq]
            self._room.set()
        progress: list[Msg] = []
        head = next(iter(self._held.values()), None)
        if head is not None and head.written and head.due is None:
            head.due = now + self._wait(head.attempt)
            head.refreshed = now
            progress.append(head.msg)
        for held in self._held.values():
            if held.due is None and now - held.refreshed >= self.refresh_every:
                held.refreshed = now
                progress.append(held.msg)
        looks = [h.due if h.due is not None else h.refreshed + self.refresh_every
                 for h in self._held.values()]
        return progress, min(looks, default=now + self.refresh_every)

    def close(self) -> None:
        """The stream ended: refresh nothing more (its deliveries come back after their
        ack wait). A flag as well as the keeper's cancellation, because nats-py's waits
        (`asyncio.wait_for` on Python 3.11) can swallow a cancellation."""
        self.closed = True
        self._room.set()
        self._wake.set()

    async def keep(self) -> None:
        """For the stream's life (until `close`): start, expire and refresh."""
        while not self.closed:
            self._wake.clear()
            progress, next_look = self._step(self._loop.time())
            for msg in progress:
                if self.closed:
                    return
                try:
                    await msg.in_progress()
                except (nats.errors.Error, OSError) as exc:
                    # Disconnected: JetStream redelivers after the ack wait, as for a
                    # stream that closed; the next pass tries again.
                    log.debug("delivery_progress_failed", **logs.fault_fields(exc))
            delay = max(next_look - self._loop.time(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)


class Flows:
    """This process's live Subscribe streams by consumer: a receipt frees its slot."""

    def __init__(self) -> None:
        self._by_consumer: dict[str, set[Flow]] = {}

    def add(self, flow: Flow) -> None:
        self._by_consumer.setdefault(flow.consumer, set()).add(flow)

    def discard(self, flow: Flow) -> None:
        flows = self._by_consumer.get(flow.consumer)
        if flows is not None:
            flows.discard(flow)
            if not flows:
                del self._by_consumer[flow.consumer]

    def settled(self, consumer: str, seq: int) -> None:
        for flow in self._by_consumer.get(consumer, ()):
            flow.settle(seq)

    def held(self) -> int:
        """Unacknowledged deliveries held by every live stream (a gauge)."""
        return sum(f.held for flows in self._by_consumer.values() for f in flows)
