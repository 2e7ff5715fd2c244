"""Certificate revocation: the federation CA's CRLs, verified, and the per-call peer check.

`load_crls` reads the CA certificate(s) and every CRL file, and accepts a CRL
only if it parses (PEM or DER), is issued by a federation CA, its signature
verifies with that CA's key, it has a nextUpdate, and it is not stale beyond
the grace. The result, a `CrlState`, is a value: `check` decides one peer
certificate against it without I/O, so the broker and the provider toolkit
hot-reload the state (g2g_sdk.reload) and check every call. Fails closed: a
certificate whose issuer has no loaded CRL, or whose CRL is stale, is refused.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from g2g_sdk import yamlsrc
from g2g_sdk.errors import AuthenticationError, ConfigError
from g2g_sdk.registry import files_version
from g2g_sdk.reload import Reloader

MAX_CRL_BYTES = 16 << 20


@dataclass(frozen=True)
class RevocationConfig:
    """Where the CA certificate(s) and CRLs are, and how stale a CRL may get."""

    ca_file: Path
    crl_files: tuple[Path, ...]
    stale_grace: timedelta = timedelta(0)
    # Log a warning once a CRL's nextUpdate is this close (the CA should publish before).
    crl_warning: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Crl:
    """One verified CRL: whose, how fresh, and which serials it revokes (with when)."""

    path: str
    issuer: str
    ca_der: bytes  # the verified issuing CA certificate (DER)
    number: int | None
    this_update: datetime
    next_update: datetime
    revoked: Mapping[int, datetime]


@dataclass(frozen=True)
class CrlState:
    """Every verified CRL by issuer (DER of the issuer name), built from `files`."""

    files: Mapping[str, bytes | None]
    crls: Mapping[bytes, Crl]
    stale_grace: timedelta = timedelta(0)
    crl_warning: timedelta = timedelta(hours=24)

    @property
    def version(self) -> str:
        return files_version(self.files)

    def check(self, cert: x509.Certificate, now: datetime) -> None:
        """Refuse a certificate that is expired, revoked, or whose status is unknown."""
        # Every call's peer: the certificate's facts come from the per-certificate
        # cache, and the serial is only put into words for a refusal.
        facts = cert_facts(cert)
        if facts.not_after <= now:
            serial = f"{facts.serial:x}"
            raise AuthenticationError(
                f"the certificate (serial {serial}) expired at "
                f"{_iso(facts.not_after)}", reason="CERT_EXPIRED",
                metadata={"serial": serial})
        crl = self.crls.get(facts.issuer)
        if crl is None or not _issued_by(facts.der, crl.ca_der):
            # No CRL of its issuer — or of a CA that merely has the same name.
            raise AuthenticationError(
                f"no CRL of the certificate's issuer ({cert.issuer.rfc4514_string()}) is "
                "loaded, so its status is unknown", reason="CERT_STATUS_UNKNOWN",
                metadata={"serial": f"{facts.serial:x}"})
        if now > crl.next_update + self.stale_grace:
            raise AuthenticationError(
                f"the CRL of {crl.issuer} is stale (nextUpdate {_iso(crl.next_update)}), so "
                "certificate status is unknown", reason="CRL_STALE",
                metadata={"serial": f"{facts.serial:x}", "next_update": _iso(crl.next_update)})
        revoked_at = crl.revoked.get(facts.serial)
        if revoked_at is not None:
            serial = f"{facts.serial:x}"
            raise AuthenticationError(
                f"the certificate (serial {serial}) was revoked at {_iso(revoked_at)}",
                reason="CERT_REVOKED", metadata={"serial": serial})

    def warnings(self, now: datetime) -> list[dict[str, str]]:
        """CRLs past or near their nextUpdate: what an operator must act on (for logging)."""
        out = []
        for crl in self.crls.values():
            if now > crl.next_update + self.stale_grace:
                state = "stale"
            elif now > crl.next_update:
                state = "in_grace"
            elif now > crl.next_update - self.crl_warning:
                state = "expiring"
            else:
                continue
            out.append({"file": crl.path, "issuer": crl.issuer, "state": state,
                        "next_update": _iso(crl.next_update)})
        return out


@dataclass(frozen=True)
class CertFacts:
    """Encodings of a certificate that the per-call checks compare."""

    der: bytes
    issuer: bytes  # DER of the issuer name: which CRL applies
    sha256: str  # hex SHA-256 of `der`: the published fingerprint
    serial: int
    not_after: datetime  # not_valid_after_utc (a new datetime object at every read)


@functools.lru_cache(maxsize=1024)
def cert_facts(cert: x509.Certificate) -> CertFacts:
    """The DER, issuer name and fingerprint of `cert`, encoded once per certificate.

    Every call's peer is checked with them; re-encoding them each time cost ~25 µs
    of broker CPU per exchange. Certificates hash and compare by their DER bytes.
    """
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertFacts(der=der, issuer=cert.issuer.public_bytes(),
                     sha256=hashlib.sha256(der).hexdigest(), serial=cert.serial_number,
                     not_after=cert.not_valid_after_utc)


@functools.lru_cache(maxsize=4096)
def _issued_by(cert_der: bytes, ca_der: bytes) -> bool:
    """Whether the CA's key signed the certificate (cached: a few peers, many calls)."""
    try:
        x509.load_der_x509_certificate(cert_der).verify_directly_issued_by(
            x509.load_der_x509_certificate(ca_der))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(path: Path, files: dict[str, bytes | None]) -> bytes:
    try:
        data = yamlsrc.read_bytes(path, max_bytes=MAX_CRL_BYTES)  # ConfigError names the file
    except ConfigError as exc:
        if path.exists():
            raise
        # Say what the file is for: a PKI made before CRLs existed has none yet.
        raise ConfigError(f"{exc.message.partition(': ')[2]} (the federation CA's CRL or "
                          "certificate; `g2g pki init` writes the development CA's, "
                          "`trust.crls` names others)", file=str(path)) from None
    files[str(path)] = data
    return data


