"""The development federation CA's lifecycle operations: publish, revoke, rotate, CSR, sign.

Everything here works on a PKI directory laid out by `pki.init_pki`
(docs/PKI.md) and writes files atomically (a temporary file in the same
directory, then rename), so a broker or adapter polling them never reads a
half-written CRL or `published.yaml`. What it publishes:

- `crl.pem`: the CA's CRL (PEM; CRL number increases with every issue;
  nextUpdate `CRL_DAYS` after thisUpdate);
- `published.yaml`: every party's signing keys (validity, revocation) and
  TLS certificates, read with the registry (g2g_sdk.registry).

Production CAs run their own tooling; `csr` is what an agency runs on its own
machine, `sign_csr` what the federation CA runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from g2g_sdk import keys, pki, registry, tls, yamlsrc
from g2g_sdk.errors import ConfigError

CRL_FILE = "crl.pem"
CRL_DAYS = 30
REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
}
PUBLISHED_HEADER = ("# Published by the g2g development CA (g2g pki ...): every party's signing\n"
                    "# keys and TLS certificates. Rewritten atomically; read with the registry.\n")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """RFC 3339 UTC; fractional seconds only when there are any (a revocation time may
    fall between two messages of the same second)."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one rename: readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_ca(pki_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The dev CA's certificate and key (refused if the key is readable by others)."""
    cert_path, key_path = pki_dir / "ca.crt", pki_dir / "ca.key"
    try:
        keys.check_private_mode(key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"no CA here (run: g2g pki init): {exc.strerror}",
                          file=str(exc.filename)) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("the CA key is not an EC key", file=str(key_path))
    return cert, key


def fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the DER certificate (what published.yaml lists)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# --- CRL ---------------------------------------------------------------------

@dataclass(frozen=True)
class Revoked:
    serial: int
    when: dt.datetime
    reason: x509.ReasonFlags | None


def read_crl(pki_dir: Path) -> tuple[list[Revoked], int]:
    """The dev CA's current CRL entries and CRL number (none yet: [], 0)."""
    path = pki_dir / CRL_FILE
    if not path.exists():
        return [], 0
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"not a PEM CRL: {exc}", file=str(path)) from None
    out = []
    for entry in crl:
        try:
            reason: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(
                x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = None
        out.append(Revoked(entry.serial_number, entry.revocation_date_utc, reason))
    try:
        number = int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        number = 0
    return out, number


def issue_crl(pki_dir: Path, revoked: list[Revoked], *, now: dt.datetime | None = None,
              days: float = CRL_DAYS) -> Path:
    """Sign and publish a CRL listing `revoked`, numbered one above the current one."""
    now = now or _now()
    ca, ca_key = load_ca(pki_dir)
    _, number = read_crl(pki_dir)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
               .last_update(now).next_update(now + dt.timedelta(days=days))
               .add_extension(x509.CRLNumber(number + 1), critical=False))
    for entry in revoked:
        item = (x509.RevokedCertificateBuilder().serial_number(entry.serial)
                .revocation_date(entry.when))
        if entry.reason is not None:
            item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    crl = builder.sign(ca_key, hashes.SHA256())
    path = pki_dir / CRL_FILE
    write_atomic(path, crl.public_bytes(serialization.Encoding.PEM))
    return path


def ensure_crl(pki_dir: Path, now: dt.datetime | None = None) -> bool:
    """Issue the CRL if there is none or half its life is gone (`pki init`); True if issued."""
    now = now or _now()
    path = pki_dir / CRL_FILE
    if path.exists():
        crl = x509.load_pem_x509_crl(path.read_bytes())
        next_update = crl.next_update_utc
        if next_update is not None and now < crl.last_update_utc + (
                next_update - crl.last_update_utc) / 2:
            return False
    entries, _ = read_crl(pki_dir)
    issue_crl(pki_dir, entries, now=now)
    return True


