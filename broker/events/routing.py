"""Per-subscriber deliveries of one event: the pure part of routing.

For every subscriber the policy allows, the delivery carries the publisher's
header and signatures unchanged, only the disclosures inside the subscriber's
mask, and the broker's signed routing statement. Message ids are derived from
the event digest and the subscriber, so a retried publish (after a broker
crash) is de-duplicated by JetStream instead of delivered twice. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from g2g_sdk import events
from g2g_sdk._gen.g2g.v1 import events_pb2
from g2g_sdk.envelope import to_timestamp
from g2g_sdk.registry import slug
from g2g_sdk.signer import Signer

from broker.events.config import EventsConfig
from broker.policy import Decision


@dataclass(frozen=True)
class Route:
    """One allowed subscriber's delivery, ready to store."""

    subscriber: str
    decision: Decision
    subject: str
    msg_id: str
    data: bytes
    fields: tuple[str, ...]


def msg_id(event_digest: bytes, subscriber: str) -> str:
    """The JetStream de-duplication id of one event for one subscriber."""
    return f"{event_digest.hex()}:{slug(subscriber)}"


def plan(signed: events_pb2.SignedEvent, header: events_pb2.EventHeader,
         opened: Sequence[events.OpenDisclosure],
         decisions: Sequence[tuple[str, Decision]], *, config: EventsConfig,
         broker_id: str, key: Signer, now: datetime) -> tuple[Route, ...]:
    """A `Route` per allowed decision, in subscriber order."""
    digest = events.sha256(signed.header)
    routes = []
    for subscriber, decision in sorted(decisions):
        if not decision.allowed:
            continue
        mask = set(decision.field_mask)
        chosen = [d for d in opened if d.field in mask]
        body = events_pb2.RoutingBody(
            delivery_id=f"{header.event_id}:{slug(subscriber)}", event_digest=digest,
            event_id=header.event_id, publisher=header.publisher, subscriber=subscriber,
            event_type=header.event_type, rule_id=decision.rule_id or "",
            policy_version=decision.policy_version, field_mask=sorted(mask),
            routed_at=to_timestamp(now), broker_id=broker_id)
        routing, signature = events.sign_routing(body, key)
        delivery = events_pb2.Delivery(
            header=signed.header, signatures=signed.signatures,
            disclosures=[d.raw for d in chosen], routing=routing,
            routing_signatures=[signature])
        routes.append(Route(
            subscriber=subscriber, decision=decision,
            subject=config.deliver_subject(slug(subscriber), header.event_type),
            msg_id=msg_id(digest, subscriber),
            data=delivery.SerializeToString(deterministic=True),
            fields=tuple(d.field for d in chosen)))
    return tuple(routes)
