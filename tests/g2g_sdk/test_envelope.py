"""Envelope checks, in protocol order, on values (no server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import envelope, keys
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import AuthenticationError, EnvelopeError, FreshnessError, SignatureError
from google.protobuf.timestamp_pb2 import Timestamp

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
RULES = envelope.TimeRules()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def request(key: Ed25519PrivateKey, **overrides: object) -> envelope_pb2.Envelope:
    params: dict[str, object] = {
        "sender": "ID/GOV/POLRI", "recipient": "ID/GOV/IMIGRASI",
        "service": "g2g.immigration.v1.Watchlist/Screen",
        "payload": watchlist_pb2.ScreenRequest(by_name=watchlist_pb2.NameQuery(full_name="Budi")),
        "purpose": "criminal_investigation", "legal_basis": "UU 6/2011", "key": key, "now": NOW}
    params.update(overrides)
    return envelope.build_request(**params)  # type: ignore[arg-type]


def signer(key: Ed25519PrivateKey, party: str = "ID/GOV/POLRI") -> envelope.StaticSigner:
    return envelope.StaticSigner(party, {keys.keyid(key.public_key()): key.public_key()})


def open_(env: envelope_pb2.Envelope, key: Ed25519PrivateKey, now: datetime = NOW,
          kind: int = envelope.REQUEST, party: str = "ID/GOV/POLRI") -> envelope.OpenedEnvelope:
    return envelope.open_envelope(env, signer(key, party), now=now, rules=RULES, kind=kind)


def test_round_trip_binds_payload_and_signer(key: Ed25519PrivateKey) -> None:
    env = request(key)
    opened = open_(env, key)
    assert opened.signer_keyid == keys.keyid(key.public_key())
    assert opened.header.payload_sha256 == envelope.sha256(env.payload)
    assert opened.header.payload_type == "g2g.immigration.v1.ScreenRequest"
    assert opened.header.correlation_id == opened.header.message_id
    assert opened.digest == envelope.sha256(env.header)


def test_header_bytes_are_verified_as_received(key: Ed25519PrivateKey) -> None:
    env = request(key)
    # Re-serialising the parsed header must not be needed: verification uses env.header.
    env.header = env.header.replace(b"UU 6/2011", b"UU 6/2012")
    with pytest.raises(SignatureError) as info:
        open_(env, key)
    assert (info.value.reason, info.value.signature_verified) == ("SIGNATURE_INVALID", False)


def test_unknown_key_and_missing_signature(key: Ed25519PrivateKey) -> None:
    env = request(key)
    with pytest.raises(SignatureError) as info:
        open_(env, Ed25519PrivateKey.generate())
    assert (info.value.reason, info.value.signature_verified) == ("UNKNOWN_KEY", False)
    del env.signatures[:]
    with pytest.raises(SignatureError) as info:
        open_(env, key)
    assert info.value.reason == "SIGNATURE_INVALID"


def test_payload_digest(key: Ed25519PrivateKey) -> None:
    env = request(key)
    env.payload += b"\x00"
    with pytest.raises(EnvelopeError) as info:
        open_(env, key)
    assert (info.value.reason, info.value.signature_verified) == ("PAYLOAD_DIGEST_MISMATCH", True)


@pytest.mark.parametrize(("created", "lifetime", "reason"), [
    (NOW - timedelta(minutes=20), timedelta(minutes=2), "EXPIRED"),
    (NOW + timedelta(minutes=6), timedelta(minutes=2), "NOT_YET_VALID"),
    (NOW, timedelta(minutes=11), "LIFETIME_TOO_LONG"),
    (NOW, timedelta(0), "LIFETIME_TOO_LONG"),
])
def test_freshness(key: Ed25519PrivateKey, created: datetime, lifetime: timedelta,
                   reason: str) -> None:
    env = request(key, now=created, lifetime=lifetime)
    with pytest.raises(FreshnessError) as info:
        open_(env, key)
    # Refused after the signature verified: the caller may treat the header as signed.
    assert (info.value.reason, info.value.signature_verified) == (reason, True)


def test_clock_skew_tolerated(key: Ed25519PrivateKey) -> None:
    open_(request(key, now=NOW + timedelta(minutes=4)), key)
    open_(request(key, now=NOW - timedelta(minutes=3)), key)


def test_wrong_kind(key: Ed25519PrivateKey) -> None:
    with pytest.raises(EnvelopeError) as info:
        open_(request(key), key, kind=envelope.RESPONSE)
    assert info.value.reason == "WRONG_KIND"


def test_unparseable_and_invalid_headers(key: Ed25519PrivateKey) -> None:
    env = request(key)
    env.header = b"\xff"
    with pytest.raises(EnvelopeError) as info:
        envelope.parse_header(env)
    assert info.value.reason == "HEADER_UNPARSEABLE"
    env = request(key, sender="polri")
    with pytest.raises(EnvelopeError) as info:
        envelope.parse_header(env)
    assert (info.value.reason, info.value.metadata["field"]) == ("HEADER_INVALID", "sender")


def test_response_binding(key: Ed25519PrivateKey) -> None:
    req = open_(request(key), key)
    answer = envelope.build_response(req, payload=watchlist_pb2.ScreenResponse(), key=key,
                                     now=NOW)
    opened = open_(answer, key, kind=envelope.RESPONSE, party="ID/GOV/IMIGRASI")
    envelope.check_binding(opened.header, req.header, req.digest)
    other = open_(request(key), key)
    with pytest.raises(EnvelopeError) as info:
        envelope.check_binding(opened.header, other.header, other.digest)
    assert info.value.reason == "RESPONSE_MISMATCH"


def test_size_limit(key: Ed25519PrivateKey) -> None:
    data = request(key).SerializeToString()
    assert envelope.parse_envelope(data, len(data)).SerializeToString() == data
    with pytest.raises(EnvelopeError) as info:
        envelope.parse_envelope(data, len(data) - 1)
    assert (info.value.reason, info.value.metadata) == (
        "ENVELOPE_TOO_LARGE", {"size": str(len(data)), "limit": str(len(data) - 1)})


@pytest.mark.parametrize("data", [b"\xff" * 10, b"\x0a\x05ab", b"\x08\x01"])
def test_bytes_that_are_not_an_envelope_are_malformed(data: bytes) -> None:
    with pytest.raises(EnvelopeError) as info:
        envelope.parse_envelope(data, 1 << 20)
    assert info.value.reason == "ENVELOPE_MALFORMED"
    assert envelope.peek_envelope(data).ByteSize() in (0, len(data))


@pytest.mark.parametrize("ts", [
    Timestamp(seconds=1, nanos=-1), Timestamp(seconds=1, nanos=1_000_000_000),
    Timestamp(seconds=2**62), Timestamp(seconds=-(2**62)), Timestamp(seconds=253_402_300_800),
])
def test_timestamps_outside_the_protobuf_range_are_header_invalid(
        key: Ed25519PrivateKey, ts: Timestamp) -> None:
    env = request(key)
    header = envelope.parse_header(env)
    header.expires_at.CopyFrom(ts)
    env = envelope.seal(header, env.payload, key)
    with pytest.raises(EnvelopeError) as info:
        envelope.parse_header(env)
    assert (info.value.reason, info.value.metadata) == (
        "HEADER_INVALID", {"field": "expires_at", "rule": "timestamp.range"})


def test_message_ids_are_random_uuid4_text() -> None:
    ids = {envelope.new_message_id() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_the_extreme_valid_timestamps_convert() -> None:
    for seconds in (-62_135_596_800, 253_402_300_799):
        envelope.check_timestamp(Timestamp(seconds=seconds, nanos=999_999_999), "t")
        envelope.from_timestamp(Timestamp(seconds=seconds, nanos=999_999_999))


def test_attestation_round_trip_and_forgery(key: Ed25519PrivateKey) -> None:
    body = envelope_pb2.AttestationBody(decision_id="d-1", rule_id="r", field_mask=["hits"])
    att = envelope.sign_attestation(body, key)
    trusted = {keys.keyid(key.public_key()): key.public_key()}
    assert envelope.open_attestation(att, trusted) == body
    att.body = att.body.replace(b"hits", b"hitz")
    with pytest.raises(SignatureError) as info:
        envelope.open_attestation(att, trusted)
    assert info.value.reason == "ATTESTATION_INVALID"


@pytest.mark.parametrize("moment", [
    datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 11, 25, 15, 4, 5, 678901, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 3, 1, 7, 0),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC) + timedelta(microseconds=1)])
def test_to_timestamp_matches_protobuf(moment: datetime) -> None:
    expected = envelope.Timestamp()
    expected.FromDatetime(moment.astimezone(UTC))
    assert envelope.to_timestamp(moment) == expected
    assert envelope.from_timestamp(envelope.to_timestamp(moment)) == moment.astimezone(UTC)


def test_the_signature_is_verified_before_the_header_is_read(key: Ed25519PrivateKey) -> None:
    # Header bytes that would not even parse: an unverified signer learns only that
    # the signature fails, because nothing parses the bytes before it verifies.
    env = request(key)
    env.header = b"\xff"
    with pytest.raises(SignatureError) as info:
        open_(env, key)
    assert info.value.reason == "SIGNATURE_INVALID"


def test_the_header_sender_must_be_the_signer(key: Ed25519PrivateKey) -> None:
    with pytest.raises(AuthenticationError) as info:
        open_(request(key, sender="ID/GOV/BIN"), key)  # POLRI's key, BIN's name
    assert (info.value.reason, info.value.signature_verified) == ("SENDER_MISMATCH", True)


def test_an_opened_envelope_comes_only_from_open_envelope(key: Ed25519PrivateKey) -> None:
    env = request(key)
    with pytest.raises(TypeError):
        envelope.OpenedEnvelope(env, envelope.parse_header(env), "")
