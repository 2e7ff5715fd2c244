"""The federation registry: agencies, the services they offer, and their keys.

Parsed from `config/agencies.yaml` into frozen objects. An agency's signing
keys are listed inline (`signing_keys`, production) and/or in the file the
federation CA publishes beside its PKI (`<pki_dir>/published.yaml`, written by
`g2g pki`); an agency with neither takes `<pki_dir>/agencies/<slug>/signing.pub`
(the original development layout). Keys carry validity and revocation times.
Every file read (or probed) is kept with its bytes, so a registry has a content
`version` and a reloader can tell when it changed. Errors name file, line and field.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from g2g_sdk import keys, yamlsrc
from g2g_sdk.errors import ConfigError, SignatureError

AGENCY_ID = re.compile(r"^[A-Z0-9]{2,8}(/[A-Z0-9-]{1,40}){1,4}$")
EVENT_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
SERVICE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*/[A-Za-z_][A-Za-z0-9_]*$")
ROLES = frozenset({"auditor", "federation-auditor"})
# Kinds of personal identifier a service's request fields may carry, and how
# many fields make one: the audit log hashes (kind, values), so every service's
# `document` is the same kind whatever its proto calls the field.
SUBJECT_KINDS = {"document": 1, "name_dob": 2, "national_id": 1}
PUBLISHED = "published.yaml"
"""What the federation CA publishes beside its PKI: keys and certificates per party."""
BROKER_PARTY = "broker"
"""The party name of the broker in the published file."""


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
    # The provider declares that answering a request twice does no harm (a lookup):
    # the broker may then repeat it on another endpoint after any transport failure.
    idempotent: bool = False


@dataclass(frozen=True)
class EventOffer:
    """An event type an agency publishes, by full protobuf message name."""

    type: str
    description: str = ""
    # Event fields that identify a person, for keyed audit subject hashes.
    subject_fields: tuple[SubjectField, ...] = ()


@dataclass(frozen=True)
class KeyInfo:
    """One published signing key and the period its signatures are accepted for.

    Times compare with the signed message's `created_at`: a signature on a
    message created before `not_before`, at or after `not_after`, or at or after
    `revoked_at` is refused even though it verifies.
    """

    keyid: str
    key: Ed25519PublicKey
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None

    def refusal(self, created: datetime) -> tuple[str, str] | None:
        """(reason, message) if a signature made at `created` must be refused, else None."""
        if self.revoked_at is not None and created >= self.revoked_at:
            return ("KEY_REVOKED", f"signing key {self.keyid[:16]} was revoked at "
                    f"{_iso(self.revoked_at)}")
        if self.not_before is not None and created < self.not_before:
            return ("KEY_NOT_YET_VALID", f"signing key {self.keyid[:16]} is valid from "
                    f"{_iso(self.not_before)}")
        if self.not_after is not None and created >= self.not_after:
            return ("KEY_EXPIRED", f"signing key {self.keyid[:16]} was valid until "
                    f"{_iso(self.not_after)}")
        return None


@dataclass(frozen=True)
class CertificateInfo:
    """A TLS certificate the CA published for a party (status tools; pinning)."""

    serial: str
    sha256: str
    not_after: datetime


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_signer(key_info: Mapping[str, KeyInfo], keyid: str, created: datetime) -> None:
    """Refuse a verified signature by a key revoked, expired or not yet valid at `created`."""
    info = key_info.get(keyid)
    refusal = info.refusal(created) if info is not None else None
    if refusal is not None:
        raise SignatureError(refusal[1], reason=refusal[0], metadata={"keyid": keyid})


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
    # Validity and revocation of each key in `signing_keys` (same key ids).
    events: tuple[EventOffer, ...] = ()
    key_info: Mapping[str, KeyInfo] = field(default_factory=dict)
    certificates: tuple[CertificateInfo, ...] = ()
    # Every endpoint serving this provider, in order of preference (`endpoints:`);
    # `endpoint` is the first. Empty when only `endpoint` is given.
    endpoints: tuple[str, ...] = ()

    @property
    def all_endpoints(self) -> tuple[str, ...]:
        """The endpoints to try, in order (just `endpoint` unless several are listed)."""
        return self.endpoints or ((self.endpoint,) if self.endpoint else ())

    def check_signer(self, keyid: str, created: datetime) -> None:
        """Refuse a verified signature by one of this agency's keys outside its validity."""
        check_signer(self.key_info, keyid, created)


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
    broker_key_info: Mapping[str, KeyInfo] = field(default_factory=dict)
    broker_certificates: tuple[CertificateInfo, ...] = ()
    # Every file read or probed while loading, with its bytes (None: absent).
    files: Mapping[str, bytes | None] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def version(self) -> str:
        """Content hash of every file this registry was built from (16 hex digits)."""
        # Computed once per registry (its files never change): every request reads it,
        # and hashing the registry and key files each time cost ~50 µs of broker CPU.
        return files_version(self.files)

    def broker_keys_at(self, moment: datetime) -> Mapping[str, Ed25519PublicKey]:
        """The broker's keys valid at `moment` (not revoked, expired or not yet valid)."""
        return {kid: key for kid, key in self.broker_keys.items()
                if (info := self.broker_key_info.get(kid)) is None
                or info.refusal(moment) is None}

    @property
    def sources(self) -> dict[str, bytes]:
        """The files that exist, by path: what is stored beside the audit log."""
        return {name: data for name, data in self.files.items() if data is not None}

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
        agencies = {aid: replace(a, endpoint=endpoints[aid], endpoints=())
                    if aid in endpoints else a for aid, a in self.agencies.items()}
        return replace(self, agencies=MappingProxyType(agencies))

    def offer(self, provider: str, service: str) -> ServiceOffer | None:
        agency = self.agencies.get(provider)
        if agency is None:
            return None
        return next((s for s in agency.services if s.name == service), None)


