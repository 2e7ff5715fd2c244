"""`g2g catalog list|describe`: discover services and their schemas through the broker."""

from __future__ import annotations

import argparse
import asyncio

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("catalog", help="list services or show a service's schema")
    parser.add_argument("--as", dest="agency", required=True, help="your agency id")
    deployment.add_world_options(parser)
    parser.add_argument("--broker", help="broker address (default: from the registry)")
    parser.add_argument("service", nargs="?", help="describe this service")
    parser.set_defaults(handler=_catalog)


def _catalog(args: argparse.Namespace) -> int:
    from g2g_sdk import ConsumerClient, pki
    from g2g_sdk.registry import load_registry
    from google.protobuf import descriptor_pb2

    where = deployment.world(args)
    registry = load_registry(where.registry, where.pki_dir)
    identity = pki.load_identity(where.pki_dir, args.agency)

    async def run() -> None:
        async with ConsumerClient(identity, registry, broker_endpoint=args.broker) as client:
            if args.service is None:
                for info in await client.list_services():
                    print(f"{info.name:50} {info.provider:28} {info.description}")
                return
            reply = await client.describe_service(args.service)
            print(f"{reply.service.name}: {reply.service.request_type} -> "
                  f"{reply.service.response_type} (provider {reply.service.provider})")
            schema: descriptor_pb2.FileDescriptorSet = reply.schema
            print(f"schema: {len(schema.file)} files: " + ", ".join(f.name for f in schema.file))

    asyncio.run(run())
    return 0