def _cas(path: Path, files: dict[str, bytes | None]) -> list[x509.Certificate]:
    try:
        cas = x509.load_pem_x509_certificates(_read(path, files))
    except ValueError as exc:
        raise ConfigError(f"not a PEM CA certificate: {exc}", file=str(path)) from None
    return cas


def _verify(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                      | ed25519.Ed25519PublicKey):
        return False
    try:
        return crl.is_signature_valid(key)
    except (InvalidSignature, TypeError, ValueError):
        return False


def _parse(path: Path, data: bytes, cas: Sequence[x509.Certificate], now: datetime,
           grace: timedelta) -> Crl:
    try:
        crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(data))
    except ValueError:
        # The library's text carries no more than this (and a URL); say what it means.
        raise ConfigError(f"not an X.509 CRL in {'PEM' if b'-----BEGIN' in data else 'DER'} "
                          "(malformed, or incomplete: half-written?)", file=str(path)) from None
    issuer = crl.issuer.rfc4514_string()
    ca = next((c for c in cas if c.subject == crl.issuer), None)
    if ca is None:
        raise ConfigError(f"the CRL is issued by {issuer!r}, which is not a federation CA",
                          file=str(path))
    if not _verify(crl, ca):
        raise ConfigError(f"the CRL's signature does not verify with the key of the "
                          f"federation CA {issuer!r} (signed by another CA, or altered)",
                          file=str(path))
    next_update = crl.next_update_utc
    if next_update is None:
        raise ConfigError("the CRL has no nextUpdate, so its freshness is unknown",
                          file=str(path))
    if now > next_update + grace:
        raise ConfigError(f"the CRL is stale: its nextUpdate {_iso(next_update)} has passed "
                          f"(grace {int(grace.total_seconds())} s)", file=str(path))
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    return Crl(path=str(path), issuer=issuer,
               ca_der=ca.public_bytes(serialization.Encoding.DER), number=number,
               this_update=crl.last_update_utc, next_update=next_update,
               revoked={r.serial_number: r.revocation_date_utc for r in crl})


def load_crls(config: RevocationConfig, now: datetime | None = None) -> CrlState:
    """Read and verify the CA certificate(s) and every CRL; ConfigError names the file."""
    now = now or datetime.now(UTC)
    files: dict[str, bytes | None] = {}
    cas = _cas(config.ca_file, files)
    crls: dict[bytes, Crl] = {}
    for path in config.crl_files:
        crl = _parse(path, _read(path, files), cas, now, config.stale_grace)
        key = next(c.subject.public_bytes() for c in cas if c.subject.rfc4514_string()
                   == crl.issuer)
        if key in crls:
            raise ConfigError(f"a second CRL of {crl.issuer!r} (the first is "
                              f"{crls[key].path}); list one CRL per CA", file=str(path))
        crls[key] = crl
    return CrlState(files=files, crls=crls, stale_grace=config.stale_grace,
                    crl_warning=config.crl_warning)


def not_older(current: CrlState, new: CrlState) -> None:
    """Refuse a CRL set that would roll a CA's CRL back to a lower CRL number."""
    for key, crl in new.crls.items():
        old = current.crls.get(key)
        if old is not None and old.number is not None and (
                crl.number is None or crl.number < old.number):
            raise ConfigError(f"CRL number {crl.number} is lower than the serving CRL's "
                              f"{old.number}: refusing to roll revocations back",
                              file=crl.path)


@dataclass
class PeerChecker:
    """Checks a call's peer certificate (PEM from the gRPC auth context) against live CRLs.

    `state` returns the live CrlState; parsed certificates are cached by their bytes.
    """

    state: Callable[[], CrlState]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _cache: OrderedDict[bytes, x509.Certificate] = field(default_factory=OrderedDict)

    def check(self, pem: bytes | None) -> x509.Certificate:
        """Refuse the peer (AuthenticationError with a CERT_*/CRL_* reason) or return its
        certificate, parsed."""
        if not pem:
            raise AuthenticationError("no client certificate on this connection",
                                      reason="NO_PEER_IDENTITY")
        cert = self._cache.get(pem)
        if cert is None:
            cert = x509.load_pem_x509_certificate(pem)  # gRPC verified it: it parses
            self._cache[pem] = cert
            if len(self._cache) > 1024:
                self._cache.popitem(last=False)
        self.state().check(cert, self.clock())
        return cert


def crl_reloader(config: RevocationConfig, *, interval: float = 2.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 ) -> Reloader[CrlState]:
    """The live, verified CRLs of `config`: reloaded on change, never rolled back."""
    def accept(old: CrlState | None, new: CrlState) -> None:
        if old is not None:
            not_older(old, new)

    return Reloader("crl", lambda: load_crls(config, clock()), interval=interval,
                    accept=accept)