def revoke_serials(pki_dir: Path, serials: list[int], reason: str = "unspecified",
                   now: dt.datetime | None = None) -> list[int]:
    """Add serials to the CRL (already listed ones are kept as they were); the new ones."""
    if reason not in REASONS:
        raise ConfigError(f"unknown revocation reason {reason!r}; known: {', '.join(REASONS)}")
    now = now or _now()
    entries, _ = read_crl(pki_dir)
    listed = {e.serial for e in entries}
    new = [s for s in serials if s not in listed]
    entries += [Revoked(s, now, REASONS[reason]) for s in new]
    issue_crl(pki_dir, entries, now=now)
    return new


# --- published.yaml ------------------------------------------------------------

def _published_path(pki_dir: Path) -> Path:
    return pki_dir / registry.PUBLISHED


def read_published(pki_dir: Path) -> dict[str, dict[str, list[dict[str, str]]]]:
    """{party: {"signing_keys": [...], "certificates": [...]}} as plain data."""
    path = _published_path(pki_dir)
    if not path.exists():
        return {}
    root = yamlsrc.load(path)
    if root is None:
        return {}
    data = root.plain()
    out: dict[str, dict[str, list[dict[str, str]]]] = {}
    for party in data.get("parties") or []:
        out[str(party["id"])] = {
            "signing_keys": [{k: str(v) for k, v in e.items()}
                             for e in party.get("signing_keys") or []],
            "certificates": [{k: str(v) for k, v in e.items()}
                             for e in party.get("certificates") or []]}
    return out


def write_published(pki_dir: Path, parties: dict[str, dict[str, list[dict[str, str]]]]) -> None:
    doc: dict[str, Any] = {"parties": [
        {"id": party, **{k: v for k, v in entry.items() if v}}
        for party, entry in sorted(parties.items())]}
    text = PUBLISHED_HEADER + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False,
                                             width=1000)
    write_atomic(_published_path(pki_dir), text.encode("utf-8"))


def key_entry(key: Ed25519PublicKey, **times: dt.datetime) -> dict[str, str]:
    return {"keyid": keys.keyid(key), "public_key": keys.public_to_b64(key),
            **{name: iso(value) for name, value in times.items()}}


def cert_entry(cert: x509.Certificate) -> dict[str, str]:
    return {"serial": f"{cert.serial_number:x}", "sha256": fingerprint(cert),
            "not_after": iso(cert.not_valid_after_utc)}


def publish_current(pki_dir: Path, party: str,
                    parties: dict[str, dict[str, list[dict[str, str]]]]) -> bool:
    """Add the party's current signing key and certificate if not yet published."""
    directory = pki.party_dir(pki_dir, party)
    entry = parties.setdefault(party, {"signing_keys": [], "certificates": []})
    changed = False
    public = directory / "signing.pub"
    if public.exists():
        key = keys.load_public_key(public)
        if all(e["keyid"] != keys.keyid(key) for e in entry["signing_keys"]):
            entry["signing_keys"].append(key_entry(key))
            changed = True
    cert_path = directory / "tls.crt"
    if cert_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if all(e["sha256"] != fingerprint(cert) for e in entry["certificates"]):
            entry["certificates"].append(cert_entry(cert))
            changed = True
    return changed


def publish_all(pki_dir: Path, parties: list[str]) -> bool:
    """Publish every listed party's current key and certificate (`pki init`)."""
    published = read_published(pki_dir)
    changed = False
    for party in parties:
        changed = publish_current(pki_dir, party, published) or changed
    if changed or not _published_path(pki_dir).exists():
        write_published(pki_dir, published)
    return changed


# --- revocation, rotation -----------------------------------------------------

def current_certificate(pki_dir: Path, party: str) -> x509.Certificate:
    path = pki.party_dir(pki_dir, party) / "tls.crt"
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{party} has no certificate here", file=str(path)) from None


def revoke_party(pki_dir: Path, party: str, *, reason: str = "key_compromise",
                 signing_key: bool = False, at: dt.datetime | None = None) -> dict[str, str]:
    """Revoke a party's current TLS certificate in the CRL and, with `signing_key`, its
    current signing key in published.yaml (`revoke_signing_key`)."""
    cert = current_certificate(pki_dir, party)
    revoke_serials(pki_dir, [cert.serial_number], reason)
    done = {"party": party, "serial": f"{cert.serial_number:x}"}
    if signing_key:
        done |= revoke_signing_key(pki_dir, party, at=at)
    return done


