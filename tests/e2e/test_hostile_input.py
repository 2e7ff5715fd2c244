"""End-to-end: hostile input over real mTLS gets a documented refusal, bounded and audited.

Each case asserts the gRPC code, the ErrorInfo reason and metadata, the audit
record (with the consumer's TLS identity) and that the broker still serves.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from g2g_sdk import dsse, envelope, pki, status, tls
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from g2g_harness.federation import start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio


async def _raw_call(fed: Fed, data: bytes) -> grpc.aio.AioRpcError:
    """Send `data` as Exchange/Call's request bytes as POLRI; the call must fail."""
    identity = pki.load_identity(fed.pki_dir, POLRI)
    async with grpc.aio.secure_channel(fed.federation.address,
                                       tls.channel_credentials(identity)) as channel:
        call = channel.unary_unary("/g2g.v1.Exchange/Call")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(data, timeout=10)
    return info.value


def _error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    st = rpc_status.from_call(exc)
    assert st is not None, "no google.rpc.Status in the trailers"
    (detail,) = st.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return info


async def _assert_still_serves(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert answer.header.sender == "ID/GOV/IMIGRASI"


async def test_random_bytes_as_the_envelope_are_refused_and_audited(fed: Fed) -> None:
    data = random.Random(11).randbytes(1000)
    exc = await _raw_call(fed, data)
    info = _error_info(exc)
    assert (exc.code(), info.domain, info.reason, dict(info.metadata)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "g2g.broker", "ENVELOPE_MALFORMED", {})
    assert exc.details() == "the request bytes are not a g2g.v1.Envelope"
    (record,) = await fed.all_records()
    assert (record["kind"], record["consumer"], record["status_code"], record["reason"],
            record["message_id"]) == (
        "rejected", POLRI, "INVALID_ARGUMENT", "ENVELOPE_MALFORMED", "")
    await _assert_still_serves(fed)


async def test_unknown_envelope_fields_are_malformed(fed: Fed) -> None:
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"),
                           purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    exc = await _raw_call(fed, env.SerializeToString() + b"\xa0\x06\x01")  # field 100
    info = _error_info(exc)
    assert (exc.code(), info.reason, dict(info.metadata)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "ENVELOPE_MALFORMED", {"field": ".", "numbers": "100"})
    (record,) = await fed.all_records()
    assert (record["consumer"], record["reason"]) == (POLRI, "ENVELOPE_MALFORMED")


def _signed(fed: Fed, header: envelope_pb2.Header, *, extra: bytes = b"") -> envelope_pb2.Envelope:
    """`header` (plus raw `extra` bytes) signed by POLRI's real key around a good payload."""
    identity = pki.load_identity(fed.pki_dir, POLRI)
    payload = name_query("Budi Santoso").SerializeToString()
    header.version = envelope.PROTOCOL_VERSION
    header.payload_sha256 = envelope.sha256(payload)
    header_bytes = header.SerializeToString() + extra
    return envelope_pb2.Envelope(header=header_bytes, payload=payload, signatures=[
        dsse.sign(identity.signing_key, dsse.HEADER_TYPE, header_bytes)])


def _header(**fields: object) -> envelope_pb2.Header:
    now = datetime.now(UTC)
    params: dict[str, object] = {
        "kind": envelope.REQUEST, "message_id": envelope.new_message_id(),
        "correlation_id": "case-1", "sender": POLRI, "recipient": "ID/GOV/IMIGRASI",
        "service": SCREEN, "payload_type": "g2g.immigration.v1.ScreenRequest",
        "purpose": "criminal_investigation", "legal_basis": LEGAL_BASIS,
        "created_at": envelope.to_timestamp(now),
        "expires_at": envelope.to_timestamp(now + timedelta(seconds=60))}
    params.update(fields)
    return envelope_pb2.Header(**params)  # type: ignore[arg-type]


async def test_ten_thousand_unknown_header_fields_get_bounded_metadata(fed: Fed) -> None:
    # Field numbers 1000..10999, each a varint 0: a signed header no client could
    # read the refusal of if every number were listed.
    extra = b"".join(_varint(n << 3) + b"\x00" for n in range(1000, 11000))
    header = _header()
    env = _signed(fed, header, extra=extra)
    exc = await _raw_call(fed, env.SerializeToString())
    info = _error_info(exc)
    numbers = ",".join(str(n) for n in range(1000, 1000 + status.MAX_LIST_ITEMS))
    assert (exc.code(), info.reason, dict(info.metadata)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "HEADER_INVALID",
        {"field": ".", "numbers": numbers, "numbers_truncated": "10000"})
    details = dict(exc.trailing_metadata() or ())["grpc-status-details-bin"]
    assert len(details) < 1024
    assert len(exc.details() or "") <= status.MAX_MESSAGE_BYTES
    (record,) = await fed.records_for(header.message_id)
    assert (record["kind"], record["consumer"], record["status_code"], record["reason"]) == (
        "rejected", POLRI, "INVALID_ARGUMENT", "HEADER_INVALID")
    await _assert_still_serves(fed)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize(("field", "ts"), [
    ("created_at", Timestamp(seconds=1_800_000_000, nanos=-1)),
    ("created_at", Timestamp(seconds=1_800_000_000, nanos=1_000_000_000)),
    ("expires_at", Timestamp(seconds=2**62)),
    ("expires_at", Timestamp(seconds=-(2**62))),
])
async def test_out_of_range_timestamps_are_header_refusals(
        fed: Fed, field: str, ts: Timestamp) -> None:
    header = _header(**{field: ts})
    async with fed.client(POLRI) as client:
        err = await expect_error(client.send(_signed(fed, header)),
                                 grpc.StatusCode.INVALID_ARGUMENT, "HEADER_INVALID")
    assert err.metadata == {"field": field, "rule": "timestamp.range"}
    (record,) = await fed.records_for(header.message_id)
    assert (record["kind"], record["consumer"], record["status_code"], record["reason"]) == (
        "rejected", POLRI, "INVALID_ARGUMENT", "HEADER_INVALID")


@pytest.mark.parametrize("legal_basis", [
    "UU 6/2011 Pasal 91\x00", "UU 6/2011 Pasal 91\x1b[2J", "UU 6/2011\r\nPasal 91",
    "UU 6/2011 \u202e19 lasaP", "UU 6/2011\u200b", "UU 6/2011 \u2028",
])
async def test_control_and_bidi_characters_in_free_text_are_header_invalid(
        fed: Fed, legal_basis: str) -> None:
    header = _header(legal_basis=legal_basis)
    async with fed.client(POLRI) as client:
        err = await expect_error(client.send(_signed(fed, header)),
                                 grpc.StatusCode.INVALID_ARGUMENT, "HEADER_INVALID")
    assert err.metadata == {"field": "legal_basis", "rule": "string.pattern"}
    (record,) = await fed.records_for(header.message_id)
    assert (record["kind"], record["consumer"], record["status_code"], record["reason"]) == (
        "rejected", POLRI, "INVALID_ARGUMENT", "HEADER_INVALID")


async def test_a_legal_basis_pattern_must_match_the_whole_value(fed: Fed) -> None:
    # The watchlist rule requires `UU 6/2011( .+)?`: an allowed prefix with
    # anything glued on is not that legal basis.
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis="UU 6/2011-not-really")
        err = await expect_error(client.send(env), grpc.StatusCode.PERMISSION_DENIED,
                                 "POLICY_DENIED")
    assert err.metadata["unmet_rule"] == "imigrasi-watchlist-law-enforcement"
    assert "legal basis does not match /UU 6/2011( .+)?/" in err.message
    (record,) = await fed.records_for(envelope.parse_header(env).message_id)
    assert (record["kind"], record["decision"], record["reason"]) == (
        "rejected", "deny", "POLICY_DENIED")


async def test_one_sender_filling_its_replay_share_is_refused_alone(
        tmp_path: Path, pki_dir: Path) -> None:
    config = write_config(tmp_path, pki_dir=pki_dir,
                          extra="limits:\n  replay_cache_per_sender: 2\n")
    fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, config_path=config,
                                     adapters=("immigration",)))
    try:
        async with fed.client(POLRI) as police:
            for _ in range(2):
                await police.call(SCREEN, name_query("Budi Santoso"),
                                  purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            env = police.build(SCREEN, name_query("Budi Santoso"),
                               purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            err = await expect_error(police.send(env), grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     "REPLAY_CACHE_FULL")
        assert err.metadata == {"scope": "sender"}
        (record,) = await fed.records_for(envelope.parse_header(env).message_id)
        assert (record["kind"], record["consumer"], record["status_code"], record["reason"]) == (
            "rejected", POLRI, "RESOURCE_EXHAUSTED", "REPLAY_CACHE_FULL")
        async with fed.client("ID/GOV/BIN") as other:  # another sender is unaffected
            await other.call(SCREEN, name_query("Budi Santoso"),
                             purpose="border_control", legal_basis=LEGAL_BASIS)
    finally:
        await fed.federation.stop()
