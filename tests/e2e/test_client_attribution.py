"""The consumer toolkit blames the right party when a call fails without a broker status."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import pytest
from g2g_sdk import ConsumerClient, pki
from g2g_sdk.registry import Registry

from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, expect_error, name_query

pytestmark = pytest.mark.asyncio


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def _screen(client: ConsumerClient) -> object:
    return await client.call(SCREEN, name_query("Budi Santoso"),
                             purpose="criminal_investigation", legal_basis=LEGAL_BASIS)


async def test_no_broker_listening_is_broker_unavailable(pki_dir: Path, registry: Registry) -> None:
    async with ConsumerClient(pki.load_identity(pki_dir, POLRI), registry,
                              broker_endpoint=_closed_port()) as client:
        err = await expect_error(_screen(client), grpc.StatusCode.UNAVAILABLE,
                                 "BROKER_UNAVAILABLE")
    assert err.metadata == {}


async def test_a_server_dropping_the_handshake_is_broker_unavailable(
        pki_dir: Path, registry: Registry) -> None:
    accepted = asyncio.Event()

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        writer.close()  # no TLS at all: the handshake is refused

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ConsumerClient(pki.load_identity(pki_dir, POLRI), registry,
                                  broker_endpoint=f"127.0.0.1:{port}") as client:
            await expect_error(_screen(client), grpc.StatusCode.UNAVAILABLE,
                               "BROKER_UNAVAILABLE")
        assert accepted.is_set()
    finally:
        server.close()
        await server.wait_closed()
