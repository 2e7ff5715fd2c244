"""The two-hop baselines: client → pass-through proxy → echo server, each hop its own process.

No parsing, no signatures, no logic: the ceiling for any Python gRPC broker on
this machine. Plaintext by default; with `--pki DIR` every hop is mutual TLS with
the federation's own certificates (the proxy presents the broker's, the echo
server the provider's, the client the consumer's), so the broker's figures can
be set against a proxy that pays for the same TLS and nothing else.

    python -m bench.baseline echo [--pki DIR --as AGENCY]
    python -m bench.baseline proxy UPSTREAM [--pki DIR --upstream-agency AGENCY]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import grpc
from g2g_sdk import pki, tls

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Call"


def _identity(data: bytes) -> bytes:
    return data


async def _serve(handler_fn: object, credentials: grpc.ServerCredentials | None) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Call": grpc.unary_unary_rpc_method_handler(
            handler_fn, request_deserializer=_identity, response_serializer=_identity)})
    server.add_generic_rpc_handlers((handler,))
    address = "127.0.0.1:0"
    port = (server.add_insecure_port(address) if credentials is None
            else server.add_secure_port(address, credentials))
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


async def echo(credentials: grpc.ServerCredentials | None) -> None:
    async def call(request: bytes, context: object) -> bytes:
        return request
    await _serve(call, credentials)


async def proxy(upstream: str, identity: pki.Identity | None, upstream_agency: str) -> None:
    if identity is None:
        channel = grpc.aio.insecure_channel(upstream)
        server_credentials = None
    else:
        # The broker's own TLS set-up towards a provider (broker/forward.py): its client
        # certificate, the federation CA, the provider's name pinned.
        channel = grpc.aio.secure_channel(
            upstream, tls.channel_credentials(identity),
            options=tls.pinned_channel_options("agency", upstream_agency))
        server_credentials = tls.server_credentials(identity)
    forward = channel.unary_unary(METHOD, request_serializer=_identity,
                                  response_deserializer=_identity)

    async def call(request: bytes, context: object) -> bytes:
        response: bytes = await forward(request, timeout=10)
        return response
    await _serve(call, server_credentials)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("role", choices=("echo", "proxy"))
    parser.add_argument("upstream", nargs="?", default="")
    parser.add_argument("--pki", type=Path, help="mutual TLS with this PKI directory")
    parser.add_argument("--as", dest="agency", default="ID/GOV/IMIGRASI",
                        help="the echo server's identity (a provider)")
    parser.add_argument("--upstream-agency", default="ID/GOV/IMIGRASI")
    args = parser.parse_args()
    if args.role == "echo":
        creds = None if args.pki is None else tls.server_credentials(
            pki.load_identity(args.pki, args.agency))
        asyncio.run(echo(creds))
    else:
        identity = None if args.pki is None else pki.load_identity(args.pki, pki.BROKER)
        asyncio.run(proxy(args.upstream, identity, args.upstream_agency))


if __name__ == "__main__":
    main()
