"""End-to-end: the provider error contract (docs/PROTOCOL.md §5.1), every shape.

The provider here is written in the test with raw grpc.aio (a generic handler
on `g2g.v1.Provider/Handle`, not the toolkit), so each case sends exactly the
status bytes it names. The broker must pass a well-formed refusal through as
the provider's (code, reason and metadata in the `g2g.provider` domain), say
`PROVIDER_REJECTED` when no reason was given, and call anything malformed
`PROVIDER_RESPONSE_INVALID` with a `check` — never a broker reason of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from g2g_sdk import envelope, errors, pki, tls
from g2g_sdk._gen.g2g.v1 import provider_pb2
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from g2g_harness.federation import start_federation
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
C = grpc.StatusCode


@dataclass(frozen=True)
class Shape:
    """What the test provider answers: a code, a message, and raw details bytes."""

    code: grpc.StatusCode
    message: str = "refused"
    details: bytes | None = None  # the grpc-status-details-bin value, sent as is


def _status(code: grpc.StatusCode, message: str, *infos: error_details_pb2.ErrorInfo,
            status_code: grpc.StatusCode | None = None) -> bytes:
    packed = []
    for info in infos:
        detail = any_pb2.Any()
        detail.Pack(info)
        packed.append(detail)
    return status_pb2.Status(code=(status_code or code).value[0], message=message,
                             details=packed).SerializeToString()


def _info(reason: str, domain: str = errors.PROVIDER_DOMAIN,
          **metadata: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata)


class RawProvider:
    """Answers every Handle with `self.shape`; counts the requests it received."""

    def __init__(self) -> None:
        self.shape = Shape(C.INVALID_ARGUMENT)
        self.calls = 0

    async def handle(self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
                     ) -> bytes:
        self.calls += 1
        provider_pb2.ProviderRequest.FromString(request)  # it did get a real request
        trailing = () if self.shape.details is None else (
            ("grpc-status-details-bin", self.shape.details),)
        await context.abort(self.shape.code, self.shape.message, trailing_metadata=trailing)
        raise AssertionError("unreachable")


async def _raw_provider_fed(tmp_path: Path, pki_dir: Path) -> AsyncIterator[tuple[Fed,
                                                                                RawProvider]]:
    provider = RawProvider()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "g2g.v1.Provider", {"Handle": grpc.unary_unary_rpc_method_handler(provider.handle)}),))
    port = server.add_secure_port(
        "127.0.0.1:0", tls.server_credentials(pki.load_identity(pki_dir, IMIGRASI)))
    await server.start()
    federation = await start_federation(tmp_path, pki_dir=pki_dir, adapters=(),
                                        endpoints={IMIGRASI: f"127.0.0.1:{port}"})
    try:
        yield Fed(federation), provider
    finally:
        await federation.stop()
        await server.stop(0)


@pytest.fixture
async def raw(tmp_path: Path, pki_dir: Path) -> AsyncIterator[tuple[Fed, RawProvider]]:
    async for pair in _raw_provider_fed(tmp_path, pki_dir):
        yield pair


async def _exchange(fed: Fed, provider: RawProvider, shape: Shape
                    ) -> tuple[grpc.aio.AioRpcError, list[dict[str, object]]]:
    """Send one request through the broker over mTLS; the raw status and the records."""
    provider.shape = shape
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        # The broker's status exactly as it arrives, bypassing the client's decoding.
        channel = grpc.aio.secure_channel(
            fed.federation.address, tls.channel_credentials(pki.load_identity(fed.pki_dir, POLRI)),
            options=tls.pinned_channel_options("broker", fed.federation.registry.broker_id))
        async with channel:
            call = channel.unary_unary("/g2g.v1.Exchange/Call")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(call(env.SerializeToString()), 10)
    return info.value, await fed.records_for(envelope.parse_header(env).message_id)


def _received(exc: grpc.aio.AioRpcError) -> tuple[str, str, str, dict[str, str], str]:
    """(code, domain, reason, metadata, message) of a status carrying one ErrorInfo."""
    status = rpc_status.from_call(exc)
    assert status is not None
    assert len(status.details) == 1
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return exc.code().name, info.domain, info.reason, dict(info.metadata), exc.details() or ""


def _outcome(records: list[dict[str, object]]) -> tuple[object, ...]:
    assert [r["kind"] for r in records] == ["request", "outcome"]
    last = records[1]
    return last["status_code"], last["reason"], last.get("refused_by")


ALLOWED = [C.INVALID_ARGUMENT, C.FAILED_PRECONDITION, C.OUT_OF_RANGE, C.NOT_FOUND,
           C.ALREADY_EXISTS, C.PERMISSION_DENIED, C.UNAUTHENTICATED, C.RESOURCE_EXHAUSTED,
           C.ABORTED, C.UNIMPLEMENTED, C.INTERNAL, C.UNAVAILABLE]


@pytest.mark.parametrize("code", ALLOWED, ids=lambda c: c.name)
async def test_a_provider_reason_reaches_the_consumer_as_the_providers(
        raw: tuple[Fed, RawProvider], code: grpc.StatusCode) -> None:
    fed, provider = raw
    # POLICY_DENIED here is the provider's own word: it must stay in its domain.
    details = _status(code, "not for you", _info("POLICY_DENIED", case="K-1"))
    exc, records = await _exchange(fed, provider, Shape(code, "not for you", details))
    assert _received(exc) == (code.name, errors.PROVIDER_DOMAIN, "POLICY_DENIED",
                              {"case": "K-1"}, "not for you")
    assert _outcome(records) == (code.name, "POLICY_DENIED", "provider")
    assert provider.calls == 1


@pytest.mark.parametrize("code", [c for c in ALLOWED if c != C.UNAVAILABLE],
                         ids=lambda c: c.name)
async def test_a_refusal_without_details_is_provider_rejected(
        raw: tuple[Fed, RawProvider], code: grpc.StatusCode) -> None:
    fed, provider = raw
    exc, records = await _exchange(fed, provider, Shape(code, "no"))
    assert _received(exc) == (code.name, errors.DOMAIN, "PROVIDER_REJECTED", {}, "no")
    assert _outcome(records) == (code.name, "PROVIDER_REJECTED", "provider")


@pytest.mark.parametrize(("shape", "check"), [
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("GONE", "example.com"))),
     "domain"),
    (Shape(C.PERMISSION_DENIED, "x", _status(C.PERMISSION_DENIED, "x",
                                             _info("POLICY_DENIED", errors.DOMAIN))),
     "domain"),
    (Shape(C.NOT_FOUND, "what the consumer reads",
           _status(C.NOT_FOUND, "what the log would say", _info("GONE"))), "message"),
    (Shape(C.NOT_FOUND, "x", b"\xff\xff\xff not a google.rpc.Status"), "details"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("GONE"),
                                     status_code=C.PERMISSION_DENIED)), "details"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("GONE"), _info("AGAIN"))),
     "details"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x")), "details"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("not upper"))), "reason"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("GONE", **{
        f"k{i}": "v" for i in range(18)}))), "metadata"),
    (Shape(C.NOT_FOUND, "x", _status(C.NOT_FOUND, "x", _info("GONE", Bad="v"))), "metadata"),
    (Shape(C.UNKNOWN, "x"), "code"),
    (Shape(C.DATA_LOSS, "x", _status(C.DATA_LOSS, "x", _info("GONE"))), "code"),
    (Shape(C.CANCELLED, "x"), "code"),
], ids=["foreign_domain", "broker_domain", "mismatched_message", "undecodable_details",
        "status_code_differs", "two_error_infos", "no_error_info", "bad_reason",
        "too_much_metadata", "bad_metadata_key", "unknown_code", "data_loss_code",
        "cancelled_code"])
async def test_a_malformed_provider_status_is_provider_response_invalid(
        raw: tuple[Fed, RawProvider], shape: Shape, check: str) -> None:
    fed, provider = raw
    exc, records = await _exchange(fed, provider, shape)
    code, domain, reason, metadata, _ = _received(exc)
    assert (code, domain, reason, metadata) == ("INTERNAL", errors.DOMAIN,
                                                "PROVIDER_RESPONSE_INVALID", {"check": check})
    assert _outcome(records) == ("INTERNAL", "PROVIDER_RESPONSE_INVALID", None)


async def test_unavailable_without_details_is_the_transports_word(
        raw: tuple[Fed, RawProvider]) -> None:
    fed, provider = raw
    exc, records = await _exchange(fed, provider, Shape(C.UNAVAILABLE, "busy"))
    assert _received(exc)[:3] == ("UNAVAILABLE", errors.DOMAIN, "PROVIDER_UNAVAILABLE")
    assert _outcome(records) == ("UNAVAILABLE", "PROVIDER_UNAVAILABLE", None)


async def test_the_consumer_toolkit_reads_a_provider_reason_as_the_providers(
        raw: tuple[Fed, RawProvider]) -> None:
    fed, provider = raw
    provider.shape = Shape(C.NOT_FOUND, "no such case",
                           _status(C.NOT_FOUND, "no such case", _info("CASE_UNKNOWN", case="7")))
    async with fed.client(POLRI) as client:
        with pytest.raises(errors.ProviderRejected) as info:
            await client.call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert (info.value.code, info.value.domain, info.value.reason, info.value.metadata) == (
        C.NOT_FOUND, errors.PROVIDER_DOMAIN, "CASE_UNKNOWN", {"case": "7"})
