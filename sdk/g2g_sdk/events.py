"""Signed events with salted per-field commitments (verifiable minimisation).

The publisher turns each set top-level field of the event payload into a
`Disclosure` (16 random salt bytes, the field name, the payload with only that
field set) and signs an `EventHeader` that carries the SHA-256 of every
disclosure, sorted. The broker forwards to each subscriber the header and
signatures unchanged plus only the disclosures its subscription mask allows;
the subscriber checks the publisher's signature and every disclosure's digest,
so the broker can withhold fields but can neither alter nor invent one.

Check order, everywhere: parse header bytes (strict) → signature over the exact
bytes → disclosures against the signed digests → payload type. Pure: no I/O,
no logging.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import message as pb_message
from google.protobuf.message import DecodeError

from g2g_sdk import dsse, schema
from g2g_sdk._gen.g2g.v1 import envelope_pb2, events_pb2
from g2g_sdk.envelope import (
    TimeRules,
    check_window,
    from_timestamp,
    parse_strict,
    to_timestamp,
)
from g2g_sdk.errors import DeliveryInvalid, EnvelopeError, SchemaError, SignatureError
from g2g_sdk.signer import Signer

EVENT_VERSION = 1
SALT_BYTES = 16
MAX_DISCLOSURES = 64

EventHeader = events_pb2.EventHeader
SignedEvent = events_pb2.SignedEvent
Delivery = events_pb2.Delivery
Receipt = events_pb2.Receipt
RoutingBody = events_pb2.RoutingBody
ReceiptBody = events_pb2.ReceiptBody


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- publisher side --------------------------------------------------------------

def disclose(payload: pb_message.Message,
             salts: Mapping[str, bytes] | None = None) -> list[bytes]:
    """One serialized Disclosure per set top-level field of `payload`, in field order.

    `salts` (field name -> 16 bytes) is for test vectors only; otherwise every
    salt is fresh from os.urandom.
    """
    out = []
    for fd, value in payload.ListFields():
        single = type(payload)()
        if fd.is_repeated:
            getattr(single, fd.name).extend(value)
        elif fd.message_type is not None:
            getattr(single, fd.name).CopyFrom(value)
        else:
            setattr(single, fd.name, value)
        salt = salts[fd.name] if salts is not None else os.urandom(SALT_BYTES)
        out.append(events_pb2.Disclosure(
            salt=salt, field=fd.name,
            value=single.SerializeToString(deterministic=True)).SerializeToString(
                deterministic=True))
    return out


def build_event(
    *,
    publisher: str,
    payload: pb_message.Message,
    purpose: str,
    legal_basis: str,
    key: Signer,
    now: datetime,
    lifetime: timedelta = timedelta(seconds=120),
    correlation_id: str | None = None,
    event_id: str | None = None,
    salts: Mapping[str, bytes] | None = None,
) -> events_pb2.SignedEvent:
    """A signed event carrying every set field of `payload` as a salted disclosure."""
    event_id = event_id or str(uuid.uuid4())
    disclosures = disclose(payload, salts)
    header = events_pb2.EventHeader(
        version=EVENT_VERSION, event_id=event_id, correlation_id=correlation_id or event_id,
        publisher=publisher, event_type=payload.DESCRIPTOR.full_name, purpose=purpose,
        legal_basis=legal_basis, created_at=to_timestamp(now),
        expires_at=to_timestamp(now + lifetime),
        disclosure_digests=sorted(sha256(d) for d in disclosures))
    header_bytes = header.SerializeToString(deterministic=True)
    return events_pb2.SignedEvent(header=header_bytes,
                                  signatures=[dsse.sign(key, dsse.EVENT_TYPE, header_bytes)],
                                  disclosures=disclosures)


# --- checks shared by broker and subscriber -------------------------------------

def parse_header(header_bytes: bytes) -> events_pb2.EventHeader:
    """Parse (not yet trust) event header bytes, strictly, with their declared constraints."""
    header = parse_strict(events_pb2.EventHeader(), header_bytes, "event header")
    digests = list(header.disclosure_digests)
    if digests != sorted(set(digests)):
        raise EnvelopeError("event header: disclosure_digests must be sorted and unique",
                            reason="HEADER_INVALID",
                            metadata={"field": "disclosure_digests", "rule": "sorted_unique"})
    return header


def verify_signature(header_bytes: bytes, signatures: Sequence[envelope_pb2.Signature],
                     trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """The keyid of a valid publisher signature over the exact header bytes."""
    return dsse.verify_required(signatures, trusted, dsse.EVENT_TYPE, header_bytes,
                                what="event", signer="publisher")


def check_freshness(header: events_pb2.EventHeader, now: datetime, rules: TimeRules) -> None:
    check_window(from_timestamp(header.created_at), from_timestamp(header.expires_at), now,
                 rules)


@dataclass(frozen=True)
class OpenDisclosure:
    """A disclosure whose digest is one the publisher signed."""

    field: str
    digest: bytes
    raw: bytes
    value: bytes


def check_disclosures(header: events_pb2.EventHeader, disclosures: Iterable[bytes],
                      cls: type[pb_message.Message], *, complete: bool
                      ) -> tuple[pb_message.Message, tuple[OpenDisclosure, ...]]:
    """The payload rebuilt from disclosures that each match a signed digest.

    `complete` (the broker, on publish) also requires a disclosure for every
    signed digest. Raises EnvelopeError DISCLOSURE_MISMATCH / DISCLOSURE_INVALID
    or SchemaError for a payload that breaks the event type's schema.
    """
    signed = set(header.disclosure_digests)
    opened: list[OpenDisclosure] = []
    seen_fields: set[str] = set()
    for raw in disclosures:
        digest = sha256(raw)
        if digest not in signed:
            raise EnvelopeError("a disclosure does not match any signed digest",
                                reason="DISCLOSURE_MISMATCH")
        item = events_pb2.Disclosure()
        try:
            item.ParseFromString(raw)
            schema.reject_unknown_fields(item)
            schema.validate(item)
        except (DecodeError, SchemaError):
            raise EnvelopeError("a disclosure is not a valid g2g.v1.Disclosure",
                                reason="DISCLOSURE_INVALID") from None
        if item.field in seen_fields or item.field not in cls.DESCRIPTOR.fields_by_name:
            raise EnvelopeError(f"disclosure field {item.field!r} is repeated or not a field "
                                f"of {cls.DESCRIPTOR.full_name}", reason="DISCLOSURE_INVALID",
                                metadata={"field": item.field[:64]})
        single = cls()
        try:
            single.ParseFromString(item.value)
        except DecodeError:
            raise EnvelopeError("a disclosure value does not decode",
                                reason="DISCLOSURE_INVALID") from None
        if [fd.name for fd, _ in single.ListFields()] != [item.field]:
            raise EnvelopeError("a disclosure value sets other fields than the one it names",
                                reason="DISCLOSURE_INVALID", metadata={"field": item.field})
        seen_fields.add(item.field)
        opened.append(OpenDisclosure(item.field, digest, raw, item.value))
    if complete and len(opened) != len(signed):
        raise EnvelopeError(f"{len(signed) - len(opened)} signed field(s) have no disclosure",
                            reason="DISCLOSURE_MISMATCH")
    payload = schema.decode(cls, b"".join(d.value for d in opened), cls.DESCRIPTOR.full_name)
    return payload, tuple(opened)


# --- broker side: routing statements -----------------------------------------------

def sign_routing(body: events_pb2.RoutingBody, key: Signer
                 ) -> tuple[bytes, envelope_pb2.Signature]:
    body_bytes = body.SerializeToString(deterministic=True)
    return body_bytes, dsse.sign(key, dsse.ROUTING_TYPE, body_bytes)


# --- subscriber side -------------------------------------------------------------

@dataclass(frozen=True)
class ReceivedEvent:
    """A delivery that passed every subscriber check: what the application gets."""

    header: events_pb2.EventHeader
    payload: pb_message.Message
    event_digest: bytes
    routing: events_pb2.RoutingBody
    disclosures: tuple[OpenDisclosure, ...]
    sequence: int
    attempt: int
    ack_token: str

    @property
    def event_id(self) -> str:
        return self.header.event_id

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(d.field for d in self.disclosures)


def _invalid(check: str, message: str) -> DeliveryInvalid:
    return DeliveryInvalid(message, metadata={"check": check})


def open_delivery(delivery: events_pb2.Delivery, *, subscriber: str,
                  publisher_keys: Callable[[str], Mapping[str, Ed25519PublicKey]],
                  broker_keys: Mapping[str, Ed25519PublicKey],
                  event_class: Callable[[str], type[pb_message.Message] | None]
                  ) -> ReceivedEvent:
    """Verify one delivery end to end; raises DeliveryInvalid naming the failed check.

    Checks: the publisher's signature over the exact header bytes; the broker's
    routing statement (signature, addressed to `subscriber`, bound to this event
    digest); every disclosure against a signed digest and inside the routed mask;
    the payload against the event type's schema. No freshness check: a
    subscriber may come back long after an event was published.
    """
    try:
        header = parse_header(delivery.header)
        verify_signature(delivery.header, delivery.signatures,
                         publisher_keys(header.publisher))
    except (EnvelopeError, SignatureError) as exc:
        raise _invalid("signature", f"publisher signature: {exc.message}") from None
    digest = sha256(delivery.header)
    if dsse.verify_any(delivery.routing_signatures, broker_keys, dsse.ROUTING_TYPE,
                       delivery.routing) is None:
        raise _invalid("routing", "routing statement is not signed by the broker")
    routing = events_pb2.RoutingBody()
    try:
        routing.ParseFromString(delivery.routing)
    except DecodeError:
        raise _invalid("routing", "routing statement does not decode") from None
    if (routing.event_digest != digest or routing.subscriber != subscriber
            or routing.event_id != header.event_id or routing.publisher != header.publisher
            or routing.event_type != header.event_type):
        raise _invalid("routing", "routing statement is for another event or subscriber")
    cls = event_class(header.event_type)
    if cls is None:
        raise _invalid("payload", f"unknown event type {header.event_type}")
    try:
        payload, opened = check_disclosures(header, delivery.disclosures, cls, complete=False)
    except (EnvelopeError, SchemaError) as exc:
        raise _invalid("disclosure", exc.message) from None
    outside = sorted({d.field for d in opened} - set(routing.field_mask))
    if outside:
        raise _invalid("mask", f"{len(outside)} field(s) outside the routed mask")
    return ReceivedEvent(header=header, payload=payload, event_digest=digest, routing=routing,
                         disclosures=opened, sequence=delivery.sequence,
                         attempt=delivery.attempt, ack_token=delivery.ack_token)


def sign_receipt(event: ReceivedEvent, *, subscriber: str, key: Signer,
                 now: datetime) -> events_pb2.Receipt:
    """The subscriber's signed receipt, bound to the event digest and what it received."""
    body = events_pb2.ReceiptBody(
        event_id=event.event_id, event_digest=event.event_digest, subscriber=subscriber,
        publisher=event.header.publisher, delivery_id=event.routing.delivery_id,
        disclosure_digests=sorted(d.digest for d in event.disclosures),
        received_at=to_timestamp(now))
    body_bytes = body.SerializeToString(deterministic=True)
    return events_pb2.Receipt(body=body_bytes,
                              signatures=[dsse.sign(key, dsse.RECEIPT_TYPE, body_bytes)])


def open_receipt(receipt: events_pb2.Receipt, trusted: Mapping[str, Ed25519PublicKey]
                 ) -> tuple[events_pb2.ReceiptBody, str]:
    """Verify the subscriber's signature over the exact body bytes, then parse them;
    the body and the keyid that signed it."""
    keyid = dsse.verify_any(receipt.signatures, trusted, dsse.RECEIPT_TYPE, receipt.body)
    if keyid is None:
        raise SignatureError("receipt is not signed by a key of the subscriber",
                             reason="RECEIPT_INVALID")
    body = events_pb2.ReceiptBody()
    try:
        body.ParseFromString(receipt.body)
        schema.reject_unknown_fields(body)
    except (DecodeError, SchemaError):
        raise EnvelopeError("receipt body does not decode", reason="RECEIPT_INVALID") from None
    return body, keyid
