"""The raw gRPC two-hop baseline: client → pass-through proxy → echo server, plaintext.

No security, no parsing, no logic: the ceiling for any Python gRPC broker on
this machine. Each hop runs in its own process, like broker and adapter.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Call"


def _identity(data: bytes) -> bytes:
    return data


async def _serve(handler_fn: object, port_out: bool = True) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Call": grpc.unary_unary_rpc_method_handler(
            handler_fn, request_deserializer=_identity, response_serializer=_identity)})  # type: ignore[arg-type]
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


async def echo() -> None:
    async def call(request: bytes, context: object) -> bytes:
        return request
    await _serve(call)


async def proxy(upstream: str) -> None:
    channel = grpc.aio.insecure_channel(upstream)
    forward = channel.unary_unary(METHOD, request_serializer=_identity,
                                  response_deserializer=_identity)

    async def call(request: bytes, context: object) -> bytes:
        response: bytes = await forward(request, timeout=10)
        return response
    await _serve(call)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        asyncio.run(echo())
    else:
        asyncio.run(proxy(sys.argv[2]))
