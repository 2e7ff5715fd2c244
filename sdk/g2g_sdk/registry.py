"""The federation registry: agencies, the services they offer, and their keys.

Parsed once from `config/agencies.yaml` into frozen objects. Agencies with no
inline `signing_keys` take their public key from the development PKI
directory (`<pki_dir>/agencies/<slug>/signing.pub`); production registries
list keys inline. Errors name file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from g2g_sdk import keys, yamlsrc
from g2g_sdk.errors import ConfigError

AGENCY_ID = re.compile(r"^[A-Z0-9]{2,8}(/[A-Z0-9-]{1,40}){1,4}$")
EVENT_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
SERVICE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*/[A-Za-z_][A-Za-z0-9_]*$")
ROLES = frozenset({"auditor", "federation-auditor"})
# Kinds of personal identifier a service's request fields may carry, and how
# many fields make one: the audit log hashes (kind, values), so every service's
# `document` is the same kind whatever its proto calls the field.
SUBJECT_KINDS = {"document": 1, "name_dob": 2, "national_id": 1}


def slug(agency_id: str) -> str:
    """Filesystem-safe name of an agency id: ID/GOV/IMIGRASI -> id-gov-imigrasi."""
    return agency_id.lower().replace("/", "-")


@dataclass(frozen=True)
class SubjectField:
    """Request field paths that together identify a person, and which kind of identifier."""

    kind: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class ServiceOffer:
    """A service an agency provides, by full method name."""

    name: str
    description: str = ""
    # Request fields that identify a person, for keyed audit subject hashes.
    subject_fields: tuple[SubjectField, ...] = ()


@dataclass(frozen=True)
class EventOffer:
    """An event type an agency publishes, by full protobuf message name."""

    type: str
    description: str = ""
    # Event fields that identify a person, for keyed audit subject hashes.
    subject_fields: tuple[SubjectField, ...] = ()


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    endpoint: str | None
    services: tuple[ServiceOffer, ...]
    signing_keys: Mapping[str, Ed25519PublicKey]
    roles: frozenset[str] = frozenset()
    # With the `auditor` role: the agency whose exchanges it may read (default: itself).
    audits: str | None = None
    events: tuple[EventOffer, ...] = ()


@dataclass(frozen=True)
class Registry:
    """All agencies of the federation and the broker's identity."""

    federation: str
    broker_id: str
    broker_endpoint: str
    broker_keys: Mapping[str, Ed25519PublicKey]
    agencies: Mapping[str, Agency]
    source: str = ""
    _providers: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def agency(self, agency_id: str) -> Agency | None:
        return self.agencies.get(agency_id)

    def providers_of(self, service: str) -> tuple[Agency, ...]:
        """Every agency offering `service` (several embassies may offer the same one)."""
        return tuple(self.agencies[p] for p in self._providers.get(service, ()))

    def provider_of(self, service: str) -> Agency | None:
        """The agency offering `service` when exactly one does, else None."""
        providers = self.providers_of(service)
        return providers[0] if len(providers) == 1 else None

    def with_endpoints(self, endpoints: Mapping[str, str]) -> Registry:
        """A copy with some agencies' endpoints replaced (adapters bound to port 0)."""
        agencies = {aid: replace(a, endpoint=endpoints.get(aid, a.endpoint))
                    for aid, a in self.agencies.items()}
        return replace(self, agencies=MappingProxyType(agencies))

    def offer(self, provider: str, service: str) -> ServiceOffer | None:
        agency = self.agencies.get(provider)
        if agency is None:
            return None
        return next((s for s in agency.services if s.name == service), None)


