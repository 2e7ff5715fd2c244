"""Property-based: envelopes, headers, attestations and field masks under hostile input.

Every input is either accepted or refused with a `G2GError` (a documented
reason); nothing raises anything else, and no tampered input is ever accepted.
`make test` runs a short derandomised pass; `make fuzz` a long random one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import dsse, envelope, fieldmask, keys, status
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import G2GError
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from hypothesis import assume, given
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
RULES = envelope.TimeRules()
SENDER = "ID/GOV/POLRI"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
BROKER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
SIGNER = envelope.StaticSigner(SENDER, {keys.keyid(KEY.public_key()): KEY.public_key()})
BROKER_KEYS = {keys.keyid(BROKER_KEY.public_key()): BROKER_KEY.public_key()}
MAX = 1 << 20


def _valid() -> envelope_pb2.Envelope:
    return envelope.build_request(
        sender=SENDER, recipient="ID/GOV/IMIGRASI", service="g2g.immigration.v1.Watchlist/Screen",
        payload=wl.ScreenRequest(by_name=wl.NameQuery(full_name="Budi Santoso")),
        purpose="criminal_investigation", legal_basis="UU 6/2011 Pasal 91", key=KEY, now=NOW,
        message_id="m-00000001")


VALID = _valid()


def _open(env: envelope_pb2.Envelope) -> envelope.OpenedEnvelope:
    return envelope.open_envelope(env, SIGNER, now=NOW, rules=RULES, kind=envelope.REQUEST)


def _signed(header_bytes: bytes, payload: bytes) -> envelope_pb2.Envelope:
    return envelope_pb2.Envelope(header=header_bytes, payload=payload,
                                 signatures=[dsse.sign(KEY, dsse.HEADER_TYPE, header_bytes)])


@given(st.binary(max_size=2048))
def test_any_bytes_parse_as_an_envelope_or_are_refused(data: bytes) -> None:
    reason = ""
    try:
        env = envelope.parse_envelope(data, MAX)
    except G2GError as exc:
        reason = exc.reason
    else:
        assert env.ByteSize() <= len(data)
    assert reason in ("", "ENVELOPE_MALFORMED")


@given(st.binary(max_size=512), st.binary(max_size=256),
       st.lists(st.tuples(st.text(max_size=70), st.binary(max_size=80)), max_size=6))
def test_an_arbitrary_envelope_never_opens(header: bytes, payload: bytes,
                                           sigs: list[tuple[str, bytes]]) -> None:
    env = envelope_pb2.Envelope(header=header, payload=payload, signatures=[
        envelope_pb2.Signature(keyid=k, sig=s) for k, s in sigs])
    with pytest.raises(G2GError):
        _open(env)


_ints = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1),
                  st.sampled_from([0, -1, 1, 10**9, 2**62, -(2**62), 253_402_300_799,
                                   253_402_300_800, -62_135_596_801]))
_nanos = st.one_of(st.integers(min_value=-(2**31), max_value=2**31 - 1),
                   st.sampled_from([-1, 0, 999_999_999, 10**9]))
_texts = st.one_of(st.text(max_size=80), st.sampled_from([
    "", SENDER, "ID/GOV/IMIGRASI", "g2g.immigration.v1.Watchlist/Screen",
    "g2g.immigration.v1.ScreenRequest", "criminal_investigation", "UU 6/2011 \u202e",
    "a\x00b", "m-00000001"]))


@st.composite
def _headers(draw: st.DrawFn) -> envelope_pb2.Header:
    created = Timestamp(seconds=draw(_ints), nanos=draw(_nanos))
    expires = Timestamp(seconds=draw(_ints), nanos=draw(_nanos))
    return envelope_pb2.Header(
        version=draw(st.sampled_from([0, 1, 2])), kind=draw(st.sampled_from([0, 1, 2, 7])),
        message_id=draw(_texts), correlation_id=draw(_texts), sender=draw(_texts),
        recipient=draw(_texts), service=draw(_texts), payload_type=draw(_texts),
        payload_sha256=draw(st.binary(max_size=40)), purpose=draw(_texts),
        legal_basis=draw(_texts), created_at=created, expires_at=expires,
        in_reply_to=draw(_texts), request_digest=draw(st.binary(max_size=40)))


@given(_headers(), st.binary(max_size=64), st.binary(max_size=32))
def test_any_signed_header_opens_or_is_refused_with_a_reason(
        header: envelope_pb2.Header, extra: bytes, payload: bytes) -> None:
    """Validly signed but arbitrary header bytes: the checks after the signature hold."""
    env = _signed(header.SerializeToString() + extra, payload)
    try:
        opened = _open(env)
    except G2GError as exc:
        status.to_status(exc)  # every refusal maps to a bounded status
        return
    assert opened.header_bytes == env.header
    assert opened.payload == env.payload


_FIELDS = ("header", "payload", "sig", "keyid")


@given(st.sampled_from(_FIELDS), st.integers(min_value=0), st.binary(min_size=1, max_size=8),
       st.sampled_from(["flip", "insert", "truncate"]))
def test_a_tampered_envelope_is_never_accepted(field: str, where: int, noise: bytes,
                                               how: str) -> None:
    env = envelope_pb2.Envelope()
    env.CopyFrom(VALID)
    target = env.signatures[0] if field in ("sig", "keyid") else env
    name = "sig" if field == "sig" else "keyid" if field == "keyid" else field
    value = getattr(target, name)
    data = value.encode() if isinstance(value, str) else value
    i = where % (len(data) + 1)
    if how == "flip" and i < len(data):
        changed = data[:i] + bytes([data[i] ^ (noise[0] or 1)]) + data[i + 1:]
    elif how == "insert":
        changed = data[:i] + noise + data[i:]
    else:
        changed = data[:i]
    assume(changed != data)
    if isinstance(value, str):
        try:
            setattr(target, name, changed.decode())
        except UnicodeDecodeError:
            return
    else:
        setattr(target, name, changed)
    with pytest.raises(G2GError):
        _open(env)


def test_the_untampered_envelope_opens() -> None:  # the property above is not vacuous
    assert _open(VALID).header.message_id == "m-00000001"


ATTESTATION = envelope.sign_attestation(envelope_pb2.AttestationBody(
    decision_id="d-1", message_id="m-00000001", consumer=SENDER, provider="ID/GOV/IMIGRASI",
    service="g2g.immigration.v1.Watchlist/Screen", field_mask=["hits"]), BROKER_KEY)


@given(st.binary(max_size=512))
def test_any_signed_attestation_body_opens_or_is_refused(body: bytes) -> None:
    att = envelope.sign_attestation(envelope_pb2.AttestationBody(), BROKER_KEY)
    att.body = body
    att.signatures[0].CopyFrom(dsse.sign(BROKER_KEY, dsse.ATTESTATION_TYPE, body))
    try:
        opened = envelope.open_attestation(att, BROKER_KEYS)
    except G2GError:
        return
    assert opened.SerializeToString() == body or opened.ByteSize() <= len(body)


@given(st.integers(min_value=0), st.binary(min_size=1, max_size=4), st.booleans())
def test_a_tampered_attestation_is_never_accepted(where: int, noise: bytes,
                                                  in_body: bool) -> None:
    att = envelope_pb2.Attestation()
    att.CopyFrom(ATTESTATION)
    data = att.body if in_body else att.signatures[0].sig
    i = where % len(data)
    changed = data[:i] + bytes([data[i] ^ (noise[0] or 1)]) + data[i + 1:]
    if in_body:
        att.body = changed
    else:
        att.signatures[0].sig = changed
    with pytest.raises(G2GError):
        envelope.open_attestation(att, BROKER_KEYS)


_PATH_PARTS = st.sampled_from(["hits", "entry", "entry_id", "score", "full_name", "aliases",
                               "threshold", "listed_entries", "matched_fields", "x", "",
                               "total_matches", "truncated"])
_PATHS = st.lists(st.lists(_PATH_PARTS, min_size=1, max_size=4).map(".".join), max_size=6)


@st.composite
def _responses(draw: st.DrawFn) -> wl.ScreenResponse:
    hits = [wl.Hit(entry_id=draw(st.text(max_size=5)),
                         score=draw(st.floats(0, 1)),
                         entry=wl.WatchlistEntry(full_name=draw(st.text(max_size=10)),
                                                 aliases=draw(st.lists(st.text(max_size=5),
                                                                       max_size=2))))
            for _ in range(draw(st.integers(0, 3)))]
    return wl.ScreenResponse(hits=hits, threshold=draw(st.floats(0, 1)),
                             listed_entries=draw(st.integers(0, 2**31 - 1)))


@given(_PATHS, _responses())
def test_a_mask_applied_leaves_nothing_outside_it(paths: list[str],
                                                  msg: wl.ScreenResponse) -> None:
    mask = fieldmask.MaskTree.compile(paths)
    fieldmask.apply(msg, mask)
    assert fieldmask.violations(msg, mask) == []
    everything = fieldmask.MaskTree.compile(fieldmask.top_level_paths(msg.DESCRIPTOR))
    assert fieldmask.violations(msg, everything) == []


@given(_headers())
def test_freshness_never_fails_except_with_a_reason(header: envelope_pb2.Header) -> None:
    try:
        envelope.check_timestamp(header.created_at, "created_at")
        envelope.check_timestamp(header.expires_at, "expires_at")
        envelope.check_freshness(header, NOW + timedelta(seconds=1), RULES)
    except G2GError:
        return


@given(st.dictionaries(st.text(max_size=80), st.text(max_size=2000), max_size=30),
       st.text(max_size=3000))
def test_any_error_status_stays_within_its_bounds(metadata: dict[str, str],
                                                  message: str) -> None:
    st_ = status.to_status(G2GError(message, metadata=metadata))
    assert len(st_.message.encode()) <= status.MAX_MESSAGE_BYTES
    info = error_details_pb2.ErrorInfo()
    assert st_.details[0].Unpack(info)
    assert len(info.metadata) <= 2 * status.MAX_METADATA_ENTRIES + 1
    assert all(len(v.encode()) <= status.MAX_VALUE_BYTES for v in info.metadata.values())
    assert len(st_.SerializeToString()) < 8192
