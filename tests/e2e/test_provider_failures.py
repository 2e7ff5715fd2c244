"""End-to-end: the broker fails closed when the provider is down, slow or misbehaves."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from g2g_sdk import envelope, pki, tls
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2, provider_pb2_grpc
from g2g_sdk.registry import load_registry

from g2g_harness.federation import start_federation, write_config
from tests.conftest import REGISTRY
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"

Behaviour = Callable[[provider_pb2.ProviderRequest, envelope.OpenedEnvelope], envelope_pb2.Envelope]


class RogueProvider(provider_pb2_grpc.ProviderServicer):
    """Holds IMIGRASI's real key but answers however the test says."""

    def __init__(self, pki_dir: Path, behaviour: Behaviour | None) -> None:
        self.identity = pki.load_identity(pki_dir, IMIGRASI)
        self.registry = load_registry(REGISTRY, pki_dir)
        self.behaviour = behaviour
        self.never = asyncio.Event()
        self.entered = asyncio.Event()  # a request reached the provider

    async def Handle(self, request: provider_pb2.ProviderRequest,
                     context: grpc.aio.ServicerContext[object, object]) -> envelope_pb2.Envelope:
        self.entered.set()
        if self.behaviour is None:
            await self.never.wait()  # the broker's deadline, not this test, ends the call
        consumer = self.registry.agency(POLRI)
        assert consumer is not None
        opened = envelope.open_envelope(request.request, consumer, now=datetime.now(UTC),
                                        rules=envelope.TimeRules(), kind=envelope.REQUEST)
        assert self.behaviour is not None
        return self.behaviour(request, opened)

    async def reached_by(self, call: asyncio.Future[Any]) -> None:
        """Wait until a request reached this provider; if `call` ends first, fail with its
        error (a refusal before forwarding would otherwise leave the test waiting forever)."""
        entered = asyncio.ensure_future(self.entered.wait())
        done, _ = await asyncio.wait({entered, call}, return_when=asyncio.FIRST_COMPLETED)
        if entered not in done:
            entered.cancel()
            call.result()  # raises what ended the call
            raise AssertionError("the call was answered without reaching the provider")

    def answer(self, request: provider_pb2.ProviderRequest,
               opened: envelope.OpenedEnvelope) -> envelope_pb2.Envelope:
        """A correct, signed answer (a Behaviour)."""
        return self.respond(opened)

    def respond(self, opened: envelope.OpenedEnvelope,
                payload: object = None) -> envelope_pb2.Envelope:
        return envelope.build_response(
            opened, payload=payload or wl.ScreenResponse(threshold=0.9),  # type: ignore[arg-type]
            key=self.identity.signing_key, now=datetime.now(UTC))


async def _rogue_fed(tmp_path: Path, pki_dir: Path,
                     behaviour: Behaviour | None, *, timeout: float = 5.0,
                     limits: str = "") -> AsyncIterator[tuple[Fed, RogueProvider]]:
    rogue = RogueProvider(pki_dir, behaviour)
    server = grpc.aio.server()
    provider_pb2_grpc.add_ProviderServicer_to_server(rogue, server)
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(rogue.identity))
    await server.start()
    config = write_config(tmp_path, pki_dir=pki_dir,
                          extra=f"limits:\n  provider_timeout_seconds: {timeout}\n{limits}")
    federation = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config,
                                        adapters=(), endpoints={IMIGRASI: f"127.0.0.1:{port}"})
    try:
        yield Fed(federation), rogue
    finally:
        await federation.stop()
        await server.stop(0)


async def _screen_fails(fed: Fed, code: grpc.StatusCode, reason: str) -> dict[str, str]:
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                           legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), code, reason)
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", code.name, reason)]
    return err.metadata


async def test_provider_down(tmp_path: Path, pki_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, adapters=(),
                                     endpoints={IMIGRASI: closed}))
    try:
        await _screen_fails(fed, grpc.StatusCode.UNAVAILABLE, "PROVIDER_UNAVAILABLE")
    finally:
        await fed.federation.stop()


async def test_a_caller_leaving_mid_exchange_still_leaves_an_outcome_record(
        tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None):
        async with fed.client(POLRI) as client:
            env = client.build(SCREEN, name_query("Budi Santoso"),
                               purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            sending = asyncio.ensure_future(client.send(env))
            await rogue.reached_by(sending)  # recorded and forwarded: now the caller hangs up
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
        message_id = envelope.parse_header(env).message_id
        records = await fed.wait_for_records(message_id, 2)
        assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
            ("request", "", ""), ("outcome", "CANCELLED", "CALL_CANCELLED")]
        rogue.never.set()


async def test_provider_timeout(tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None, timeout=0.3):
        await _screen_fails(fed, grpc.StatusCode.DEADLINE_EXCEEDED, "PROVIDER_TIMEOUT")
        rogue.never.set()


@pytest.mark.parametrize(("name", "check"), [
    ("unsigned", "signature"),
    ("signed_by_other_agency", "signature"),
    ("answers_another_request", "binding"),
    ("wrong_payload_type", "payload"),
    ("field_outside_mask", "mask"),
])
async def test_invalid_provider_response(tmp_path: Path, pki_dir: Path, name: str,
                                         check: str) -> None:
    holder: list[RogueProvider] = []

    def behave(request: provider_pb2.ProviderRequest,
               opened: envelope.OpenedEnvelope) -> envelope_pb2.Envelope:
        rogue = holder[0]
        if name == "unsigned":
            answer = rogue.respond(opened)
            del answer.signatures[:]
            return answer
        if name == "signed_by_other_agency":
            other = pki.load_identity(pki_dir, "ID/GOV/BIN").signing_key
            return envelope.build_response(opened, payload=wl.ScreenResponse(), key=other,
                                           now=datetime.now(UTC))
        if name == "answers_another_request":
            answer = rogue.respond(opened)
            header = envelope_pb2.Header.FromString(answer.header)
            header.in_reply_to = "another-message-id"  # well signed, bound elsewhere
            return envelope.seal(header, answer.payload, rogue.identity.signing_key)
        if name == "wrong_payload_type":
            return rogue.respond(opened, wl.NameQuery(full_name="x"))
        body = envelope_pb2.AttestationBody()
        body.ParseFromString(request.attestation.body)
        payload = wl.ScreenResponse(hits=[wl.Hit(entry_id="x", entry=wl.WatchlistEntry(
            case_reference="K-1"))])
        assert "hits" not in body.field_mask  # the shipped POLRI rule masks whole hits
        return rogue.respond(opened, payload)

    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, behave):
        holder.append(rogue)
        metadata = await _screen_fails(fed, grpc.StatusCode.INTERNAL,
                                       "PROVIDER_RESPONSE_INVALID")
        assert metadata["check"] == check