def _keys_from(node: yamlsrc.Node) -> dict[str, Ed25519PublicKey]:
    found: dict[str, Ed25519PublicKey] = {}
    for item in node.items():
        fields = item.mapping(allowed={"keyid", "public_key"}, required={"public_key"})
        try:
            key = keys.public_from_b64(fields["public_key"].str())
        except ValueError as exc:
            raise fields["public_key"].error(f"not a base64 Ed25519 public key: {exc}") from None
        kid = keys.keyid(key)
        if "keyid" in fields and fields["keyid"].str() != kid:
            raise fields["keyid"].error(f"keyid does not match the key (expected {kid})")
        found[kid] = key
    return found


def _pki_key(pki_dir: Path | None, where: yamlsrc.Node, *parts: str,
             required: bool = True) -> dict[str, Ed25519PublicKey]:
    if not required and (pki_dir is None or not pki_dir.joinpath(*parts).exists()):
        return {}
    if pki_dir is None:
        raise where.error("no signing_keys given and no PKI directory to take them from")
    path = pki_dir.joinpath(*parts)
    if not path.exists():
        raise where.error(f"no signing_keys given and {path} does not exist (run: g2g pki init)")
    key = keys.load_public_key(path)
    return {keys.keyid(key): key}


def _subject_fields(node: yamlsrc.Node) -> tuple[SubjectField, ...]:
    """`{document: by_document.number, name_dob: full_name+date_of_birth}`; a kind may list
    several field combinations."""
    out = []
    for kind, value in node.mapping(allowed=set(SUBJECT_KINDS)).items():
        for combination in value.str_list():
            paths = tuple(combination.split("+"))
            if len(paths) != SUBJECT_KINDS[kind] or not all(paths):
                raise value.error(f"a {kind} subject is {SUBJECT_KINDS[kind]} field path(s) "
                                  f"joined by '+', got {combination!r}")
            out.append(SubjectField(kind, paths))
    return tuple(out)


def _service(node: yamlsrc.Node) -> ServiceOffer:
    subjects: tuple[SubjectField, ...] = ()
    if node.is_scalar:
        name, description = node.str(), ""
    else:
        fields = node.mapping(allowed={"name", "description", "subject_fields"},
                              required={"name"})
        name = fields["name"].str()
        description = fields["description"].str() if "description" in fields else ""
        if "subject_fields" in fields:
            subjects = _subject_fields(fields["subject_fields"])
    if not SERVICE_NAME.match(name):
        raise node.error(f"service {name!r} is not a full method name like pkg.Service/Method")
    return ServiceOffer(name=name, description=description, subject_fields=subjects)


def _event(node: yamlsrc.Node) -> EventOffer:
    fields = node.mapping(allowed={"type", "description", "subject_fields"}, required={"type"})
    name = fields["type"].str()
    if not EVENT_TYPE.match(name):
        raise fields["type"].error(f"event type {name!r} is not a full message name "
                                   "like g2g.immigration.v1.WatchlistHit")
    return EventOffer(
        type=name, description=fields["description"].str() if "description" in fields else "",
        subject_fields=(_subject_fields(fields["subject_fields"])
                        if "subject_fields" in fields else ()))


def _roles(fields: dict[str, yamlsrc.Node]) -> tuple[frozenset[str], str | None]:
    """An agency's roles and, for an auditor, the agency it audits."""
    roles = frozenset(fields["roles"].str_list()) if "roles" in fields else frozenset()
    if roles - ROLES:
        raise fields["roles"].error(
            f"unknown role(s) {sorted(roles - ROLES)}; known: {sorted(ROLES)}")
    if "audits" not in fields:
        return roles, None
    if "auditor" not in roles:
        raise fields["audits"].error("only an agency with the auditor role audits one")
    return roles, fields["audits"].str()


