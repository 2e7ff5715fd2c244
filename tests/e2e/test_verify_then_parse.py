"""End-to-end: the broker verifies the signature over the raw header bytes before it
reads them, picks the keys from the TLS identity, and never records a claim as fact.

Each case sends over POLRI's real mTLS connection and asserts the status, the
reason, and the one `rejected` record: its consumer is always the TLS identity,
and header fields are listed in `unverified` exactly when the signature over the
header bytes did not verify (a validly signed request refused later omits the key).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from g2g_sdk import dsse, envelope, pki
from g2g_sdk._gen.g2g.v1 import envelope_pb2

from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
BIN = "ID/GOV/BIN"
ALL_CLAIMED = ["correlation_id", "legal_basis", "message_id", "provider", "purpose", "service"]


def _request(fed: Fed, signer: str = POLRI, **kwargs: Any) -> envelope_pb2.Envelope:
    params: dict[str, Any] = {
        "sender": POLRI, "recipient": IMIGRASI, "service": SCREEN,
        "payload": name_query("Budi Santoso"), "purpose": "criminal_investigation",
        "legal_basis": LEGAL_BASIS, "key": pki.load_identity(fed.pki_dir, signer).signing_key,
        "now": datetime.now(UTC)}
    return envelope.build_request(**(params | kwargs))


async def _refused(fed: Fed, env: envelope_pb2.Envelope, code: grpc.StatusCode,
                   reason: str) -> dict[str, Any]:
    """Send `env` as POLRI; it must fail with exactly (code, reason); its one record."""
    before = len(await fed.all_records())
    async with fed.client(POLRI) as client:
        await expect_error(client.send(env), code, reason)
    records = (await fed.all_records())[before:]
    assert [(r["kind"], r["consumer"], r["status_code"], r["reason"]) for r in records] == [
        ("rejected", POLRI, code.name, reason)]
    return records[0]


def _resign(env: envelope_pb2.Envelope, header_bytes: bytes, fed: Fed,
            signer: str = POLRI) -> envelope_pb2.Envelope:
    """`env` with these header bytes, signed (validly) by `signer`."""
    key = pki.load_identity(fed.pki_dir, signer).signing_key
    return envelope_pb2.Envelope(header=header_bytes, payload=env.payload,
                                 signatures=[dsse.sign(key, dsse.HEADER_TYPE, header_bytes)])


async def test_unparseable_header_bytes_are_a_signature_failure_first(fed: Fed) -> None:
    env = _request(fed)
    env.header = b"\xff\xff not a header"  # the old signature no longer covers these bytes
    record = await _refused(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")
    assert (record["message_id"], record.get("unverified")) == ("", None)


async def test_an_invalid_header_signed_by_someone_else_is_never_parsed(fed: Fed) -> None:
    # BIN's key over a header that breaks its constraints: the signature is what fails.
    bad = envelope_pb2.Header.FromString(_request(fed).header)
    bad.purpose = "NOT A PURPOSE"
    env = _resign(_request(fed), bad.SerializeToString(), fed, signer=BIN)
    record = await _refused(fed, env, grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_KEY")
    assert (record["purpose"], record["unverified"]) == ("NOT A PURPOSE", ALL_CLAIMED)


async def test_a_header_claiming_another_sender_is_recorded_under_the_tls_identity(
        fed: Fed) -> None:
    env = _request(fed, signer=BIN, sender=BIN)
    record = await _refused(fed, env, grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_KEY")
    assert record["unverified"] == ALL_CLAIMED
    assert record["consumer"] == POLRI  # never the header's BIN


async def test_a_validly_signed_but_invalid_header_is_header_invalid(fed: Fed) -> None:
    bad = envelope_pb2.Header.FromString(_request(fed).header)
    bad.purpose = "NOT A PURPOSE"
    env = _resign(_request(fed), bad.SerializeToString(), fed)
    record = await _refused(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "HEADER_INVALID")
    # POLRI's signature over these bytes verified: refused, but its own claims.
    assert (record["purpose"], "unverified" in record) == ("NOT A PURPOSE", False)


async def test_an_expired_but_validly_signed_request_has_no_unverified_fields(
        fed: Fed) -> None:
    env = _request(fed, now=datetime.now(UTC) - timedelta(hours=1))
    claimed = envelope_pb2.Header.FromString(env.header)
    record = await _refused(fed, env, grpc.StatusCode.FAILED_PRECONDITION, "EXPIRED")
    assert "unverified" not in record
    assert (record["message_id"], record["correlation_id"], record["provider"],
            record["service"], record["purpose"], record["legal_basis"]) == (
        claimed.message_id, claimed.correlation_id, IMIGRASI, SCREEN,
        "criminal_investigation", LEGAL_BASIS)


async def test_a_header_naming_another_sender_signed_by_the_caller_is_its_own_claim(
        fed: Fed) -> None:
    # POLRI's valid signature over a header claiming BIN sent it.
    env = _request(fed, sender=BIN)
    record = await _refused(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SENDER_MISMATCH")
    assert (record["consumer"], "unverified" in record) == (POLRI, False)


async def test_a_tampered_header_with_a_bad_signature_is_recorded_unverified(
        fed: Fed) -> None:
    env = _request(fed)
    tampered = envelope_pb2.Header.FromString(env.header)
    tampered.purpose = "national_security"  # parses fine; the signature no longer covers it
    env.header = tampered.SerializeToString()
    record = await _refused(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")
    assert (record["purpose"], record["message_id"], record["unverified"]) == (
        "national_security", tampered.message_id, ALL_CLAIMED)


async def test_records_of_an_opened_request_carry_no_unverified_key(fed: Fed) -> None:
    env = _request(fed)
    async with fed.client(POLRI) as client:
        await client.send(env)
    records = await fed.records_for(envelope_pb2.Header.FromString(env.header).message_id)
    assert [(r["kind"], r["status_code"], "unverified" in r) for r in records] == [
        ("request", "", False), ("outcome", "OK", False)]
