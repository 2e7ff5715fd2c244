"""Regenerate tests/vectors/protocol_v1.json (run by hand only when the protocol changes).

The inputs are fixed (key seeds, header fields, times), Ed25519 is
deterministic, and protobuf deterministic serialisation of these messages is
canonical field order, so the outputs are stable across implementations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import dsse, envelope, keys
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk._gen.g2g.v1 import envelope_pb2

OUT = Path(__file__).with_name("protocol_v1.json")
CONSUMER_SEED = bytes(range(32))
PROVIDER_SEED = bytes(range(32, 64))
BROKER_SEED = bytes(range(64, 96))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def build() -> dict[str, Any]:
    consumer = Ed25519PrivateKey.from_private_bytes(CONSUMER_SEED)
    provider = Ed25519PrivateKey.from_private_bytes(PROVIDER_SEED)
    broker = Ed25519PrivateKey.from_private_bytes(BROKER_SEED)
    payload = watchlist_pb2.ScreenRequest(by_name=watchlist_pb2.NameQuery(
        full_name="Budi Santoso", date_of_birth="1970-01-31", nationality="IDN"))
    request = envelope.build_request(
        sender="ID/GOV/POLRI", recipient="ID/GOV/IMIGRASI",
        service="g2g.immigration.v1.Watchlist/Screen", payload=payload,
        purpose="criminal_investigation", legal_basis="UU 6/2011 Pasal 91", key=consumer,
        now=NOW, lifetime=timedelta(seconds=120),
        message_id="00000000-0000-4000-8000-000000000001")
    opened = envelope.open_envelope(
        request, envelope.StaticSigner("ID/GOV/POLRI", {keys.keyid(consumer.public_key()):
                                                        consumer.public_key()}),
        now=NOW, rules=envelope.TimeRules(), kind=envelope.REQUEST)
    body = envelope_pb2.AttestationBody(
        decision_id="00000000-0000-4000-8000-0000000000d1", request_digest=opened.digest,
        message_id=opened.header.message_id, consumer="ID/GOV/POLRI",
        provider="ID/GOV/IMIGRASI", service="g2g.immigration.v1.Watchlist/Screen",
        purpose="criminal_investigation", rule_id="imigrasi-watchlist-law-enforcement",
        policy_version="0123456789abcdef", field_mask=["hits.entry_id", "hits.score"],
        issued_at=envelope.to_timestamp(NOW), expires_at=opened.header.expires_at,
        broker_id="G2G/BROKER")
    attestation = envelope.sign_attestation(body, broker)
    response_payload = watchlist_pb2.ScreenResponse(
        # Only fields inside the attested mask (hits.entry_id, hits.score): every
        # vector obeys its own mask, as a provider must (§4).
        hits=[watchlist_pb2.Hit(entry_id="CKL-2024-0000001", score=0.975)])
    rh = envelope_pb2.Header(
        kind=envelope.RESPONSE, message_id="00000000-0000-4000-8000-000000000002",
        correlation_id=opened.header.correlation_id, sender="ID/GOV/IMIGRASI",
        recipient="ID/GOV/POLRI", service=opened.header.service,
        payload_type="g2g.immigration.v1.ScreenResponse", purpose=opened.header.purpose,
        legal_basis=opened.header.legal_basis, created_at=envelope.to_timestamp(NOW),
        expires_at=envelope.to_timestamp(NOW + timedelta(seconds=120)),
        in_reply_to=opened.header.message_id, request_digest=opened.digest)
    response = envelope.seal(rh, response_payload.SerializeToString(deterministic=True),
                             provider)

    def key_entry(key: Ed25519PrivateKey, seed: bytes) -> dict[str, str]:
        return {"seed_hex": seed.hex(), "public_hex": keys.raw_public(key.public_key()).hex(),
                "keyid": keys.keyid(key.public_key())}

    def env_entry(env: envelope_pb2.Envelope, kind: str) -> dict[str, Any]:
        return {"header_hex": env.header.hex(), "payload_hex": env.payload.hex(),
                "header_sha256_hex": envelope.sha256(env.header).hex(),
                "pae_hex": dsse.pae(kind, env.header).hex(),
                "keyid": env.signatures[0].keyid, "sig_hex": env.signatures[0].sig.hex(),
                "envelope_hex": env.SerializeToString(deterministic=True).hex()}

    return {
        "comment": "g2g protocol v1 test vectors; see docs/PROTOCOL.md section 'Test vectors'.",
        "keys": {"consumer": key_entry(consumer, CONSUMER_SEED),
                 "provider": key_entry(provider, PROVIDER_SEED),
                 "broker": key_entry(broker, BROKER_SEED)},
        "header_type": dsse.HEADER_TYPE,
        "attestation_type": dsse.ATTESTATION_TYPE,
        "request": env_entry(request, dsse.HEADER_TYPE),
        "attestation": {"body_hex": attestation.body.hex(),
                        "pae_hex": dsse.pae(dsse.ATTESTATION_TYPE, attestation.body).hex(),
                        "keyid": attestation.signatures[0].keyid,
                        "sig_hex": attestation.signatures[0].sig.hex()},
        "response": env_entry(response, dsse.HEADER_TYPE),
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