def revoke_signing_key(pki_dir: Path, party: str, *,
                       at: dt.datetime | None = None) -> dict[str, str]:
    """Set `revoked_at` (default now) on the party's current signing key in published.yaml:
    signatures on messages created from then on are refused (KEY_REVOKED)."""
    key = keys.load_public_key(pki.party_dir(pki_dir, party) / "signing.pub")
    published = read_published(pki_dir)
    publish_current(pki_dir, party, published)
    when = iso(at or _now())
    for entry in published[party]["signing_keys"]:
        if entry["keyid"] == keys.keyid(key):
            entry["revoked_at"] = when
    write_published(pki_dir, published)
    return {"keyid": keys.keyid(key), "revoked_at": when}


def rotate(pki_dir: Path, party: str, *, now: dt.datetime | None = None) -> dict[str, str]:
    """Issue the party a new signing key and TLS certificate, publish both beside the old.

    The new pair is published first, then moved into place; the old files are
    kept under `previous/<old keyid prefix>/` until `retire`.
    """
    now = now or _now()
    ca, ca_key = load_ca(pki_dir)
    directory = pki.party_dir(pki_dir, party)
    old_cert = current_certificate(pki_dir, party)
    old_key = keys.load_public_key(directory / "signing.pub")
    signing = Ed25519PrivateKey.generate()
    tls_key = ec.generate_private_key(ec.SECP256R1())
    kind: tls.Kind = "broker" if party == pki.BROKER else "agency"
    party_id = tls.certificate_identity(old_cert).id
    cert = pki.issue_certificate(tls_key.public_key(), kind, party_id, ca, ca_key, now)
    published = read_published(pki_dir)
    publish_current(pki_dir, party, published)  # the old pair, if not yet listed
    published[party]["signing_keys"].append(key_entry(signing.public_key()))
    published[party]["certificates"].append(cert_entry(cert))
    write_published(pki_dir, published)
    previous = directory / "previous" / keys.keyid(old_key)[:16]
    previous.mkdir(parents=True, exist_ok=True)
    for name in ("signing.key", "signing.pub", "tls.key", "tls.crt"):
        os.replace(directory / name, previous / name)
    keys.save_private_key(directory / "signing.key", signing)
    keys.save_public_key(directory / "signing.pub", signing.public_key())
    keys.write_private(directory / "tls.key", pki.private_pem(tls_key))
    write_atomic(directory / "tls.crt", cert.public_bytes(serialization.Encoding.PEM))
    return {"party": party, "old_keyid": keys.keyid(old_key),
            "keyid": keys.keyid(signing.public_key()),
            "old_serial": f"{old_cert.serial_number:x}", "serial": f"{cert.serial_number:x}"}


def retire(pki_dir: Path, party: str) -> dict[str, list[str]]:
    """Unpublish every key and certificate of the party but the current ones; revoke the
    retired certificates (reason superseded). Signatures by a retired key are UNKNOWN_KEY."""
    directory = pki.party_dir(pki_dir, party)
    current_key = keys.keyid(keys.load_public_key(directory / "signing.pub"))
    cert = current_certificate(pki_dir, party)
    published = read_published(pki_dir)
    publish_current(pki_dir, party, published)
    entry = published[party]
    retired_keys = [e["keyid"] for e in entry["signing_keys"] if e["keyid"] != current_key]
    retired_certs = [e for e in entry["certificates"] if e["sha256"] != fingerprint(cert)]
    entry["signing_keys"] = [e for e in entry["signing_keys"] if e["keyid"] == current_key]
    entry["certificates"] = [e for e in entry["certificates"] if e["sha256"] == fingerprint(cert)]
    if retired_certs:
        revoke_serials(pki_dir, [int(e["serial"], 16) for e in retired_certs], "superseded")
    write_published(pki_dir, published)
    return {"keyids": retired_keys, "serials": [e["serial"] for e in retired_certs]}


# --- production path: CSR --------------------------------------------------------

