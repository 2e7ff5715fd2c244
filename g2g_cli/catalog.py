"""`g2g catalog`: what you may call through the broker, for which purposes; a service's schema.

By default the broker answers for the caller (`--as`, its certificate): only the
services that agency may call under the policy in force, each with the purposes
and the legal basis its allow rules require. `--all` lists every service.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from g2g_cli import deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "catalog", help="the services you may call (purposes, legal basis), or one's schema")
    parser.add_argument("--as", dest="agency", required=True,
                        help="your agency id (the broker answers for its certificate)")
    deployment.add_world_options(parser)
    parser.add_argument("--broker", metavar="HOST:PORT",
                        help="broker address (default: the registry's broker endpoint)")
    parser.add_argument("--all", action="store_true",
                        help="every service in the catalog, not only those you may call")
    parser.add_argument("service", nargs="?", help="describe this service (pkg.Service/Method)")
    parser.set_defaults(handler=_catalog)


def _catalog(args: argparse.Namespace) -> int:
    from g2g_sdk import ConsumerClient
    from g2g_sdk.registry import load_registry
    from google.protobuf import descriptor_pb2

    where = deployment.world(args)
    registry = load_registry(where.registry, where.pki_dir)
    identity = deployment.identity(where, registry, args.agency)

    async def run() -> None:
        async with ConsumerClient(identity, registry, broker_endpoint=args.broker) as client:
            if args.service is not None:
                reply = await client.describe_service(args.service)
                print(f"{reply.service.name}: {reply.service.request_type} -> "
                      f"{reply.service.response_type} (provider {reply.service.provider})")
                schema: descriptor_pb2.FileDescriptorSet = reply.schema
                print(f"schema: {len(schema.file)} files: "
                      + ", ".join(f.name for f in schema.file))
                return
            services = await client.list_services(callable_only=not args.all)
            if not services and not args.all:
                print(f"{args.agency} may call no service under the policy in force")
            for info in services:
                print(f"{info.name:50} {info.provider:28} {info.description}")
                for allowed in info.permissions:
                    print(f"    purpose {allowed.purpose}: {_legal_basis(allowed.legal_basis)}"
                          f"{'; further conditions apply' if allowed.conditional else ''}"
                          f" (rule {', '.join(allowed.rule_ids)})")

    asyncio.run(run())
    return 0


def _legal_basis(patterns: Sequence[str]) -> str:
    if not patterns:
        return "no legal basis required"
    return "legal basis matching " + " or ".join(f"/{p}/" for p in patterns)
