"""The broker's own TLS pair and signing key, switched without a restart after a rotation.

`g2g pki rotate broker` publishes the new signing key and certificate, then moves
the new files into `<pki>/broker/`. `OwnIdentity` notices the new files (a poll
every `interval` seconds, or at once on SIGHUP), loads them completely, and
switches only when they are consistent (the TLS key belongs to the certificate)
and the live registry publishes them (the signing key among the broker's keys;
the certificate among its published certificates, when the CA lists any).
Until then the old identity keeps serving and the new files are checked again.

The switch is one attribute assignment. New TLS handshakes then present the new
certificate (`server_credentials`, grpc's dynamic server credentials); the
next attestation is signed with the new key (`signer`); new channels to the
providers present the new client certificate (broker/forward.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from g2g_sdk import ca, keys, pki
from g2g_sdk.errors import G2GError
from g2g_sdk.pki import Identity
from g2g_sdk.registry import Registry
from g2g_sdk.reload import Poller, changed
from g2g_sdk.signer import Signer

log = structlog.get_logger("g2g.broker")

_FILES = ("tls.crt", "tls.key", "signing.key", "signing.uri", "signing.pub")


class OwnIdentity(Poller):
    """The party's live identity; `current` is read by TLS and the signer at use."""

    def __init__(self, pki_dir: Path, party: str, registry: Callable[[], Registry], *,
                 interval: float = 2.0) -> None:
        super().__init__(interval)
        self._pki_dir = Path(pki_dir)
        self._party = party
        self._registry = registry
        self._paths = [str(pki.party_dir(self._pki_dir, party) / n) for n in _FILES]
        self._paths.append(str(self._pki_dir / "ca.crt"))
        self._files = _read(self._paths)
        self.current: Identity = pki.load_identity(self._pki_dir, party)
        self._served: Identity | None = None  # what the TLS fetcher handed gRPC last
        self._refused: str | None = None  # the last refusal logged, to log it once

    def signer(self) -> Signer:
        """The signing key to use now."""
        return self.current.signing_key

    def server_credentials(self) -> grpc.ServerCredentials:
        """mTLS server credentials whose certificate follows `current` on new handshakes."""
        self._served = self.current
        return grpc.dynamic_ssl_server_credentials(
            _configuration(self.current), self._fetch, require_client_authentication=True)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC for each new handshake (in its own thread): None keeps the
        # configuration it has. Reading `current` once is atomic.
        current = self.current
        if current is self._served:
            return None
        self._served = current
        return _configuration(current)

    async def reload(self) -> bool:
        """Switch to the files now in place if they changed, are whole and are published."""
        if not await asyncio.to_thread(changed, self._files):
            return False
        files = await asyncio.to_thread(_read, self._paths)
        try:
            new = await asyncio.to_thread(self._load)
        except (G2GError, OSError, ValueError) as exc:
            self._refuse(str(exc))
            return False
        unpublished = self._unpublished(new)
        if unpublished:
            self._refuse(unpublished)
            return False  # not recorded: checked again until the registry lists it
        old_kid = keys.keyid(self.current.signing_key.public_key())
        self.current, self._files, self._refused = new, files, None
        log.info("identity_switched", party=self._party, old_keyid=old_kid,
                 keyid=keys.keyid(new.signing_key.public_key()),
                 serial=f"{x509.load_pem_x509_certificate(new.tls_cert_pem).serial_number:x}")
        return True

    def _load(self) -> Identity:
        identity = pki.load_identity(self._pki_dir, self._party)
        cert = x509.load_pem_x509_certificate(identity.tls_cert_pem)
        key = serialization.load_pem_private_key(identity.tls_key_pem, password=None)
        if cert.public_key() != key.public_key():  # caught mid-rotation: files from two pairs
            raise ValueError("the TLS key does not belong to the TLS certificate")
        return identity

    def _unpublished(self, identity: Identity) -> str | None:
        registry = self._registry()
        kid = keys.keyid(identity.signing_key.public_key())
        if kid not in registry.broker_keys:
            return f"signing key {kid[:16]} is not published in the registry yet"
        listed = {c.sha256 for c in registry.broker_certificates}
        cert = x509.load_pem_x509_certificate(identity.tls_cert_pem)
        if listed and ca.fingerprint(cert) not in listed:
            return "the TLS certificate is not published in the registry yet"
        return None

    def _refuse(self, error: str) -> None:
        if error != self._refused:
            self._refused = error
            log.warning("identity_reload_deferred", party=self._party, error=error)


def _configuration(identity: Identity) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(identity.tls_key_pem, identity.tls_cert_pem)], root_certificates=identity.ca_pem)


def _read(paths: list[str]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for name in paths:
        try:
            out[name] = Path(name).read_bytes()
        except FileNotFoundError:
            out[name] = None
    return out