def make_csr(out_dir: Path, kind: tls.Kind, party_id: str) -> dict[str, Path]:
    """On the agency's machine: a TLS key and CSR naming it, and an Ed25519 signing key.

    Private keys are written 0600 and never leave `out_dir`; the CSR and
    `signing.pub` go to the federation CA.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tls_key_path, csr_path = out_dir / "tls.key", out_dir / "tls.csr"
    for path in (tls_key_path, out_dir / "signing.key"):
        if path.exists():
            raise ConfigError("refusing to overwrite an existing private key", file=str(path))
    tls_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party_id)]))
           .add_extension(x509.SubjectAlternativeName([
               x509.UniformResourceIdentifier(tls.identity_uri(kind, party_id)),
               x509.DNSName(tls.identity_dns_name(kind, party_id))]), critical=False)
           .sign(tls_key, hashes.SHA256()))
    keys.write_private(tls_key_path, pki.private_pem(tls_key))
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    signing = Ed25519PrivateKey.generate()
    keys.save_private_key(out_dir / "signing.key", signing)
    keys.save_public_key(out_dir / "signing.pub", signing.public_key())
    return {"tls.key": tls_key_path, "tls.csr": csr_path,
            "signing.key": out_dir / "signing.key", "signing.pub": out_dir / "signing.pub"}


def sign_csr(pki_dir: Path, csr_path: Path, kind: tls.Kind, party_id: str, out: Path, *,
             signing_pub: Path | None = None, days: int = pki.CERT_DAYS) -> x509.Certificate:
    """At the federation CA: check the CSR's signature, issue a certificate whose SANs the
    CA sets for `party_id` (whatever the CSR asked), and publish it and the signing key."""
    try:
        csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"not a PEM certificate signing request: {exc}",
                          file=str(csr_path)) from None
    if not csr.is_signature_valid:
        raise ConfigError("the CSR's signature does not verify (altered or corrupt)",
                          file=str(csr_path))
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ConfigError("the CSR's key is not an EC key (use P-256)", file=str(csr_path))
    ca, ca_key = load_ca(pki_dir)
    cert = pki.issue_certificate(public, kind, party_id, ca, ca_key, _now(), days=days)
    write_atomic(out, cert.public_bytes(serialization.Encoding.PEM))
    published = read_published(pki_dir)
    name = pki.BROKER if kind == "broker" else party_id
    entry = published.setdefault(name, {"signing_keys": [], "certificates": []})
    entry["certificates"].append(cert_entry(cert))
    if signing_pub is not None:
        key = keys.load_public_key(signing_pub)
        if all(e["keyid"] != keys.keyid(key) for e in entry["signing_keys"]):
            entry["signing_keys"].append(key_entry(key))
    write_published(pki_dir, published)
    return cert


# --- status ------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusRow:
    """One certificate or signing key of one party, as `g2g pki status` shows it."""

    party: str
    kind: str  # "certificate" | "signing_key"
    id: str  # serial (hex) or key id
    issuer: str
    not_after: str
    status: str  # valid | revoked | expired | not_yet_valid | in_use (unpublished)
    revoked_at: str = ""


def status(reg: registry.Registry, pki_dir: Path, now: dt.datetime | None = None,
           ) -> list[StatusRow]:
    """Every party's published certificates and signing keys, with CRL and key status.

    The CRL read is the CA's own `crl.pem`, verified (a CRL that does not verify is
    an error, not an empty list).
    """
    from g2g_sdk import revocation

    now = now or _now()
    ca_cert = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    issuer = ca_cert.subject.rfc4514_string()
    revoked: dict[int, dt.datetime] = {}
    if (pki_dir / CRL_FILE).exists():
        state = revocation.load_crls(revocation.RevocationConfig(
            pki_dir / "ca.crt", (pki_dir / CRL_FILE,), stale_grace=dt.timedelta(days=36500)),
            now)
        for crl in state.crls.values():
            revoked |= dict(crl.revoked)
    parties: list[tuple[str, tuple[registry.CertificateInfo, ...],
                        Mapping[str, registry.KeyInfo]]] = [
        (pki.BROKER, reg.broker_certificates, reg.broker_key_info),
        *((a.id, a.certificates, a.key_info) for a in reg.agencies.values())]
    rows = []
    for party, certs, key_info in parties:
        for cert in certs:
            when = revoked.get(int(cert.serial, 16))
            state_name = ("revoked" if when is not None else
                          "expired" if cert.not_after <= now else "valid")
            rows.append(StatusRow(party, "certificate", cert.serial, issuer, iso(cert.not_after),
                                  state_name, iso(when) if when else ""))
        for info in key_info.values():
            refusal = info.refusal(now)
            state_name = {None: "valid", "KEY_REVOKED": "revoked", "KEY_EXPIRED": "expired",
                          "KEY_NOT_YET_VALID": "not_yet_valid"}[refusal[0] if refusal else None]
            rows.append(StatusRow(party, "signing_key", info.keyid, "(registry)",
                                  iso(info.not_after) if info.not_after else "",
                                  state_name,
                                  iso(info.revoked_at) if info.revoked_at else ""))
    return rows


# --- onboarding (development federation) --------------------------------------------

def _agency_block(agency_id: str, name: str, indent: int, endpoint: str | None) -> str:
    pad, item = " " * indent, " " * (indent + 2)
    lines = [f"{pad}- id: {agency_id}", f"{item}name: {json.dumps(name, ensure_ascii=False)}"]
    if endpoint:
        lines.append(f"{item}endpoint: {endpoint}")
    return "\n".join(lines) + "\n"


def add_agency(registry_path: Path, pki_dir: Path, agency_id: str, name: str, *,
               endpoint: str | None = None) -> dict[str, str]:
    """Onboard an agency in the development federation, with no restart anywhere.

    In this order, so that no reader ever sees a registry naming keys that do not
    exist yet: issue its TLS certificate and signing key, publish both
    (published.yaml ignores parties the registry does not name), then append its
    entry to the registry — validated as a whole before it atomically replaces
    the file. Its services, if any, and its policies are added separately.
    """
    if not registry.AGENCY_ID.match(agency_id):
        raise ConfigError(f"{agency_id!r} is not an agency id like ID/GOV/KPK")
    text = yamlsrc.decode(yamlsrc.read_bytes(registry_path), str(registry_path))
    if agency_id in {a for a, _, _ in registry.read_agency_ids(registry_path)}:
        raise ConfigError(f"{agency_id} is already in the registry", file=str(registry_path))
    node = yaml.compose(text)
    assert node is not None  # read_agency_ids parsed it
    agencies = next(v for k, v in node.value if k.value == "agencies")
    if not isinstance(agencies, yaml.SequenceNode) or agencies.flow_style or not agencies.value:
        raise ConfigError("the registry's agencies are not a block list to append to",
                          file=str(registry_path))
    indent = agencies.value[0].start_mark.column - 2
    # A block list ends where the next token (the next top-level key, or the end) starts.
    head, tail = text[:agencies.end_mark.index], text[agencies.end_mark.index:]
    new_text = (head if head.endswith("\n") else head + "\n") + _agency_block(
        agency_id, name, indent, endpoint) + tail

    ca_cert, ca_key = load_ca(pki_dir)
    now = _now()
    directory = pki.party_dir(pki_dir, agency_id)
    directory.mkdir(parents=True, exist_ok=True)
    pki.issue_party(directory, "agency", agency_id, ca_cert, ca_key, now)
    published = read_published(pki_dir)
    publish_current(pki_dir, agency_id, published)
    write_published(pki_dir, published)
    staged = registry_path.with_name(f".{registry_path.name}.new")
    staged.write_text(new_text, encoding="utf-8")
    try:
        registry.load_registry(staged, pki_dir)  # the whole file must still be valid
    except ConfigError:
        staged.unlink()
        raise
    os.replace(staged, registry_path)
    key = keys.load_public_key(directory / "signing.pub")
    cert = current_certificate(pki_dir, agency_id)
    return {"agency": agency_id, "keyid": keys.keyid(key), "serial": f"{cert.serial_number:x}",
            "directory": str(directory)}
