"""docs/PROTOCOL.md test vectors: recomputed from the spec, independently of the broker code."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from g2g_sdk import envelope, fieldmask
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.catalog import message_class
from google.protobuf import descriptor_pool

from tests.vectors import make_protocol_vectors

V: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "protocol_v1.json").read_text())


def spec_pae(payload_type: str, body: bytes) -> bytes:
    # Written from the prose of docs/PROTOCOL.md, not from g2g_sdk.dsse.
    t = payload_type.encode()
    return b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(body)).encode() + \
        b" " + body


def test_the_implementation_reproduces_the_vectors_byte_for_byte() -> None:
    assert make_protocol_vectors.build() == V


@pytest.mark.parametrize("who", ["consumer", "provider", "broker"])
def test_keyid_is_sha256_of_raw_public_key(who: str) -> None:
    k = V["keys"][who]
    public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["seed_hex"])).public_key()
    raw = bytes.fromhex(k["public_hex"])
    assert public.public_bytes_raw() == raw
    assert hashlib.sha256(raw).hexdigest() == k["keyid"]


@pytest.mark.parametrize(("part", "signer", "type_field"), [
    ("request", "consumer", "header_type"), ("response", "provider", "header_type")])
def test_envelope_signatures_verify_over_pae_of_exact_header_bytes(
        part: str, signer: str, type_field: str) -> None:
    e = V[part]
    header = bytes.fromhex(e["header_hex"])
    message = spec_pae(V[type_field], header)
    assert message.hex() == e["pae_hex"]
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(V["keys"][signer]["public_hex"]))
    key.verify(bytes.fromhex(e["sig_hex"]), message)  # raises if wrong
    parsed = envelope_pb2.Header.FromString(header)
    assert parsed.payload_sha256 == hashlib.sha256(bytes.fromhex(e["payload_hex"])).digest()
    assert hashlib.sha256(header).hexdigest() == e["header_sha256_hex"]


def test_response_binds_the_request() -> None:
    req = envelope_pb2.Header.FromString(bytes.fromhex(V["request"]["header_hex"]))
    resp = envelope_pb2.Header.FromString(bytes.fromhex(V["response"]["header_hex"]))
    assert resp.in_reply_to == req.message_id
    assert resp.request_digest.hex() == V["request"]["header_sha256_hex"]


def test_attestation_signature_and_binding() -> None:
    a = V["attestation"]
    body = bytes.fromhex(a["body_hex"])
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(V["keys"]["broker"]["public_hex"]))
    key.verify(bytes.fromhex(a["sig_hex"]), spec_pae(V["attestation_type"], body))
    parsed = envelope_pb2.AttestationBody.FromString(body)
    assert parsed.request_digest.hex() == V["request"]["header_sha256_hex"]
    assert list(parsed.field_mask) == ["hits.entry_id", "hits.score"]


def test_one_flipped_header_bit_breaks_the_signature() -> None:
    e = V["request"]
    env = envelope_pb2.Envelope.FromString(bytes.fromhex(e["envelope_hex"]))
    consumer = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(V["keys"]["consumer"]["seed_hex"])).public_key()
    trusted = {V["keys"]["consumer"]["keyid"]: consumer}
    assert envelope.verify_signature(env, trusted) == V["keys"]["consumer"]["keyid"]
    tampered = bytearray(env.header)
    tampered[-1] ^= 1
    env.header = bytes(tampered)
    with pytest.raises(envelope.SignatureError):
        envelope.verify_signature(env, trusted)


def test_the_vector_request_is_fresh_exactly_inside_its_window() -> None:
    env = envelope_pb2.Envelope.FromString(bytes.fromhex(V["request"]["envelope_hex"]))
    header = envelope.parse_header(env)
    created = envelope.from_timestamp(header.created_at)
    envelope.check_freshness(header, created, envelope.TimeRules())
    with pytest.raises(envelope.FreshnessError):
        envelope.check_freshness(header, created + timedelta(seconds=120 + 301),
                                 envelope.TimeRules())


def test_protocol_document_quotes_the_current_vectors() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text().replace("\n", " ")
    for who in ("consumer", "provider", "broker"):
        assert V["keys"][who]["keyid"] in doc
    sig = V["request"]["sig_hex"]
    assert sig[:64] in doc
    assert sig[64:] in doc
    assert V["request"]["payload_hex"] in doc


def test_the_response_vector_sets_no_field_outside_its_attested_mask() -> None:
    body = envelope_pb2.AttestationBody.FromString(bytes.fromhex(V["attestation"]["body_hex"]))
    header = envelope_pb2.Header.FromString(bytes.fromhex(V["response"]["header_hex"]))
    payload = message_class(descriptor_pool.Default().FindMessageTypeByName(
        header.payload_type)).FromString(
        bytes.fromhex(V["response"]["payload_hex"]))
    assert payload.ListFields()  # the check below is not vacuous
    assert fieldmask.violations(payload, fieldmask.compiled(tuple(body.field_mask))) == []


def test_the_vectors_open_with_the_one_open_function() -> None:
    def signer(who: str, party: str) -> envelope.StaticSigner:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(V["keys"][who]["public_hex"]))
        return envelope.StaticSigner(party, {V["keys"][who]["keyid"]: public})

    request = envelope_pb2.Envelope.FromString(bytes.fromhex(V["request"]["envelope_hex"]))
    response = envelope_pb2.Envelope.FromString(bytes.fromhex(V["response"]["envelope_hex"]))
    created = envelope.from_timestamp(
        envelope_pb2.Header.FromString(request.header).created_at)
    opened = envelope.open_envelope(request, signer("consumer", "ID/GOV/POLRI"), now=created,
                                    rules=envelope.TimeRules(), kind=envelope.REQUEST)
    answer = envelope.open_envelope(response, signer("provider", "ID/GOV/IMIGRASI"),
                                    now=created, rules=envelope.TimeRules(),
                                    kind=envelope.RESPONSE)
    envelope.check_binding(answer.header, opened.header, opened.digest)