def load_registry(path: Path, pki_dir: Path | None = None, *,
                  require_keys: bool = True) -> Registry:
    """Parse the agencies registry at `path`.

    `require_keys=False` is for tools that never verify signatures (policy
    checks): agencies without a key then get none instead of an error.
    """
    root = yamlsrc.load(path)
    if root is None:
        raise ConfigError("the registry is empty", file=str(path))
    top = root.mapping(allowed={"federation", "broker", "agencies"},
                       required={"federation", "broker", "agencies"})
    broker = top["broker"].mapping(allowed={"id", "endpoint", "signing_keys"},
                                   required={"id", "endpoint"})
    broker_id = broker["id"].str()
    if not AGENCY_ID.match(broker_id):
        raise broker["id"].error(f"{broker_id!r} is not an identifier like G2G/BROKER")
    broker_keys = (_keys_from(broker["signing_keys"]) if "signing_keys" in broker
                   else _pki_key(pki_dir, broker["id"], "broker", "signing.pub",
                                 required=require_keys))
    agencies: dict[str, Agency] = {}
    providers: dict[str, tuple[str, ...]] = {}
    audited: list[tuple[yamlsrc.Node, str]] = []
    for item in top["agencies"].items():
        fields = item.mapping(
            allowed={"id", "name", "endpoint", "services", "signing_keys", "roles", "audits",
                     "events"},
            required={"id", "name"})
        agency_id = fields["id"].str()
        if not AGENCY_ID.match(agency_id):
            raise fields["id"].error(f"{agency_id!r} is not an agency id like ID/GOV/IMIGRASI")
        if agency_id in agencies or agency_id == broker_id:
            raise fields["id"].error(f"duplicate agency id {agency_id!r}")
        services = tuple(_service(s) for s in fields["services"].items()) \
            if "services" in fields else ()
        endpoint = fields["endpoint"].str() if "endpoint" in fields else None
        if services and endpoint is None:
            raise item.error("an agency that offers services needs an endpoint",
                             field=item.path + ".endpoint")
        for offer, node in zip(services, fields["services"].items() if services else (),
                               strict=True):
            if agency_id in providers.get(offer.name, ()):
                raise node.error(f"{agency_id} lists service {offer.name} twice")
            providers[offer.name] = (*providers.get(offer.name, ()), agency_id)
        roles, audits = _roles(fields)
        if audits is not None:
            audited.append((fields["audits"], audits))
        signing = (_keys_from(fields["signing_keys"]) if "signing_keys" in fields
                   else _pki_key(pki_dir, fields["id"], "agencies", slug(agency_id),
                                 "signing.pub", required=require_keys))
        events = tuple(_event(e) for e in fields["events"].items()) if "events" in fields else ()
        if len({e.type for e in events}) != len(events):
            raise fields["events"].error(f"{agency_id} lists an event type twice")
        agencies[agency_id] = Agency(
            id=agency_id, name=fields["name"].str(), endpoint=endpoint, services=services,
            signing_keys=MappingProxyType(signing), roles=roles, audits=audits, events=events)
    for node, audits in audited:
        if audits not in agencies:
            raise node.error(f"audits {audits!r}, which is not an agency of the registry")
    return Registry(
        federation=top["federation"].str(), broker_id=broker_id,
        broker_endpoint=broker["endpoint"].str(), broker_keys=MappingProxyType(broker_keys),
        agencies=MappingProxyType(agencies), source=str(path),
        _providers=MappingProxyType(providers))


def _top_level(path: Path, field: str) -> dict[str, yamlsrc.Node]:
    root = yamlsrc.load(path)
    if root is None:
        raise ConfigError("the registry is empty", file=str(path))
    top = root.mapping()
    if field not in top:
        raise root.error(f"missing required field {field!r}", field=field)
    return top


def read_agency_ids(path: Path) -> tuple[tuple[str, str, bool], ...]:
    """(id, name, is_provider) of every agency, without needing any keys (for `pki init`)."""
    out = []
    for item in _top_level(path, "agencies")["agencies"].items():
        fields = item.mapping()
        out.append((fields["id"].str(), fields["name"].str(), "endpoint" in fields))
    return tuple(out)


def read_broker_id(path: Path) -> str:
    """The broker's id, without needing any keys (for `pki init`)."""
    return _top_level(path, "broker")["broker"].mapping()["id"].str()