def files_version(files: Mapping[str, bytes | None]) -> str:
    """Content hash of named files (absent ones count too): same files, same version."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{-1 if data is None else len(data)}\0".encode())
        h.update(data or b"")
    return h.hexdigest()[:16]


def _time(node: yamlsrc.Node) -> datetime:
    """An RFC 3339 time with a zone ("2026-12-01T00:00:00Z"), quoted or not."""
    value = node.scalar()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise node.error(f"{value!r} is not an RFC 3339 time like "
                             "2026-12-01T00:00:00Z") from None
    if not isinstance(value, datetime):
        raise node.error(f"expected a time like 2026-12-01T00:00:00Z, got {value!r}")
    if value.tzinfo is None:
        raise node.error("a time needs a zone (end it with Z for UTC)")
    return value.astimezone(UTC)


_KEY_FIELDS = {"keyid", "public_key", "not_before", "not_after", "revoked_at"}


def _keys_from(node: yamlsrc.Node) -> dict[str, KeyInfo]:
    found: dict[str, KeyInfo] = {}
    for item in node.items():
        fields = item.mapping(allowed=_KEY_FIELDS, required={"public_key"})
        try:
            key = keys.public_from_b64(fields["public_key"].str())
        except ValueError as exc:
            raise fields["public_key"].error(f"not a base64 Ed25519 public key: {exc}") from None
        kid = keys.keyid(key)
        if "keyid" in fields and fields["keyid"].str() != kid:
            raise fields["keyid"].error(f"keyid does not match the key (expected {kid})")
        if kid in found:
            raise item.error(f"key {kid[:16]} is listed twice")
        times = {name: _time(fields[name]) for name in ("not_before", "not_after", "revoked_at")
                 if name in fields and not fields[name].is_null}
        if "not_before" in times and "not_after" in times and \
                times["not_after"] <= times["not_before"]:
            raise fields["not_after"].error("not_after must be later than not_before")
        found[kid] = KeyInfo(keyid=kid, key=key, **times)
    return found


def _certificates(node: yamlsrc.Node) -> tuple[CertificateInfo, ...]:
    out = []
    for item in node.items():
        fields = item.mapping(allowed={"serial", "sha256", "not_after"},
                              required={"serial", "sha256", "not_after"})
        fingerprint = fields["sha256"].str().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
            raise fields["sha256"].error("sha256 is 64 hex digits (the DER certificate's hash)")
        serial = fields["serial"].str().lower()
        if not re.fullmatch(r"[0-9a-f]{1,40}", serial):
            raise fields["serial"].error("serial is the certificate serial number in hex")
        out.append(CertificateInfo(serial=serial, sha256=fingerprint,
                                   not_after=_time(fields["not_after"])))
    return tuple(out)


@dataclass(frozen=True)
class _Published:
    keys: dict[str, dict[str, KeyInfo]]
    certificates: dict[str, tuple[CertificateInfo, ...]]


def _published(pki_dir: Path | None, files: dict[str, bytes | None]) -> _Published:
    """The CA's published keys and certificates by party id (empty if no such file)."""
    out = _Published({}, {})
    if pki_dir is None:
        return out
    path = pki_dir / PUBLISHED
    data = _probe(path, files)
    if data is None:
        return out
    root = yamlsrc.parse(yamlsrc.decode(data, str(path)), str(path))
    if root is None:
        return out
    top = root.mapping(allowed={"parties"}, required={"parties"})
    for item in top["parties"].items():
        fields = item.mapping(allowed={"id", "signing_keys", "certificates"}, required={"id"})
        party = fields["id"].str()
        if party in out.keys:
            raise fields["id"].error(f"party {party!r} is listed twice")
        out.keys[party] = _keys_from(fields["signing_keys"]) if "signing_keys" in fields \
            else {}
        out.certificates[party] = _certificates(fields["certificates"]) \
            if "certificates" in fields else ()
    return out


