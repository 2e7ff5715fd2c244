"""End-to-end: every hop checks who is at the other end before sending a byte.

The impostor is a raw TLS server (Python's ssl, not gRPC) holding another
agency's valid federation certificate and key, standing on an endpoint the
registry gives to someone else. It completes the TLS handshake, verifying the
client's certificate like a real server, and records every byte received
after it: the tests prove that count stays zero.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from g2g_sdk import ConsumerClient, envelope, errors, pki, status, tls
from g2g_sdk._gen.g2g.v1 import provider_pb2, provider_pb2_grpc
from g2g_sdk.errors import G2GError
from g2g_sdk.publisher import Publisher
from g2g_sdk.registry import Registry
from g2g_sdk.subscriber import Subscriber, first

from g2g_harness.federation import start_federation
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query
from tests.e2e.events_fixtures import HIT_BASIS, hit

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
BIN = "ID/GOV/BIN"
WAIT = 10.0  # bound on every wait for the impostor to see a connection


@dataclass
class Impostor:
    """A TLS endpoint that records what arrives after each completed handshake."""

    port: int = 0
    received: list[bytes] = field(default_factory=list)  # one entry per closed connection
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        try:
            while chunk := await reader.read(65536):
                data += chunk
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.received.append(data)
            self.closed.set()
            writer.close()


@asynccontextmanager
async def impostor(pki_dir: Path, holder: str, port: int = 0) -> AsyncIterator[Impostor]:
    """A raw TLS server with `holder`'s real certificate, requiring client certificates."""
    directory = pki.party_dir(pki_dir, holder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki_dir / "ca.crt")
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])  # what a gRPC client requires before it sends
    fake = Impostor()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", port, ssl=context)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()


async def _no_byte_reached(fake: Impostor) -> None:
    """The client completed a TLS handshake with the impostor, then sent nothing."""
    await asyncio.wait_for(fake.closed.wait(), WAIT)
    assert fake.received  # the handshake completed: the client did reach the impostor
    assert all(data == b"" for data in fake.received), fake.received


async def test_broker_sends_nothing_to_a_provider_endpoint_held_by_another_agency(
        tmp_path: Path, pki_dir: Path) -> None:
    async with impostor(pki_dir, BIN) as fake:
        fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, adapters=(),
                                         endpoints={IMIGRASI: fake.endpoint}))
        try:
            async with fed.client(POLRI) as client:
                env = client.build(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
                err = await expect_error(client.send(env), grpc.StatusCode.UNAVAILABLE,
                                         "PROVIDER_IDENTITY_MISMATCH")
            assert err.metadata == {"provider": IMIGRASI}
            await _no_byte_reached(fake)
            records = await fed.records_for(envelope.parse_header(env).message_id)
            assert [(r["kind"], r["consumer"], r["provider"], r["status_code"], r["reason"])
                    for r in records] == [
                ("request", POLRI, IMIGRASI, "", ""),
                ("outcome", POLRI, IMIGRASI, "UNAVAILABLE", "PROVIDER_IDENTITY_MISMATCH")]
        finally:
            await fed.federation.stop()


async def test_an_impostor_taking_over_a_live_providers_port_gets_nothing(
        tmp_path: Path, pki_dir: Path) -> None:
    # The broker's channel to the real provider is up; the provider goes away and
    # BIN's server takes its port. The identity is checked again on the reconnect.
    fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, adapters=("immigration",)))
    try:
        async with fed.client(POLRI) as client:
            await client.call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            provider, port = fed.federation.providers[IMIGRASI]
            await provider.stop(grace=0)
            async with impostor(pki_dir, BIN, port) as fake:
                await expect_error(
                    client.call(SCREEN, name_query("Budi Santoso"),
                                purpose="criminal_investigation", legal_basis=LEGAL_BASIS),
                    grpc.StatusCode.UNAVAILABLE, "PROVIDER_IDENTITY_MISMATCH")
                await _no_byte_reached(fake)
    finally:
        await fed.federation.stop()


