"""Signed envelopes and broker attestations: build, seal, open.

Verify, then parse. The order is fixed: the signer is chosen by the caller
from what it already trusts (the TLS identity, a verified attestation, the
request it sent), its signature is verified over the exact received header
bytes, and only then are those bytes parsed and checked: header fields →
kind → sender = signer → the key's validity when the message was made →
payload digest → freshness. `open_envelope` is the only function that returns
an `OpenedEnvelope` (nothing else can construct one), so holding one means
every check passed. Nothing here logs; nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import message as pb_message
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from g2g_sdk import dsse, schema
from g2g_sdk import signer as signing
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import (
    AttestationError,
    AuthenticationError,
    EnvelopeError,
    FreshnessError,
    G2GError,
    SchemaError,
    SignatureError,
)

Envelope = envelope_pb2.Envelope
Header = envelope_pb2.Header
REQUEST = envelope_pb2.MESSAGE_KIND_REQUEST
RESPONSE = envelope_pb2.MESSAGE_KIND_RESPONSE
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class TimeRules:
    """How far clocks may disagree and how long a message may live."""

    clock_skew: timedelta = timedelta(seconds=300)
    max_lifetime: timedelta = timedelta(seconds=600)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def new_message_id() -> str:
    """A random (version 4) UUID in its canonical text, as `str(uuid.uuid4())` gives it."""
    # uuid4 builds a UUID object from an int to print it (≈ 2 µs; one per message made).
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(moment: datetime) -> Timestamp:
    """The protobuf Timestamp of `moment` (naive means local time, as `astimezone` reads it)."""
    # Integer arithmetic on the timedelta: the same value as Timestamp.FromDatetime,
    # without its pure-Python conversions (this runs for every attestation).
    delta = moment.astimezone(UTC) - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds,
                     nanos=delta.microseconds * 1000)


def from_timestamp(ts: Timestamp) -> datetime:
    """The aware UTC datetime of `ts`, as `ts.ToDatetime(tzinfo=UTC)` gives it."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        return ts.ToDatetime(tzinfo=UTC)  # raises protobuf's ValueError
    # The same arithmetic without ToDatetime's pure-Python detours (4 → 1 µs; five
    # conversions per exchange in the broker).
    return _EPOCH + timedelta(0, seconds, nanos // 1000)  # (days, seconds, microseconds)


class Signer(Protocol):
    """Whose signature an envelope must carry (a registry `Agency` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def signing_keys(self) -> Mapping[str, Ed25519PublicKey]: ...

    def check_signer(self, keyid: str, created: datetime) -> None:
        """Raise `SignatureError` if key `keyid` was not valid at `created`."""


@dataclass(frozen=True)
class StaticSigner:
    """A signer whose keys have no validity window (test vectors, a party's own keys)."""

    id: str
    signing_keys: Mapping[str, Ed25519PublicKey]

    def check_signer(self, keyid: str, created: datetime) -> None:
        """Every listed key is valid at any time."""


_OPENED = object()  # only open_envelope holds it, so only open_envelope builds an OpenedEnvelope


@dataclass(frozen=True)
class OpenedEnvelope:
    """An envelope whose signature, header, sender, payload digest and freshness were verified.

    Built only by `open_envelope`; constructing one anywhere else raises TypeError.
    """

    envelope: envelope_pb2.Envelope
    header: envelope_pb2.Header
    signer_keyid: str
    _token: object = field(default=None, repr=False, compare=False)
    _digest: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _OPENED:
            raise TypeError("an OpenedEnvelope comes only from envelope.open_envelope")

    @property
    def header_bytes(self) -> bytes:
        return self.envelope.header

    @property
    def payload(self) -> bytes:
        return self.envelope.payload

    @property
    def digest(self) -> bytes:
        """SHA-256 of the header bytes: what a response's request_digest must equal."""
        # Once: the broker reads it three times. Not functools.cached_property, which
        # takes a lock on every first read in Python 3.11.
        digest = self._digest
        if digest is None:
            digest = sha256(self.envelope.header)
            object.__setattr__(self, "_digest", digest)
        return digest


def seal(header: envelope_pb2.Header, payload: bytes,
         key: signing.Signer) -> envelope_pb2.Envelope:
    """Fill in the payload digest, serialise the header once, and sign those bytes."""
    header.version = PROTOCOL_VERSION
    header.payload_sha256 = sha256(payload)
    header_bytes = header.SerializeToString(deterministic=True)
    return envelope_pb2.Envelope(header=header_bytes, payload=payload,
                                 signatures=[dsse.sign(key, dsse.HEADER_TYPE, header_bytes)])


def build_request(
    *,
    sender: str,
    recipient: str,
    service: str,
    payload: pb_message.Message,
    purpose: str,
    legal_basis: str,
    key: signing.Signer,
    now: datetime,
    lifetime: timedelta = timedelta(seconds=120),
    correlation_id: str | None = None,
    message_id: str | None = None,
) -> envelope_pb2.Envelope:
    """A signed request envelope carrying `payload`."""
    message_id = message_id or new_message_id()
    header = envelope_pb2.Header(
        kind=REQUEST, message_id=message_id, correlation_id=correlation_id or message_id,
        sender=sender, recipient=recipient, service=service,
        payload_type=payload.DESCRIPTOR.full_name, purpose=purpose, legal_basis=legal_basis,
        created_at=to_timestamp(now), expires_at=to_timestamp(now + lifetime))
    return seal(header, payload.SerializeToString(deterministic=True), key)


def build_response(
    request: OpenedEnvelope,
    *,
    payload: pb_message.Message,
    key: signing.Signer,
    now: datetime,
    lifetime: timedelta = timedelta(seconds=120),
) -> envelope_pb2.Envelope:
    """A signed response answering `request` (binds message id and header digest)."""
    req = request.header
    header = envelope_pb2.Header(
        kind=RESPONSE, message_id=new_message_id(), correlation_id=req.correlation_id,
        sender=req.recipient, recipient=req.sender, service=req.service,
        payload_type=payload.DESCRIPTOR.full_name, purpose=req.purpose,
        legal_basis=req.legal_basis, created_at=to_timestamp(now),
        expires_at=to_timestamp(now + lifetime), in_reply_to=req.message_id,
        request_digest=request.digest)
    return seal(header, payload.SerializeToString(deterministic=True), key)


def parse_envelope(data: bytes, max_bytes: int) -> envelope_pb2.Envelope:
    """The Envelope in `data` as received off the wire: size first, then a strict parse.

    gRPC hands the broker the raw request bytes (no deserializer of its own), so
    random bytes are a documented refusal here, audited, instead of a transport fault.
    """
    if len(data) > max_bytes:
        raise EnvelopeError(f"envelope is {len(data)} bytes, over the {max_bytes}-byte limit",
                            reason="ENVELOPE_TOO_LARGE",
                            metadata={"size": str(len(data)), "limit": str(max_bytes)})
    env = envelope_pb2.Envelope()
    try:
        env.ParseFromString(data)
    except DecodeError:
        raise EnvelopeError("the request bytes are not a g2g.v1.Envelope",
                            reason="ENVELOPE_MALFORMED") from None
    try:
        schema.reject_unknown_fields(env)
    except SchemaError as exc:
        raise EnvelopeError(f"envelope: {exc.message}", reason="ENVELOPE_MALFORMED",
                            metadata=exc.metadata) from None
    return env


def parse_header(envelope: envelope_pb2.Envelope) -> envelope_pb2.Header:
    """Parse (not yet trust) the header bytes, strictly, and check its declared constraints."""
    header = parse_strict(envelope_pb2.Header(), envelope.header, "header")
    check_timestamp(header.created_at, "created_at")
    check_timestamp(header.expires_at, "expires_at")
    return header


M = TypeVar("M", bound=pb_message.Message)


def parse_strict(header: M, data: bytes, label: str) -> M:
    """`data` parsed into `header` (an envelope's or an event's header), no unknown
    field, its declared constraints checked: HEADER_UNPARSEABLE or HEADER_INVALID."""
    try:
        header.ParseFromString(data)
    except DecodeError:
        raise EnvelopeError(f"header bytes are not a {header.DESCRIPTOR.full_name}",
                            reason="HEADER_UNPARSEABLE") from None
    try:
        schema.reject_unknown_fields(header)
        schema.validate(header)
    except SchemaError as exc:
        raise EnvelopeError(f"{label}: {exc.message}", reason="HEADER_INVALID",
                            metadata=exc.metadata) from None
    return header


# google.protobuf.Timestamp's own valid range: 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z, nanos in [0, 1e9). Anything else cannot be a
# time, and `ToDatetime` would fail on it with an unrelated exception.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def check_timestamp(ts: Timestamp, field: str) -> None:
    """Refuse a header Timestamp outside the range google.protobuf.Timestamp defines."""
    if not (_MIN_SECONDS <= ts.seconds <= _MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000):
        raise EnvelopeError(f"header: {field} is not a valid timestamp",
                            reason="HEADER_INVALID",
                            metadata={"field": field, "rule": "timestamp.range"})


def peek_envelope(data: bytes) -> envelope_pb2.Envelope:
    """Best-effort parse of refused request bytes (empty if they are not an Envelope)."""
    env = envelope_pb2.Envelope()
    try:
        env.ParseFromString(data)
    except DecodeError:
        return envelope_pb2.Envelope()
    return env


def peek_header(envelope: envelope_pb2.Envelope) -> envelope_pb2.Header | None:
    """Best-effort, unvalidated parse so a rejected request's ids can still be audited."""
    header = envelope_pb2.Header()
    try:
        header.ParseFromString(envelope.header)
    except DecodeError:
        return None
    return header


def verify_signature(envelope: envelope_pb2.Envelope,
                     trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """The keyid of a valid signature over the exact header bytes by a trusted key."""
    return dsse.verify_required(envelope.signatures, trusted, dsse.HEADER_TYPE,
                                envelope.header, what="envelope", signer="sender")


def check_payload_digest(envelope: envelope_pb2.Envelope, header: envelope_pb2.Header) -> None:
    if sha256(envelope.payload) != header.payload_sha256:
        raise EnvelopeError("payload does not match the signed payload_sha256",
                            reason="PAYLOAD_DIGEST_MISMATCH")


def check_freshness(header: envelope_pb2.Header, now: datetime, rules: TimeRules) -> None:
    """created_at within the skew window, not expired, bounded lifetime."""
    check_window(from_timestamp(header.created_at), from_timestamp(header.expires_at), now, rules)


def check_window(created: datetime, expires: datetime, now: datetime, rules: TimeRules) -> None:
    """The §2.4 time rules for any signed object with a creation and an expiry time."""
    if created > now + rules.clock_skew:
        raise FreshnessError("created_at is in the future beyond the allowed clock skew",
                             reason="NOT_YET_VALID")
    if expires <= created or expires - created > rules.max_lifetime:
        raise FreshnessError(
            f"expires_at must be after created_at and at most "
            f"{int(rules.max_lifetime.total_seconds())} s later", reason="LIFETIME_TOO_LONG")
    if now >= expires + rules.clock_skew or created < now - rules.max_lifetime - rules.clock_skew:
        raise FreshnessError("the message has expired", reason="EXPIRED")


def open_envelope(
    envelope: envelope_pb2.Envelope,
    signer: Signer,
    *,
    now: datetime,
    rules: TimeRules,
    kind: int,
) -> OpenedEnvelope:
    """Verify `signer`'s signature over the raw header bytes, then parse and check them.

    The only way to get an OpenedEnvelope. Nothing reads the header before its
    signature verified; `signer` comes from what the caller already trusts, never
    from the header (docs/PROTOCOL.md §3). A refusal raised after the signature
    verified carries `signature_verified=True`; one raised by the signature check
    itself (or earlier) keeps False.
    """
    keyid = verify_signature(envelope, signer.signing_keys)
    try:
        header = parse_header(envelope)
        if header.kind != kind:
            raise EnvelopeError(f"expected a {envelope_pb2.MessageKind.Name(kind)} envelope",
                                reason="WRONG_KIND")
        if header.sender != signer.id:
            raise AuthenticationError(
                f"header sender {header.sender} is not the signer {signer.id}",
                reason="SENDER_MISMATCH")
        created = from_timestamp(header.created_at)  # once, for both checks below
        signer.check_signer(keyid, created)
        check_payload_digest(envelope, header)
        check_window(created, from_timestamp(header.expires_at), now, rules)  # freshness
    except G2GError as exc:
        # Refused, but the header bytes are the signer's own: say so to the caller's audit.
        exc.signature_verified = True
        raise
    return OpenedEnvelope(envelope=envelope, header=header, signer_keyid=keyid, _token=_OPENED)


def check_binding(answer: envelope_pb2.Header, req: envelope_pb2.Header,
                  request_digest: bytes) -> None:
    """A response must come from the recipient, to the sender, and name this exact request.

    `req` and `request_digest` are the request's header and SHA-256 of its bytes
    (an opened request's `.header` and `.digest`, or the request a consumer sent).
    """
    if (answer.sender != req.recipient or answer.recipient != req.sender
            or answer.service != req.service or answer.in_reply_to != req.message_id
            or answer.request_digest != request_digest
            or answer.correlation_id != req.correlation_id):
        raise EnvelopeError("the response does not answer this request",
                            reason="RESPONSE_MISMATCH")


def sign_attestation(body: envelope_pb2.AttestationBody,
                     key: signing.Signer) -> envelope_pb2.Attestation:
    body_bytes = body.SerializeToString(deterministic=True)
    return envelope_pb2.Attestation(
        body=body_bytes, signatures=[dsse.sign(key, dsse.ATTESTATION_TYPE, body_bytes)])


def open_attestation(attestation: envelope_pb2.Attestation,
                     trusted: Mapping[str, Ed25519PublicKey]) -> envelope_pb2.AttestationBody:
    """Verify the broker's signature over the exact body bytes, then parse them."""
    if dsse.verify_any(attestation.signatures, trusted, dsse.ATTESTATION_TYPE,
                       attestation.body) is None:
        raise SignatureError("attestation is not signed by the broker",
                             reason="ATTESTATION_INVALID")
    body = envelope_pb2.AttestationBody()
    try:
        body.ParseFromString(attestation.body)
    except DecodeError:
        raise EnvelopeError("attestation body unparseable", reason="ATTESTATION_INVALID") from None
    try:
        schema.reject_unknown_fields(body)
    except SchemaError as exc:
        # A field the provider cannot see is a condition it cannot honour (§2.1).
        raise AttestationError(f"attestation body: {exc.message}",
                               reason="ATTESTATION_UNKNOWN_FIELDS",
                               metadata={"numbers": exc.metadata["numbers"]}) from None
    return body


def now_utc() -> datetime:
    return datetime.now(UTC)