def _probe(path: Path, files: dict[str, bytes | None]) -> bytes | None:
    """Read `path` if it exists, remembering either way (a file appearing is a change)."""
    try:
        data: bytes | None = yamlsrc.read_bytes(path)
    except ConfigError:
        if path.exists():
            raise
        data = None
    files[str(path)] = data
    return data


def _pki_key(pki_dir: Path | None, where: yamlsrc.Node, files: dict[str, bytes | None],
             *parts: str, required: bool = True) -> dict[str, KeyInfo]:
    if pki_dir is None:
        if not required:
            return {}
        raise where.error("no signing_keys given and no PKI directory to take them from")
    path = pki_dir.joinpath(*parts)
    data = _probe(path, files)
    if data is None:
        if not required:
            return {}
        raise where.error(f"no signing_keys given and {path} does not exist (run: g2g pki init)")
    key = keys.public_from_pem(data, str(path))
    return {keys.keyid(key): KeyInfo(keyid=keys.keyid(key), key=key)}


def _merged(inline: dict[str, KeyInfo],
            published: dict[str, KeyInfo] | None) -> dict[str, KeyInfo]:
    """Inline keys plus the CA's published ones. A key in both gets the stricter of each
    time (latest not_before, earliest not_after and revoked_at): either source can
    restrict a key, neither can widen what the other says."""
    merged = dict(inline)
    for kid, info in (published or {}).items():
        other = merged.get(kid)
        merged[kid] = info if other is None else KeyInfo(
            keyid=kid, key=info.key,
            not_before=_latest(info.not_before, other.not_before),
            not_after=_earliest(info.not_after, other.not_after),
            revoked_at=_earliest(info.revoked_at, other.revoked_at))
    return merged


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _party_keys(fields: dict[str, yamlsrc.Node], published: dict[str, KeyInfo] | None,
                pki_dir: Path | None, files: dict[str, bytes | None], legacy: tuple[str, ...],
                *, required: bool) -> dict[str, KeyInfo]:
    """A party's keys: inline and published; with neither, the PKI's `signing.pub`."""
    inline = _keys_from(fields["signing_keys"]) if "signing_keys" in fields else {}
    merged = _merged(inline, published)
    if merged or "signing_keys" in fields:
        return merged
    return _pki_key(pki_dir, fields["id"], files, *legacy, required=required)


def _public(infos: Mapping[str, KeyInfo]) -> Mapping[str, Ed25519PublicKey]:
    return MappingProxyType({kid: info.key for kid, info in infos.items()})


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
    idempotent = False
    if node.is_scalar:
        name, description = node.str(), ""
    else:
        fields = node.mapping(allowed={"name", "description", "subject_fields", "idempotent"},
                              required={"name"})
        name = fields["name"].str()
        description = fields["description"].str() if "description" in fields else ""
        if "subject_fields" in fields:
            subjects = _subject_fields(fields["subject_fields"])
        idempotent = fields["idempotent"].bool() if "idempotent" in fields else False
    if not SERVICE_NAME.match(name):
        raise node.error(f"service {name!r} is not a full method name like pkg.Service/Method")
    return ServiceOffer(name=name, description=description, subject_fields=subjects,
                        idempotent=idempotent)


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


