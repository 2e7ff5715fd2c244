"""broker.events.routing: one delivery per allowed subscriber, masked, with a stable msg id."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import events, keys
from g2g_sdk._gen.g2g.consular.v1 import events_pb2 as cev
from g2g_sdk._gen.g2g.v1 import events_pb2

from broker.events.config import EventsConfig
from broker.events.routing import msg_id, plan
from broker.policy import Decision

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PUBLISHER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
BROKER = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))


def test_only_allowed_subscribers_get_a_delivery_with_only_their_fields() -> None:
    payload = cev.DetentionNotification(notification_id="N-1", nationality="NLD",
                                        full_name="Jan de Vries", grounds="overstay")
    signed = events.build_event(publisher="ID/GOV/IMIGRASI", payload=payload,
                                purpose="consular_notification", legal_basis="VCCR Art. 36",
                                key=PUBLISHER, now=NOW, event_id="00000000-e1")
    header = events.parse_header(signed.header)
    _, opened = events.check_disclosures(header, signed.disclosures, cev.DetentionNotification,
                                         complete=True)
    decisions = [
        ("NL/GOV/EMBASSY-JAKARTA", Decision(True, "nl", "v1",
                                            ("notification_id", "nationality", "full_name"))),
        ("AU/GOV/EMBASSY-JAKARTA", Decision(False, None, "v1", unmet_rule="au"))]
    config = EventsConfig(subject_prefix="g2g.events")
    [route] = plan(signed, header, opened, decisions, config=config, broker_id="G2G/BROKER",
                   key=BROKER, now=NOW)
    assert route.subscriber == "NL/GOV/EMBASSY-JAKARTA"
    assert route.subject == ("g2g.events.deliver.nl-gov-embassy-jakarta."
                             "g2g.consular.v1.DetentionNotification")
    assert route.msg_id == msg_id(events.sha256(signed.header), route.subscriber)
    assert set(route.fields) == {"notification_id", "nationality", "full_name"}
    delivery = events_pb2.Delivery.FromString(route.data)
    received = events.open_delivery(
        delivery, subscriber="NL/GOV/EMBASSY-JAKARTA",
        publisher_keys=lambda _: {keys.keyid(PUBLISHER.public_key()): PUBLISHER.public_key()},
        broker_keys={keys.keyid(BROKER.public_key()): BROKER.public_key()},
        event_class=lambda _: cev.DetentionNotification)
    assert received.payload == cev.DetentionNotification(
        notification_id="N-1", nationality="NLD", full_name="Jan de Vries")
    # The same event routed again (a retry) has the same JetStream de-duplication id.
    [again] = plan(signed, header, opened, decisions, config=config, broker_id="G2G/BROKER",
                   key=BROKER, now=NOW)
    assert again.msg_id == route.msg_id
