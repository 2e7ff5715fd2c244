"""The broker's connection to NATS JetStream: stream, publishing, durable consumers.

JetStream is the only queue: every broker of a federation connects to the same
cluster, so nothing is held in a broker's memory that another could not serve.
Per subscriber there is one subject tree `<prefix>.deliver.<agency-slug>.<type>`
and one durable pull consumer; acknowledgements travel as the consumer's own
ack subjects, so any broker can take a subscriber's receipt. Every failure to
reach JetStream becomes `EventsUnavailable`; nothing here logs payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
import structlog
from g2g_sdk import logs
from g2g_sdk.errors import EventsUnavailable, G2GError
from g2g_sdk.registry import slug
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError

from broker.events.config import EventsConfig

log = structlog.get_logger("g2g.events")

MSG_ID = "Nats-Msg-Id"
ACK_PREFIX = "$JS.ACK."
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
# Several brokers share the advisories; one of them handles each (queue group).
DEAD_LETTER_QUEUE = "g2g-dead-letter"


@dataclass(frozen=True)
class Exhausted:
    """A delivery JetStream gave up on after max_deliver attempts."""

    stream_seq: int
    consumer: str
    deliveries: int
    data: bytes


def consumer_name(subscriber: str, event_types: tuple[str, ...] = ()) -> str:
    """The durable consumer of a subscriber (and of a type filter, if any)."""
    name = f"sub-{slug(subscriber)}"
    if event_types:
        name += "-" + hashlib.sha256("\n".join(sorted(event_types)).encode()).hexdigest()[:12]
    return name


def _unavailable(cause: str, message: str) -> EventsUnavailable:
    return EventsUnavailable(message, metadata={"cause": cause})


class JetStreamBus:
    """One NATS connection per broker process, reconnecting forever."""

    def __init__(self, config: EventsConfig) -> None:
        self.config = config
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected and self._ready.is_set()

    async def start(self, *, wait: float = 0.0) -> None:
        """Connect in the background; wait up to `wait` seconds for the stream to be ready."""
        self._task = asyncio.ensure_future(self._connect_loop())
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def _connect_loop(self) -> None:
        while not self._closing:
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any connect failure: retry
                log.warning("jetstream_connect_failed", **logs.fault_fields(exc))
                await self._drop()
                await asyncio.sleep(1.0)
            else:
                self._ready.set()
                log.info("jetstream_ready", stream=self.config.stream)
                return

    async def _connect_once(self) -> None:
        nc = await nats.connect(
            self.config.url, allow_reconnect=True, max_reconnect_attempts=-1,
            reconnect_time_wait=0.5, connect_timeout=2, name="g2g-broker",
            error_cb=_quiet, disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected)
        self._nc, self._js = nc, nc.jetstream(timeout=self.config.publish_timeout_seconds)
        await self._ensure_stream()

    async def _disconnected(self) -> None:
        if not self._closing:  # our own close is not news
            log.warning("jetstream_disconnected")

    async def _reconnected(self) -> None:
        # A server that lost its state (memory storage, a rebuilt cluster) gets the
        # stream back; refused until then, since `connected` needs ready.
        self._ready.clear()
        try:
            await self._ensure_stream()
        except Exception as exc:  # the next reconnect tries again
            log.error("jetstream_stream_failed", **logs.fault_fields(exc))
            return
        self._ready.set()
        log.info("jetstream_reconnected", stream=self.config.stream)

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _ensure_stream(self) -> None:
        js = self._jetstream()
        c = self.config
        config = api.StreamConfig(
            name=c.stream, subjects=[f"{c.subject_prefix}.>"],
            retention=api.RetentionPolicy.LIMITS, max_age=c.max_age_seconds,
            max_msg_size=c.max_event_bytes * 2 + 4096,
            storage=api.StorageType.FILE if c.storage == "file" else api.StorageType.MEMORY,
            num_replicas=c.replicas, duplicate_window=c.duplicate_window_seconds,
            allow_direct=True)
        try:
            await js.stream_info(c.stream)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise _unavailable("not_connected", "not connected to NATS JetStream")
        return self._js

    def check_available(self) -> None:
        """Refuse early (before anything is recorded) when JetStream is not reachable."""
        if not self.connected:
            raise _unavailable("not_connected", "not connected to NATS JetStream")

    async def publish(self, subject: str, data: bytes, msg_id: str) -> bool:
        """Store one message durably; True if JetStream already had this msg id."""
        js = self._jetstream()
        try:
            ack = await js.publish(subject, data, headers={MSG_ID: msg_id},
                                   stream=self.config.stream,
                                   timeout=self.config.publish_timeout_seconds)
        except (TimeoutError, nats.errors.Error, JetStreamError) as exc:
            raise _unavailable("publish_failed", f"JetStream did not acknowledge the "
                               f"publish ({type(exc).__name__})") from None
        else:
            return bool(ack.duplicate)

    async def subscription(self, subscriber: str, event_types: tuple[str, ...] = ()
                           ) -> JetStreamContext.PullSubscription:
        """The durable pull consumer of `subscriber`, created on first use."""
        js = self._jetstream()
        c = self.config
        subjects = [c.deliver_subject(slug(subscriber), t) for t in event_types] or \
            [c.deliver_subject(slug(subscriber))]
        durable = consumer_name(subscriber, event_types)
        config = api.ConsumerConfig(
            durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL, max_deliver=c.max_deliver,
            backoff=list(c.backoff) if c.max_deliver > 1 else None, ack_wait=c.backoff[0],
            max_ack_pending=1000,
            filter_subjects=subjects if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None)
        try:
            return await js.pull_subscribe_bind(durable, stream=c.stream) \
                if await self._has_consumer(durable) else \
                await js.pull_subscribe(subjects[0], durable=durable, stream=c.stream,
                                        config=config)
        except (TimeoutError, nats.errors.Error, JetStreamError) as exc:
            log.warning("jetstream_consumer_failed", error_type=type(exc).__name__,
                        detail=str(exc)[:200])
            raise _unavailable("subscribe_failed", f"cannot open the durable consumer "
                               f"({type(exc).__name__})") from None

    async def _has_consumer(self, durable: str) -> bool:
        js = self._jetstream()
        try:
            await js.consumer_info(self.config.stream, durable)
        except NotFoundError:
            return False
        return True

    async def stored(self, stream_seq: int) -> bytes:
        """The stored message at `stream_seq` (what was delivered)."""
        js = self._jetstream()
        try:
            msg = await js.get_msg(self.config.stream, stream_seq)
        except NotFoundError:
            raise G2GError("the delivery is no longer stored", reason="DELIVERY_UNKNOWN"
                           ) from None
        except (TimeoutError, nats.errors.Error, JetStreamError) as exc:
            raise _unavailable("read_failed", f"cannot read the delivery "
                               f"({type(exc).__name__})") from None
        return bytes(msg.data or b"")

    def ack_prefix(self, subscriber: str) -> str:
        """Every ack subject of `subscriber`'s consumers starts with this."""
        return f"{ACK_PREFIX}{self.config.stream}.{consumer_name(subscriber)}"

    async def ack(self, token: str) -> None:
        """Acknowledge one delivery by its ack subject, and wait for JetStream to confirm."""
        if self._nc is None or not self._nc.is_connected:
            raise _unavailable("not_connected", "not connected to NATS JetStream")
        try:
            await self._nc.request(token, b"+ACK", timeout=self.config.publish_timeout_seconds)
        except (TimeoutError, nats.errors.Error) as exc:
            raise _unavailable("ack_failed", f"JetStream did not confirm the acknowledgement "
                               f"({type(exc).__name__})") from None

    async def watch_exhausted(self, handle: Callable[[Exhausted], Awaitable[None]]) -> None:
        """Call `handle` for each delivery that ran out of attempts (one broker handles each)."""
        await self._ready.wait()
        assert self._nc is not None
        js = self._jetstream()

        async def on_advisory(msg: Msg) -> None:
            try:
                advisory = json.loads(msg.data)
                seq = int(advisory["stream_seq"])
                data = (await js.get_msg(self.config.stream, seq)).data or b""
                await handle(Exhausted(seq, str(advisory.get("consumer", "")),
                                       int(advisory.get("deliveries", 0)), bytes(data)))
            except Exception as exc:  # keep watching; logged by type only
                log.error("dead_letter_failed", **logs.fault_fields(exc))

        await self._nc.subscribe(f"{MAX_DELIVERIES_ADVISORY}.{self.config.stream}.*",
                                 queue=DEAD_LETTER_QUEUE, cb=on_advisory)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop()


async def _quiet(exc: Exception) -> None:
    log.debug("jetstream_error", **logs.fault_fields(exc))




