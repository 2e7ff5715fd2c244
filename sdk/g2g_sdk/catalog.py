"""The service catalog: each registered service with its request and response types.

Schemas come from the generated protobuf descriptors (proto/ is the source
of truth), and from the generated modules that installed distributions name
in the ``g2g.schemas`` entry-point group (a third-party adapter's own services,
docs/ADAPTERS.md); the registry says which agency provides which service. A
service named in the registry that has no compiled schema is a configuration error.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from types import MappingProxyType

from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory
from google.protobuf.descriptor import Descriptor, FileDescriptor, MethodDescriptor

from g2g_sdk import _gen
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import EventOffer, Registry, ServiceOffer


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its schema, and the agencies that provide it (usually one)."""

    name: str
    method: MethodDescriptor
    request_type: type[message.Message]
    response_type: type[message.Message]
    offers: Mapping[str, ServiceOffer]

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self.offers)

    @property
    def request_descriptor(self) -> Descriptor:
        return self.method.input_type

    @property
    def response_descriptor(self) -> Descriptor:
        return self.method.output_type


SCHEMAS_GROUP = "g2g.schemas"
"""Entry-point group naming installed distributions' generated ``*_pb2`` modules."""


@cache
def load_generated_schemas() -> None:
    """Import every generated *_pb2 module, g2g's and the installed plugins', so the
    default pool knows all schemas. A plugin module that fails to import is a
    ConfigError naming it: a service must never silently lose its schema."""
    for info in pkgutil.walk_packages(_gen.__path__, prefix=_gen.__name__ + "."):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
    for ep in entry_points(group=SCHEMAS_GROUP):
        try:
            ep.load()
        except Exception as exc:
            dist = ep.dist.name if ep.dist else "?"
            raise ConfigError(f"schema module {ep.value} of {dist} (entry point {ep.name!r} "
                              f"in {SCHEMAS_GROUP}) failed to import: "
                              f"{type(exc).__name__}") from None


def find_method(name: str) -> MethodDescriptor | None:
    """The method descriptor for `pkg.Service/Method`, if compiled."""
    load_generated_schemas()
    service_name, _, method_name = name.partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    method: MethodDescriptor | None = service.methods_by_name.get(method_name)
    return method


def message_class(descriptor: Descriptor) -> type[message.Message]:
    cls: type[message.Message] = message_factory.GetMessageClass(descriptor)
    return cls


@dataclass(frozen=True)
class EventSpec:
    """One event type: its schema, and the agencies that publish it."""

    name: str
    descriptor: Descriptor
    cls: type[message.Message]
    offers: Mapping[str, EventOffer]


def find_descriptor(name: str) -> Descriptor | None:
    """The descriptor of the message `name`, if compiled."""
    load_generated_schemas()
    try:
        descriptor: Descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
    except KeyError:
        return None
    return descriptor


def find_message(name: str) -> type[message.Message] | None:
    """The generated class of the message `name`, if compiled."""
    descriptor = find_descriptor(name)
    return None if descriptor is None else message_class(descriptor)


def _event_specs(registry: Registry) -> Mapping[str, EventSpec]:
    offers: dict[str, dict[str, EventOffer]] = {}
    for agency in registry.agencies.values():
        for offer in agency.events:
            offers.setdefault(offer.type, {})[agency.id] = offer
    specs = {}
    for name, by_publisher in sorted(offers.items()):
        descriptor = find_descriptor(name)
        if descriptor is None:
            raise ConfigError(f"event type {name} of {', '.join(by_publisher)} has no compiled "
                              "schema in proto/", file=registry.source, field="events")
        specs[name] = EventSpec(name=name, descriptor=descriptor, cls=message_class(descriptor),
                                offers=MappingProxyType(by_publisher))
    return MappingProxyType(specs)


@dataclass(frozen=True)
class Catalog:
    """All services and event types of a registry, resolved to their schemas."""

    services: Mapping[str, ServiceSpec]
    events: Mapping[str, EventSpec] = field(default_factory=dict)

    @classmethod
    def from_registry(cls, registry: Registry) -> Catalog:
        offers: dict[str, dict[str, ServiceOffer]] = {}
        for agency in registry.agencies.values():
            for offer in agency.services:
                offers.setdefault(offer.name, {})[agency.id] = offer
        specs: dict[str, ServiceSpec] = {}
        for name, by_provider in sorted(offers.items()):
            method = find_method(name)
            if method is None:
                raise ConfigError(
                    f"service {name} of {', '.join(by_provider)} has no compiled schema in "
                    "proto/", file=registry.source, field="services")
            specs[name] = ServiceSpec(
                name=name, method=method, request_type=message_class(method.input_type),
                response_type=message_class(method.output_type),
                offers=MappingProxyType(by_provider))
        return cls(services=MappingProxyType(specs), events=_event_specs(registry))

    def get(self, name: str) -> ServiceSpec | None:
        return self.services.get(name)

    def event(self, name: str) -> EventSpec | None:
        return self.events.get(name)

    def offer(self, provider: str, name: str) -> ServiceOffer | None:
        """What `provider` declared for service `name`, if it offers it."""
        spec = self.services.get(name)
        return spec.offers.get(provider) if spec else None


def file_descriptor_set(
    descriptor: Descriptor | MethodDescriptor,
) -> descriptor_pb2.FileDescriptorSet:
    """The defining file of `descriptor` with all its dependencies, dependencies first."""
    ordered: list[FileDescriptor] = []
    seen: set[str] = set()

    def visit(fd: FileDescriptor) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            visit(dep)
        ordered.append(fd)

    visit(descriptor.containing_service.file if isinstance(descriptor, MethodDescriptor)
          else descriptor.file)
    out = descriptor_pb2.FileDescriptorSet()
    for fd in ordered:
        proto = out.file.add()
        fd.CopyToProto(proto)
    return out
