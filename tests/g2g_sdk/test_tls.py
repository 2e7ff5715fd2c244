"""Identity in federation certificates: the SAN URI + DNS pair, read strictly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from g2g_sdk import pki, tls
from g2g_sdk.errors import AuthenticationError


def _cert(*names: x509.GeneralName) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ID/GOV/POLRI")])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(key, hashes.SHA256())


URI = x509.UniformResourceIdentifier
DNS = x509.DNSName


def test_names_of_an_agency_and_the_broker() -> None:
    assert tls.identity_uri("agency", "ID/GOV/POLRI") == "urn:g2g:agency:ID/GOV/POLRI"
    assert tls.identity_dns_name("agency", "ID/GOV/BEA-CUKAI") == \
        "id.gov.bea-cukai.agency.g2g.invalid"
    assert tls.identity_dns_name("broker", "G2G/BROKER") == "g2g.broker.broker.g2g.invalid"


def test_dev_pki_certificates_name_their_holder(pki_dir: Path) -> None:
    for party, expected in (("ID/GOV/POLRI", tls.PartyIdentity("agency", "ID/GOV/POLRI")),
                            ("broker", tls.PartyIdentity("broker", "G2G/BROKER"))):
        cert = x509.load_pem_x509_certificate(pki.load_identity(pki_dir, party).tls_cert_pem)
        assert tls.certificate_identity(cert) == expected


def test_pki_init_reissues_a_certificate_without_identity(tmp_path: Path) -> None:
    registry = Path(__file__).resolve().parents[2] / "config" / "agencies.yaml"
    pki.init_pki(registry, tmp_path)
    cert_path = pki.party_dir(tmp_path, "ID/GOV/POLRI") / "tls.crt"
    cert_path.write_bytes(_cert().public_bytes(serialization.Encoding.PEM))  # pre-SAN style
    pki.init_pki(registry, tmp_path)
    assert tls.certificate_identity(
        x509.load_pem_x509_certificate(cert_path.read_bytes())) == \
        tls.PartyIdentity("agency", "ID/GOV/POLRI")


@pytest.mark.parametrize("names", [
    (),                                                                  # no SAN at all
    (DNS("localhost"),),                                                 # SAN, no g2g URI
    (URI("urn:g2g:agency:ID/GOV/POLRI"),),                               # URI without DNS
    (URI("urn:g2g:agency:ID/GOV/POLRI"), DNS("id.gov.bin.agency.g2g.invalid")),  # disagree
    (URI("urn:g2g:agency:ID/GOV/POLRI"), DNS("id.gov.polri.agency.g2g.invalid"),
     URI("urn:g2g:agency:ID/GOV/BIN")),                                  # two identities
    (URI("urn:g2g:agency:ID/GOV/POLRI"), DNS("id.gov.polri.agency.g2g.invalid"),
     DNS("*.gov.polri.agency.g2g.invalid")),                             # a wildcard besides
    (URI("urn:g2g:auditor:ID/GOV/POLRI"), DNS("id.gov.polri.auditor.g2g.invalid")),  # kind
])
def test_a_certificate_without_exactly_one_consistent_identity_names_nobody(
        names: tuple[x509.GeneralName, ...]) -> None:
    with pytest.raises(AuthenticationError) as info:
        tls.certificate_identity(_cert(*names))
    assert info.value.reason == "NO_PEER_IDENTITY"


def test_the_identity_pair_is_read_whatever_else_the_san_holds() -> None:
    cert = _cert(DNS("imigrasi.example.go.id"), URI("urn:g2g:agency:ID/GOV/IMIGRASI"),
                 DNS("ID.GOV.IMIGRASI.agency.g2g.invalid"), URI("https://example.go.id/"))
    assert tls.certificate_identity(cert) == tls.PartyIdentity("agency", "ID/GOV/IMIGRASI")


class _Context:
    """A server-side call context as far as peer_identity reads it."""

    def __init__(self, *pems: bytes) -> None:
        self._pems = list(pems)

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": self._pems}


def test_a_peer_certificate_is_parsed_once_and_a_bad_one_refused_every_time() -> None:
    good = _cert(URI("urn:g2g:agency:ID/GOV/POLRI"), DNS("id.gov.polri.agency.g2g.invalid"))
    pem = good.public_bytes(serialization.Encoding.PEM)
    before = tls._pem_identity.cache_info()
    for _ in range(3):
        assert tls.peer_agency(_Context(pem)) == "ID/GOV/POLRI"
    after = tls._pem_identity.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    bad = _cert(DNS("localhost")).public_bytes(serialization.Encoding.PEM)
    for _ in range(2):
        with pytest.raises(AuthenticationError) as info:
            tls.peer_identity(_Context(bad))
        assert info.value.reason == "NO_PEER_IDENTITY"
    with pytest.raises(AuthenticationError):
        tls.peer_identity(_Context())  # no certificate at all
