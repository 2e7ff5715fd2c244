"""docs/PROTOCOL.md §9.7 event vectors, and the subscriber's checks against a tampering broker."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from g2g_sdk import events, keys
from g2g_sdk._gen.g2g.consular.v1 import events_pb2 as consular_events
from g2g_sdk._gen.g2g.v1 import events_pb2
from g2g_sdk.errors import DeliveryInvalid, SignatureError

from tests.g2g_sdk.test_vectors import spec_pae
from tests.vectors import make_event_vectors

V: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "events_v1.json").read_text())


def _public(who: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(V["keys"][who]["public_hex"]))


def _open(delivery: events_pb2.Delivery) -> events.ReceivedEvent:
    publisher, broker = _public("publisher"), _public("broker")
    return events.open_delivery(
        delivery, subscriber=V["delivery"]["subscriber"],
        publisher_keys=lambda _: {keys.keyid(publisher): publisher},
        broker_keys={keys.keyid(broker): broker},
        event_class=lambda _: consular_events.DetentionNotification)


def _delivery() -> events_pb2.Delivery:
    return events_pb2.Delivery.FromString(bytes.fromhex(V["delivery"]["delivery_hex"]))


def test_the_implementation_reproduces_the_vectors_byte_for_byte() -> None:
    assert make_event_vectors.build() == V


def test_signatures_verify_from_the_spec_alone() -> None:
    ev, de, rc = V["event"], V["delivery"], V["receipt"]
    header = bytes.fromhex(ev["header_hex"])
    assert spec_pae("application/vnd.g2g.event.v1+proto", header).hex() == ev["pae_hex"]
    _public("publisher").verify(bytes.fromhex(ev["signature_hex"]), bytes.fromhex(ev["pae_hex"]))
    routing = bytes.fromhex(de["routing_hex"])
    assert spec_pae("application/vnd.g2g.routing.v1+proto", routing).hex() == \
        de["routing_pae_hex"]
    _public("broker").verify(bytes.fromhex(de["routing_signature_hex"]),
                             bytes.fromhex(de["routing_pae_hex"]))
    body = bytes.fromhex(rc["body_hex"])
    assert spec_pae("application/vnd.g2g.receipt.v1+proto", body).hex() == rc["pae_hex"]
    _public("subscriber").verify(bytes.fromhex(rc["signature_hex"]), bytes.fromhex(rc["pae_hex"]))
    assert hashlib.sha256(header).hexdigest() == ev["event_digest_hex"]


def test_disclosure_digests_are_sha256_of_the_bytes_and_signed_sorted() -> None:
    header = events_pb2.EventHeader.FromString(bytes.fromhex(V["event"]["header_hex"]))
    digests = [bytes.fromhex(d["sha256_hex"]) for d in V["event"]["disclosures"]]
    for d in V["event"]["disclosures"]:
        assert hashlib.sha256(bytes.fromhex(d["bytes_hex"])).hexdigest() == d["sha256_hex"]
        parsed = events_pb2.Disclosure.FromString(bytes.fromhex(d["bytes_hex"]))
        assert (parsed.field, parsed.salt.hex()) == (d["field"], d["salt_hex"])
    assert list(header.disclosure_digests) == sorted(digests)
    # Concatenated values are the payload (protobuf merges concatenated messages).
    values = b"".join(events_pb2.Disclosure.FromString(bytes.fromhex(d["bytes_hex"])).value
                      for d in V["event"]["disclosures"])
    assert values.hex() == V["event"]["payload_hex"]


def test_the_subscriber_gets_the_masked_payload_and_a_bound_receipt() -> None:
    event = _open(_delivery())
    assert event.payload.nationality == "NLD"
    assert not event.payload.grounds
    assert "grounds" not in event.fields
    body, _ = events.open_receipt(
        events_pb2.Receipt(body=bytes.fromhex(V["receipt"]["body_hex"]), signatures=[
            events_pb2.Receipt().signatures.add(
                keyid=V["keys"]["subscriber"]["keyid"],
                sig=bytes.fromhex(V["receipt"]["signature_hex"]))]),
        {V["keys"]["subscriber"]["keyid"]: _public("subscriber")})
    assert body.event_digest.hex() == V["event"]["event_digest_hex"]
    assert list(body.disclosure_digests) == sorted(events.sha256(d) for d in
                                                   _delivery().disclosures)


def _tampered(change: str) -> events_pb2.Delivery:
    delivery = _delivery()
    first = events_pb2.Disclosure.FromString(delivery.disclosures[0])
    if change == "altered value":
        name = first.field
        value = consular_events.DetentionNotification.FromString(first.value)
        setattr(value, name, "NTF-FORGED")
        first.value = value.SerializeToString()
        delivery.disclosures[0] = first.SerializeToString(deterministic=True)
    elif change == "swapped salt":
        first.salt = bytes(16)
        delivery.disclosures[0] = first.SerializeToString(deterministic=True)
    elif change == "dropped digest":
        header = events_pb2.EventHeader.FromString(delivery.header)
        del header.disclosure_digests[0]
        delivery.header = header.SerializeToString(deterministic=True)
    elif change == "invented field":
        # A disclosure the publisher never signed: the withheld field, with a made-up salt.
        forged = events_pb2.Disclosure(salt=bytes(16), field="grounds", value=(
            consular_events.DetentionNotification(grounds="espionage").SerializeToString()))
        delivery.disclosures.append(forged.SerializeToString(deterministic=True))
    elif change == "header bit":
        delivery.header = bytes([delivery.header[0] ^ 1]) + delivery.header[1:]
    elif change == "routing to another subscriber":
        routing = events_pb2.RoutingBody.FromString(delivery.routing)
        routing.subscriber = "AU/GOV/EMBASSY-JAKARTA"
        delivery.routing = routing.SerializeToString(deterministic=True)
    return delivery


@pytest.mark.parametrize(("change", "check"), [
    ("altered value", "disclosure"), ("swapped salt", "disclosure"),
    ("dropped digest", "signature"), ("invented field", "disclosure"),
    ("header bit", "signature"), ("routing to another subscriber", "routing")])
def test_broker_tampering_is_detected_by_the_subscriber(change: str, check: str) -> None:
    with pytest.raises(DeliveryInvalid) as info:
        _open(_tampered(change))
    assert info.value.metadata == {"check": check}


def test_a_receipt_signed_by_another_key_is_refused() -> None:
    body = bytes.fromhex(V["receipt"]["body_hex"])
    forger = Ed25519PrivateKey.generate()
    receipt = events_pb2.Receipt(body=body)
    receipt.signatures.add(keyid=V["keys"]["subscriber"]["keyid"],
                           sig=forger.sign(spec_pae("application/vnd.g2g.receipt.v1+proto",
                                                    body)))
    with pytest.raises(SignatureError) as info:
        events.open_receipt(receipt, {V["keys"]["subscriber"]["keyid"]: _public("subscriber")})
    assert info.value.reason == "RECEIPT_INVALID"
