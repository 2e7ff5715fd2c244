"""Regenerate tests/vectors/events_v1.json (run by hand only when the event protocol changes).

Fixed inputs (key seeds, salts, times, ids); Ed25519 is deterministic and the
messages serialise deterministically in field order, so the outputs are stable
across implementations. docs/PROTOCOL.md §9.7 describes the file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import dsse, events, keys
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2
from g2g_sdk._gen.g2g.consular.v1 import events_pb2 as consular_events
from g2g_sdk._gen.g2g.v1 import events_pb2

OUT = Path(__file__).with_name("events_v1.json")
PUBLISHER_SEED = bytes(range(32, 64))
BROKER_SEED = bytes(range(64, 96))
SUBSCRIBER_SEED = bytes(range(96, 128))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EVENT_ID = "00000000-0000-4000-8000-0000000000e1"
MASK = ("notification_id", "type", "full_name", "date_of_birth", "nationality",
        "passport_number", "detained_at", "facility", "consular_access_requested")


def payload() -> consular_events.DetentionNotification:
    return consular_events.DetentionNotification(
        notification_id="NTF-2026-0001", type=consular_pb2.NOTIFICATION_TYPE_DETENTION,
        full_name="Jan de Vries", date_of_birth="1980-02-03", nationality="NLD",
        passport_number="NX1234567", detained_at="2026-01-02T02:30:00Z",
        facility="Rudenim Jakarta", grounds="overstay (UU 6/2011 Pasal 78)",
        consular_access_requested=True)


def salts(message: consular_events.DetentionNotification) -> dict[str, bytes]:
    """bytes([i] * 16) for the i-th set field, in field-number order, from 1."""
    return {fd.name: bytes([i] * 16) for i, (fd, _) in enumerate(message.ListFields(), 1)}


def _key(seed: bytes) -> dict[str, str]:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return {"seed_hex": seed.hex(), "public_hex": keys.raw_public(public).hex(),
            "keyid": keys.keyid(public)}


def build() -> dict[str, Any]:
    publisher = Ed25519PrivateKey.from_private_bytes(PUBLISHER_SEED)
    broker = Ed25519PrivateKey.from_private_bytes(BROKER_SEED)
    subscriber = Ed25519PrivateKey.from_private_bytes(SUBSCRIBER_SEED)
    message = payload()
    signed = events.build_event(
        publisher="ID/GOV/IMIGRASI", payload=message, purpose="consular_notification",
        legal_basis="VCCR Art. 36(1)(b)", key=publisher, now=NOW,
        lifetime=timedelta(seconds=120), event_id=EVENT_ID, salts=salts(message))
    header = events.parse_header(signed.header)
    digest = events.sha256(signed.header)
    opened = events.check_disclosures(header, signed.disclosures, type(message),
                                      complete=True)[1]
    body = events_pb2.RoutingBody(
        delivery_id=f"{EVENT_ID}:nl-gov-embassy-jakarta", event_digest=digest,
        event_id=EVENT_ID, publisher="ID/GOV/IMIGRASI", subscriber="NL/GOV/EMBASSY-JAKARTA",
        event_type=header.event_type, rule_id="events-detention-nl",
        policy_version="0123456789abcdef", field_mask=sorted(MASK),
        routed_at=events.to_timestamp(NOW), broker_id="G2G/BROKER")
    routing, routing_sig = events.sign_routing(body, broker)
    delivery = events_pb2.Delivery(
        header=signed.header, signatures=signed.signatures,
        disclosures=[d.raw for d in opened if d.field in MASK], routing=routing,
        routing_signatures=[routing_sig])
    received = events.open_delivery(
        delivery, subscriber="NL/GOV/EMBASSY-JAKARTA",
        publisher_keys=lambda _: {keys.keyid(publisher.public_key()): publisher.public_key()},
        broker_keys={keys.keyid(broker.public_key()): broker.public_key()},
        event_class=lambda _: consular_events.DetentionNotification)
    receipt = events.sign_receipt(received, subscriber="NL/GOV/EMBASSY-JAKARTA",
                                  key=subscriber, now=NOW + timedelta(seconds=3))
    return {
        "keys": {"publisher": _key(PUBLISHER_SEED), "broker": _key(BROKER_SEED),
                 "subscriber": _key(SUBSCRIBER_SEED)},
        "event": {
            "payload_hex": message.SerializeToString(deterministic=True).hex(),
            "disclosures": [{"field": d.field, "salt_hex": salts(message)[d.field].hex(),
                             "bytes_hex": d.raw.hex(), "sha256_hex": d.digest.hex()}
                            for d in opened],
            "header_hex": signed.header.hex(),
            "pae_hex": dsse.pae(dsse.EVENT_TYPE, signed.header).hex(),
            "signature_hex": signed.signatures[0].sig.hex(),
            "event_digest_hex": digest.hex(),
        },
        "delivery": {
            "subscriber": "NL/GOV/EMBASSY-JAKARTA", "field_mask": sorted(MASK),
            "delivery_hex": delivery.SerializeToString(deterministic=True).hex(),
            "routing_hex": routing.hex(),
            "routing_pae_hex": dsse.pae(dsse.ROUTING_TYPE, routing).hex(),
            "routing_signature_hex": routing_sig.sig.hex(),
        },
        "receipt": {
            "body_hex": receipt.body.hex(),
            "pae_hex": dsse.pae(dsse.RECEIPT_TYPE, receipt.body).hex(),
            "signature_hex": receipt.signatures[0].sig.hex(),
        },
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
