"""End-to-end: every step of the broker pipeline over real mTLS sockets.

Each bad input asserts the exact gRPC code, the ErrorInfo reason, and the
audit record the broker wrote; the last test checks the broker still serves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from g2g_sdk import dsse, envelope, pki
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import G2GError

from tests.e2e.conftest import (
    LEGAL_BASIS,
    POLRI,
    SCREEN,
    Fed,
    expect_error,
    name_query,
)

pytestmark = pytest.mark.asyncio


async def test_allowed_screen_returns_provider_signed_hit(fed: Fed) -> None:
    subject = fed.listed_subject
    async with fed.client(POLRI) as client:
        answer = await client.call(
            SCREEN, name_query(subject.full_name, subject.date_of_birth),
            purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert answer.header.sender == "ID/GOV/IMIGRASI"
    assert answer.header.recipient == POLRI
    assert answer.header.kind == envelope_pb2.MESSAGE_KIND_RESPONSE
    assert isinstance(answer.payload, watchlist_pb2.ScreenResponse)
    assert [h.entry_id for h in answer.payload.hits][:1] == [subject.entry_id]
    records = await fed.records_for(answer.header.in_reply_to)
    assert [(r["kind"], r["decision"], r["status_code"]) for r in records] == [
        ("request", "allow", ""), ("outcome", "allow", "OK")]
    assert records[0]["rule_id"] == records[1]["rule_id"] != ""
    assert records[1]["response_digest"] == envelope.sha256(answer.envelope.header).hex()
    assert fed.federation.broker.broker.tally == {"OK": 1}  # what `g2g up` reports


async def test_agency_without_rule_is_denied_naming_no_rule(fed: Fed) -> None:
    async with fed.client("ID/GOV/BEA-CUKAI") as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="tax_audit")
        err = await expect_error(client.send(env), grpc.StatusCode.PERMISSION_DENIED,
                                 "POLICY_DENIED")
    assert err.metadata["rule_id"] == "none"
    assert "no rule matched" in err.message
    (record,) = await fed.records_for(envelope.parse_header(env).message_id)
    assert (record["kind"], record["decision"], record["status_code"], record["rule_id"]) == (
        "rejected", "deny", "PERMISSION_DENIED", "")
    assert fed.federation.broker.broker.tally == {"PERMISSION_DENIED": 1}


async def _bad(fed: Fed, env: envelope_pb2.Envelope, code: grpc.StatusCode, reason: str,
               *, sender: str = POLRI) -> G2GError:
    async with fed.client(sender) as client:
        err = await expect_error(client.send(env), code, reason)
    header = envelope_pb2.Header()
    header.ParseFromString(env.header)
    records = await fed.records_for(header.message_id) if header.message_id else []
    assert records, "the rejected request was not audited"
    assert records[-1]["status_code"] == code.name
    assert records[-1]["reason"] == reason
    return err


def _polri_request(fed: Fed, **kwargs: object) -> envelope_pb2.Envelope:
    identity = pki.load_identity(fed.pki_dir, POLRI)
    params: dict[str, object] = {
        "sender": POLRI, "recipient": "ID/GOV/IMIGRASI", "service": SCREEN,
        "payload": name_query("Budi Santoso"), "purpose": "criminal_investigation",
        "legal_basis": LEGAL_BASIS, "key": identity.signing_key, "now": datetime.now(UTC)}
    params.update(kwargs)
    return envelope.build_request(**params)  # type: ignore[arg-type]


async def test_tampered_header_is_unauthenticated(fed: Fed) -> None:
    env = _polri_request(fed)
    env.header = env.header.replace(b"Pasal 91", b"Pasal 92")
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")


async def test_tampered_payload_is_invalid(fed: Fed) -> None:
    env = _polri_request(fed)
    env.payload = name_query("Someone Else").SerializeToString()
    await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "PAYLOAD_DIGEST_MISMATCH")


async def test_signature_by_another_agencys_key(fed: Fed) -> None:
    env = _polri_request(fed, key=pki.load_identity(fed.pki_dir, "ID/GOV/BIN").signing_key)
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_KEY")


async def test_forged_signature_with_registered_keyid(fed: Fed) -> None:
    env = _polri_request(fed)
    env.signatures[0].sig = bytes(64)
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")


async def test_unsigned_envelope(fed: Fed) -> None:
    env = _polri_request(fed)
    del env.signatures[:]
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")


async def test_sender_must_match_client_certificate(fed: Fed) -> None:
    # Signed by POLRI (the TLS identity) but claiming to be BIN.
    env = _polri_request(fed, sender="ID/GOV/BIN")
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SENDER_MISMATCH")


async def test_keys_come_from_the_client_certificate_not_the_header(fed: Fed) -> None:
    # Signed by BIN as BIN, sent over POLRI's connection: POLRI's keys are the ones tried.
    bin_key = pki.load_identity(fed.pki_dir, "ID/GOV/BIN").signing_key
    env = _polri_request(fed, sender="ID/GOV/BIN", key=bin_key)
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_KEY")


async def test_expired_message(fed: Fed) -> None:
    env = _polri_request(fed, now=datetime.now(UTC) - timedelta(hours=1))
    await _bad(fed, env, grpc.StatusCode.FAILED_PRECONDITION, "EXPIRED")


async def test_message_from_the_future(fed: Fed) -> None:
    env = _polri_request(fed, now=datetime.now(UTC) + timedelta(hours=1))
    await _bad(fed, env, grpc.StatusCode.FAILED_PRECONDITION, "NOT_YET_VALID")


async def test_lifetime_too_long(fed: Fed) -> None:
    env = _polri_request(fed, lifetime=timedelta(days=1))
    await _bad(fed, env, grpc.StatusCode.FAILED_PRECONDITION, "LIFETIME_TOO_LONG")


async def test_replayed_message_is_refused(fed: Fed) -> None:
    env = _polri_request(fed)
    async with fed.client(POLRI) as client:
        await client.send(env)
        await expect_error(client.send(env), grpc.StatusCode.ALREADY_EXISTS, "REPLAYED")
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"]) for r in records] == [
        ("request", ""), ("outcome", "OK"), ("rejected", "ALREADY_EXISTS")]


async def test_unknown_service(fed: Fed) -> None:
    env = _polri_request(fed, service="g2g.immigration.v1.Watchlist/Delete")
    await _bad(fed, env, grpc.StatusCode.NOT_FOUND, "UNKNOWN_SERVICE")


async def test_service_not_offered_by_recipient(fed: Fed) -> None:
    env = _polri_request(fed, recipient="ID/GOV/BIN")
    await _bad(fed, env, grpc.StatusCode.NOT_FOUND, "RECIPIENT_MISMATCH")


async def test_wrong_payload_type(fed: Fed) -> None:
    env = _polri_request(fed, payload=watchlist_pb2.NameQuery(full_name="Budi Santoso"))
    await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "PAYLOAD_TYPE_MISMATCH")


async def test_unknown_fields_are_refused(fed: Fed) -> None:
    identity = pki.load_identity(fed.pki_dir, POLRI)
    payload = name_query("Budi Santoso").SerializeToString() + b"\xa8\x06\x01"  # field 101
    header = envelope_pb2.Header(
        kind=envelope.REQUEST, message_id=envelope.new_message_id(), correlation_id="c-1",
        sender=POLRI, recipient="ID/GOV/IMIGRASI", service=SCREEN,
        payload_type="g2g.immigration.v1.ScreenRequest", purpose="criminal_investigation",
        legal_basis=LEGAL_BASIS, created_at=envelope.to_timestamp(datetime.now(UTC)),
        expires_at=envelope.to_timestamp(datetime.now(UTC) + timedelta(seconds=60)))
    env = envelope.seal(header, payload, identity.signing_key)
    err = await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_FIELDS")
    assert err.metadata["numbers"] == "101"


async def test_constraint_violation_names_the_field(fed: Fed) -> None:
    query = watchlist_pb2.ScreenRequest(by_document=watchlist_pb2.DocumentQuery(
        type=watchlist_pb2.DOCUMENT_TYPE_PASSPORT, number="b-12!", issuing_country="IDN"))
    env = _polri_request(fed, payload=query)
    err = await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert err.metadata == {"field": "by_document.number", "rule": "string.pattern"}


async def test_empty_query_violates_the_oneof(fed: Fed) -> None:
    env = _polri_request(fed, payload=watchlist_pb2.ScreenRequest())
    err = await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert err.metadata["field"] == "query"


async def test_oversized_envelope(fed: Fed) -> None:
    env = _polri_request(fed)
    env.payload = b"\x00" * (fed.federation.config.limits.max_envelope_bytes + 1)
    err = await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "ENVELOPE_TOO_LARGE")
    assert err.metadata["limit"] == str(fed.federation.config.limits.max_envelope_bytes)


async def test_unparseable_header(fed: Fed) -> None:
    env = _polri_request(fed)
    env.header = b"\xff\xff\xff"  # signed by POLRI: the signature verifies, then parsing fails
    key = pki.load_identity(fed.pki_dir, POLRI).signing_key
    env.signatures[0].CopyFrom(dsse.sign(key, dsse.HEADER_TYPE, env.header))
    async with fed.client(POLRI) as client:
        await expect_error(client.send(env), grpc.StatusCode.INVALID_ARGUMENT,
                           "HEADER_UNPARSEABLE")
    rows = await fed.all_records()
    assert rows[-1]["reason"] == "HEADER_UNPARSEABLE"
    assert rows[-1]["consumer"] == POLRI  # identity from the certificate is still recorded


async def test_header_constraint_violation(fed: Fed) -> None:
    env = _polri_request(fed, purpose="Not A Purpose")
    err = await _bad(fed, env, grpc.StatusCode.INVALID_ARGUMENT, "HEADER_INVALID")
    assert err.metadata["field"] == "purpose"


async def test_signature_list_is_bounded(fed: Fed) -> None:
    env = _polri_request(fed)
    good = env.signatures[0]
    del env.signatures[:]
    env.signatures.extend([envelope_pb2.Signature(keyid=good.keyid, sig=bytes(64))]
                          * dsse.MAX_SIGNATURES + [good])
    await _bad(fed, env, grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")


async def test_broker_keeps_serving_after_bad_input(fed: Fed) -> None:
    for _ in range(3):
        env = _polri_request(fed)
        env.header = env.header[:-1]
        async with fed.client(POLRI) as client:
            with pytest.raises(G2GError):
                await client.send(env)
    subject = fed.listed_subject
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query(subject.full_name),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert answer.payload.hits  # type: ignore[attr-defined]