def _endpoints(fields: dict[str, yamlsrc.Node]) -> tuple[str | None, tuple[str, ...]]:
    """(`endpoint`, `endpoints`): one endpoint, or several in order of preference."""
    endpoint = fields["endpoint"].str() if "endpoint" in fields else None
    if "endpoints" not in fields:
        return endpoint, ()
    if endpoint is not None:
        raise fields["endpoints"].error("give endpoint or endpoints, not both")
    endpoints = fields["endpoints"].str_list()
    if not endpoints or len(set(endpoints)) != len(endpoints):
        raise fields["endpoints"].error("endpoints lists one or more distinct host:port")
    return endpoints[0], endpoints


def load_registry(path: Path, pki_dir: Path | None = None, *,
                  require_keys: bool = True) -> Registry:
    """Parse the agencies registry at `path`.

    `require_keys=False` is for tools that never verify signatures (policy
    checks): agencies without a key then get none instead of an error.
    """
    files: dict[str, bytes | None] = {}
    data = yamlsrc.read_bytes(path)
    files[str(path)] = data
    root = yamlsrc.parse(yamlsrc.decode(data, str(path)), str(path))
    if root is None:
        raise ConfigError("the registry is empty", file=str(path))
    top = root.mapping(allowed={"federation", "broker", "agencies"},
                       required={"federation", "broker", "agencies"})
    broker = top["broker"].mapping(allowed={"id", "endpoint", "signing_keys"},
                                   required={"id", "endpoint"})
    broker_id = broker["id"].str()
    if not AGENCY_ID.match(broker_id):
        raise broker["id"].error(f"{broker_id!r} is not an identifier like G2G/BROKER")
    published = _published(pki_dir, files)
    broker_keys = _party_keys(broker, published.keys.get(BROKER_PARTY), pki_dir, files,
                              ("broker", "signing.pub"), required=require_keys)
    agencies: dict[str, Agency] = {}
    providers: dict[str, tuple[str, ...]] = {}
    audited: list[tuple[yamlsrc.Node, str]] = []
    for item in top["agencies"].items():
        fields = item.mapping(
            allowed={"id", "name", "endpoint", "endpoints", "services", "signing_keys", "roles",
                     "audits", "events"},
            required={"id", "name"})
        agency_id = fields["id"].str()
        if not AGENCY_ID.match(agency_id):
            raise fields["id"].error(f"{agency_id!r} is not an agency id like ID/GOV/IMIGRASI")
        if agency_id in agencies or agency_id == broker_id:
            raise fields["id"].error(f"duplicate agency id {agency_id!r}")
        services = tuple(_service(s) for s in fields["services"].items()) \
            if "services" in fields else ()
        endpoint, endpoints = _endpoints(fields)
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
        signing = _party_keys(fields, published.keys.get(agency_id), pki_dir, files,
                              ("agencies", slug(agency_id), "signing.pub"),
                              required=require_keys)
        events = tuple(_event(e) for e in fields["events"].items()) if "events" in fields else ()
        if len({e.type for e in events}) != len(events):
            raise fields["events"].error(f"{agency_id} lists an event type twice")
        agencies[agency_id] = Agency(
            id=agency_id, name=fields["name"].str(), endpoint=endpoint, endpoints=endpoints,
            services=services,
            signing_keys=_public(signing), roles=roles, audits=audits,
            key_info=MappingProxyType(signing),
            certificates=published.certificates.get(agency_id, ()), events=events)
    for node, audits in audited:
        if audits not in agencies:
            raise node.error(f"audits {audits!r}, which is not an agency of the registry")
    return Registry(
        federation=top["federation"].str(), broker_id=broker_id,
        broker_endpoint=broker["endpoint"].str(), broker_keys=_public(broker_keys),
        agencies=MappingProxyType(agencies), source=str(path),
        _providers=MappingProxyType(providers),
        broker_key_info=MappingProxyType(broker_keys),
        broker_certificates=published.certificates.get(BROKER_PARTY, ()),
        files=MappingProxyType(files))


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