async def test_consumer_sends_nothing_to_a_broker_endpoint_held_by_an_agency(
        pki_dir: Path, registry: Registry) -> None:
    async with impostor(pki_dir, POLRI) as fake:
        identity = pki.load_identity(pki_dir, BIN)
        async with ConsumerClient(identity, registry, broker_endpoint=fake.endpoint) as client:
            with pytest.raises(G2GError) as info:
                await client.call(SCREEN, name_query("Budi Santoso"),
                                  purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        assert (info.value.code, info.value.reason, info.value.metadata) == (
            grpc.StatusCode.UNAVAILABLE, "BROKER_IDENTITY_MISMATCH",
            {"broker": registry.broker_id})
        await _no_byte_reached(fake)


async def _expect_broker_mismatch(call: Awaitable[object], registry: Registry) -> None:
    with pytest.raises(G2GError) as info:
        await call
    assert (info.value.code, info.value.reason, info.value.metadata) == (
        grpc.StatusCode.UNAVAILABLE, "BROKER_IDENTITY_MISMATCH",
        {"broker": registry.broker_id})


async def test_publisher_sends_no_event_to_a_broker_endpoint_held_by_an_agency(
        pki_dir: Path, registry: Registry) -> None:
    # The signed event carries personal data: it must never reach anyone but the broker.
    async with impostor(pki_dir, POLRI) as fake:
        identity = pki.load_identity(pki_dir, IMIGRASI)
        async with Publisher(identity, registry, broker_endpoint=fake.endpoint) as publisher:
            await _expect_broker_mismatch(
                publisher.publish(hit(), purpose="border_control", legal_basis=HIT_BASIS,
                                  timeout=WAIT), registry)
        await _no_byte_reached(fake)
        assert len(fake.received) == 1  # an impostor is not retried


async def test_subscriber_sends_nothing_to_a_broker_endpoint_held_by_an_agency(
        pki_dir: Path, registry: Registry) -> None:
    async with impostor(pki_dir, POLRI) as fake:
        identity = pki.load_identity(pki_dir, BIN)
        async with Subscriber(identity, registry, broker_endpoint=fake.endpoint) as subscriber:
            await _expect_broker_mismatch(first(subscriber, timeout=WAIT), registry)
        await _no_byte_reached(fake)


def _identityless(pki_dir: Path, holder: str) -> pki.Identity:
    """`holder`'s identity with a CA-issued certificate that has its CN but no g2g SAN."""
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, holder)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .sign(ca_key, hashes.SHA256()))
    return replace(pki.load_identity(pki_dir, holder),
                   tls_cert_pem=cert.public_bytes(serialization.Encoding.PEM),
                   tls_key_pem=key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))


async def test_broker_refuses_and_audits_a_client_certificate_without_identity(
        fed: Fed) -> None:
    identity = _identityless(fed.pki_dir, POLRI)  # CN says POLRI: no longer enough
    async with ConsumerClient(identity, fed.federation.registry,
                              broker_endpoint=fed.federation.address) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"),
                           purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        await expect_error(client.send(env), grpc.StatusCode.UNAUTHENTICATED,
                           "NO_PEER_IDENTITY")
    records = [r for r in await fed.all_records() if r["reason"] == "NO_PEER_IDENTITY"]
    assert [(r["kind"], r["consumer"], r["status_code"]) for r in records] == [
        ("rejected", "", "UNAUTHENTICATED")]


@pytest.mark.parametrize(("caller", "code", "reason"), [
    ("agency", grpc.StatusCode.PERMISSION_DENIED, "NOT_BROKER"),
    ("nobody", grpc.StatusCode.UNAUTHENTICATED, "NO_PEER_IDENTITY"),
])
async def test_provider_answers_only_the_broker(fed: Fed, caller: str, code: grpc.StatusCode,
                                                reason: str) -> None:
    identity = (pki.load_identity(fed.pki_dir, POLRI) if caller == "agency"
                else _identityless(fed.pki_dir, POLRI))
    _, port = fed.federation.providers[IMIGRASI]
    async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}", tls.channel_credentials(identity),
            options=tls.pinned_channel_options("agency", IMIGRASI)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await provider_pb2_grpc.ProviderStub(channel).Handle(
                provider_pb2.ProviderRequest(), timeout=WAIT)
    error = status.error_from_rpc(info.value)
    assert (error.code, error.domain, error.reason) == (code, errors.PROVIDER_DOMAIN, reason)
