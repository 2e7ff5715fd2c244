"""End-to-end: the provider toolkit's own refusals, called as the broker over mTLS."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from g2g_sdk import dsse, envelope, errors, pki, status, tls
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
UNKNOWN_FIELD_99 = b"\x98\x06\x01"  # tag (99 << 3 | varint), value 1: not in AttestationBody


def _request(fed: Fed, extra: bytes, expires_at: Timestamp | None = None,
             recipient: str = IMIGRASI) -> provider_pb2.ProviderRequest:
    """A genuine POLRI request to `recipient` and a broker-signed attestation for it that
    names IMIGRASI as the provider, plus `extra` bytes after the attestation body."""
    now = datetime.now(UTC)
    consumer = pki.load_identity(fed.pki_dir, POLRI)
    broker = pki.load_identity(fed.pki_dir, "broker")
    env = envelope.build_request(
        sender=POLRI, recipient=recipient, service=SCREEN, payload=name_query("Budi Santoso"),
        purpose="criminal_investigation", legal_basis=LEGAL_BASIS,
        key=consumer.signing_key, now=now)
    header = envelope_pb2.Header.FromString(env.header)
    body = envelope_pb2.AttestationBody(
        decision_id="d-1", request_digest=envelope.sha256(env.header),
        message_id=header.message_id, consumer=POLRI, provider=IMIGRASI, service=SCREEN,
        purpose=header.purpose, rule_id="r", policy_version="v", field_mask=["hits.entry_id"],
        issued_at=envelope.to_timestamp(now), expires_at=expires_at or header.expires_at,
        broker_id=fed.federation.registry.broker_id)
    raw = body.SerializeToString(deterministic=True) + extra
    attestation = envelope_pb2.Attestation(
        body=raw, signatures=[dsse.sign(broker.signing_key, dsse.ATTESTATION_TYPE, raw)])
    return provider_pb2.ProviderRequest(request=env, attestation=attestation)


@pytest.mark.parametrize("extra", [b"", UNKNOWN_FIELD_99], ids=["known_fields", "unknown_field"])
async def test_an_attestation_with_unknown_fields_is_refused(fed: Fed, extra: bytes) -> None:
    _, port = fed.federation.providers[IMIGRASI]
    broker = pki.load_identity(fed.pki_dir, "broker")
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(broker),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        call = provider_pb2_grpc.ProviderStub(channel).Handle(_request(fed, extra), timeout=10)
        if not extra:
            answer = await call
            assert envelope_pb2.Header.FromString(answer.header).sender == IMIGRASI
            return
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
    error = status.error_from_rpc(info.value)
    assert (error.code, error.domain, error.reason, error.metadata) == (
        grpc.StatusCode.PERMISSION_DENIED, errors.PROVIDER_DOMAIN,
        "ATTESTATION_UNKNOWN_FIELDS", {"numbers": "99"})


@pytest.mark.parametrize(("expires_at", "reason"), [
    (Timestamp(seconds=2**62), "ATTESTATION_INVALID"),
    (Timestamp(seconds=1_800_000_000, nanos=-1), "ATTESTATION_INVALID"),
    (Timestamp(seconds=253_402_300_799, nanos=999_999_999), ""),  # the last valid instant
], ids=["seconds_2_62", "negative_nanos", "year_9999"])
async def test_an_attestation_expiry_out_of_range_is_refused_not_a_fault(
        fed: Fed, expires_at: Timestamp, reason: str) -> None:
    _, port = fed.federation.providers[IMIGRASI]
    broker = pki.load_identity(fed.pki_dir, "broker")
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(broker),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        call = provider_pb2_grpc.ProviderStub(channel).Handle(
            _request(fed, b"", expires_at), timeout=10)
        if not reason:
            assert envelope_pb2.Header.FromString((await call).header).sender == IMIGRASI
            return
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
    error = status.error_from_rpc(info.value)
    assert (error.code, error.domain, error.reason) == (
        grpc.StatusCode.PERMISSION_DENIED, errors.PROVIDER_DOMAIN, reason)


GARBAGE = b"\xff\xff\xff"  # field 0x1fffff... truncated: not a ProviderRequest


async def _raw_handle(fed: Fed, party: str, data: bytes) -> errors.G2GError:
    """Send `data` as the Provider/Handle request bytes, holding `party`'s certificate."""
    _, port = fed.federation.providers[IMIGRASI]
    caller = pki.load_identity(fed.pki_dir, party)
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(caller),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        handle = channel.unary_unary(  # no serializer: the bytes go out as given
            "/g2g.v1.Provider/Handle",
            response_deserializer=envelope_pb2.Envelope.FromString)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await handle(data, timeout=10)
    assert info.value.details() == status.error_from_rpc(info.value).message
    return status.error_from_rpc(info.value)


async def test_request_bytes_that_do_not_parse_are_envelope_malformed(fed: Fed) -> None:
    error = await _raw_handle(fed, "broker", GARBAGE)
    assert (error.code, error.domain, error.reason, error.metadata, error.message) == (
        grpc.StatusCode.INVALID_ARGUMENT, errors.PROVIDER_DOMAIN, "ENVELOPE_MALFORMED", {},
        "the request bytes are not a g2g.v1.ProviderRequest")
    # Still serving: a genuine request on a new connection is answered.
    _, port = fed.federation.providers[IMIGRASI]
    broker = pki.load_identity(fed.pki_dir, "broker")
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(broker),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        answer = await provider_pb2_grpc.ProviderStub(channel).Handle(
            _request(fed, b""), timeout=10)
    assert envelope_pb2.Header.FromString(answer.header).sender == IMIGRASI


async def test_the_caller_is_checked_before_the_bytes_are_parsed(fed: Fed) -> None:
    error = await _raw_handle(fed, POLRI, GARBAGE)
    assert (error.code, error.domain, error.reason) == (
        grpc.StatusCode.PERMISSION_DENIED, errors.PROVIDER_DOMAIN, "NOT_BROKER")


async def test_a_request_addressed_to_another_provider_is_refused(fed: Fed) -> None:
    """The attestation names this provider, the consumer's signed header another one."""
    _, port = fed.federation.providers[IMIGRASI]
    broker = pki.load_identity(fed.pki_dir, "broker")
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(broker),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await provider_pb2_grpc.ProviderStub(channel).Handle(
                _request(fed, b"", recipient="ID/GOV/BIN"), timeout=10)
    error = status.error_from_rpc(info.value)
    assert (error.code, error.domain, error.reason) == (
        grpc.StatusCode.PERMISSION_DENIED, errors.PROVIDER_DOMAIN, "ATTESTATION_INVALID")
