"""Development federation PKI: a CA, TLS certificates and signing keys per agency.

`init_pki` builds the layout documented in docs/PKI.md from the agencies
registry; it is idempotent (existing files are kept, missing ones created), so
adding an agency to the registry and re-running it issues only the new keys.
Production federations bring their own CA and put public keys in the registry.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from g2g_sdk import keys, registry, signer, tls
from g2g_sdk.errors import AuthenticationError, ConfigError

BROKER = "broker"
CERT_DAYS = 825


@dataclass(frozen=True)
class Identity:
    """What a party needs to speak g2g: its TLS pair, the CA, and its signing key."""

    agency_id: str
    tls_cert_pem: bytes
    tls_key_pem: bytes
    ca_pem: bytes
    # A key file's key or an HSM key (g2g_sdk.signer): whatever signs for the party.
    signing_key: signer.Signer


def party_dir(pki_dir: Path, agency_id: str) -> Path:
    """Directory of one party's files; `agency_id == "broker"` is the broker."""
    if agency_id == BROKER:
        return pki_dir / BROKER
    return pki_dir / "agencies" / registry.slug(agency_id)


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM of an EC private key (written 0600 by keys.write_private)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "g2g development federation"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ensure_ca(out: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = out / "ca.crt", out / "ca.key"
    if cert_path.exists() and key_path.exists():
        keys.check_private_mode(key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError("the CA key is not an EC key", file=str(key_path))
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("g2g development CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CERT_DAYS * 2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    keys.write_private(key_path, private_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _has_identity(cert_path: Path, kind: tls.Kind, party_id: str) -> bool:
    try:
        named = tls.certificate_identity(x509.load_pem_x509_certificate(cert_path.read_bytes()))
    except (AuthenticationError, ValueError):
        return False
    return named == tls.PartyIdentity(kind, party_id)


def _issue_tls(directory: Path, kind: tls.Kind, party_id: str, ca: x509.Certificate,
               ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> None:
    """The party's TLS pair; kept if present and naming this party, else (re)issued.

    The CN is for humans; the identity is the SAN pair tls.certificate_identity
    reads. A certificate from before identity SANs existed is reissued.
    """
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    if key_path.exists() and cert_path.exists() and _has_identity(cert_path, kind, party_id):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(key.public_key(), kind, party_id, ca, ca_key, now)
    keys.write_private(key_path, private_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue_certificate(public_key: ec.EllipticCurvePublicKey, kind: tls.Kind, party_id: str,
                      ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                      now: dt.datetime, days: int = CERT_DAYS) -> x509.Certificate:
    """A federation TLS certificate for `public_key` naming the party (identity SANs)."""
    return (x509.CertificateBuilder().subject_name(_name(party_id))
            .issuer_name(ca.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.UniformResourceIdentifier(tls.identity_uri(kind, party_id)),
                x509.DNSName(tls.identity_dns_name(kind, party_id)),
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


def issue_party(directory: Path, kind: tls.Kind, party_id: str, ca: x509.Certificate,
                ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> None:
    """A party's TLS pair and signing key, unless present (onboarding one party)."""
    _issue_tls(directory, kind, party_id, ca, ca_key, now)
    _ensure_signing(directory, "signing")


def _ensure_signing(directory: Path, stem: str = "signing") -> None:
    private, public = directory / f"{stem}.key", directory / f"{stem}.pub"
    if private.exists():
        keys.check_private_mode(private)
        if not public.exists():
            keys.save_public_key(public, keys.load_private_key(private).public_key())
        return
    key = Ed25519PrivateKey.generate()
    keys.save_private_key(private, key)
    keys.save_public_key(public, key.public_key())


def init_pki(registry_path: Path, out_dir: Path, force: bool = False) -> list[Path]:
    """Create every missing CA, certificate and key for the registry; return what was made."""
    out_dir = Path(out_dir)
    if force and out_dir.exists():
        for path in sorted(out_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    before = {p for p in out_dir.rglob("*") if p.is_file()} if out_dir.exists() else set()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = _ensure_ca(out_dir, now)
    broker_dir = party_dir(out_dir, BROKER)
    broker_dir.mkdir(parents=True, exist_ok=True)
    _issue_tls(broker_dir, "broker", registry.read_broker_id(registry_path), ca, ca_key, now)
    _ensure_signing(broker_dir, "signing")
    _ensure_signing(broker_dir, "log")
    if not (broker_dir / "log-secret").exists():
        keys.write_private(broker_dir / "log-secret", os.urandom(32))
    for agency_id, _, _ in registry.read_agency_ids(registry_path):
        directory = party_dir(out_dir, agency_id)
        directory.mkdir(parents=True, exist_ok=True)
        _issue_tls(directory, "agency", agency_id, ca, ca_key, now)
        _ensure_signing(directory, "signing")
    # The CA's CRL (reissued once half its life is gone) and what it publishes for the
    # registry: every party's current signing key and certificate (docs/PKI.md).
    from g2g_sdk import ca as dev_ca

    dev_ca.ensure_crl(out_dir, now)
    dev_ca.publish_all(out_dir, [BROKER, *(a for a, _, _ in
                                           registry.read_agency_ids(registry_path))])
    return sorted(p for p in out_dir.rglob("*") if p.is_file() and p not in before)


def _read(path: Path, private: bool = False) -> bytes:
    try:
        if private:
            keys.check_private_mode(path)
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"missing {path.name} (run: g2g pki init)", file=str(path)) from None


def load_identity(pki_dir: Path, agency_id: str) -> Identity:
    """Load a party's TLS pair, the CA certificate and its signing key from the PKI layout."""
    directory = party_dir(Path(pki_dir), agency_id)
    return Identity(
        agency_id=agency_id,
        tls_cert_pem=_read(directory / "tls.crt"),
        tls_key_pem=_read(directory / "tls.key", private=True),
        ca_pem=_read(Path(pki_dir) / "ca.crt"),
        signing_key=signer.load_signer(directory, "signing"))


def load_log_secret(pki_dir: Path) -> bytes:
    """The broker's secret for keyed subject hashes in the audit log."""
    return _read(Path(pki_dir) / BROKER / "log-secret", private=True)


def load_log_key(pki_dir: Path) -> signer.Signer:
    """The broker's dedicated checkpoint-signing key (`log.uri` for an HSM, else `log.key`)."""
    return signer.load_signer(Path(pki_dir) / BROKER, "log")
