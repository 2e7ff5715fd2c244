"""The agencies registry: parsing, keys, multi-provider services, errors with lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import keys
from g2g_sdk.catalog import Catalog
from g2g_sdk.errors import ConfigError, SignatureError
from g2g_sdk.registry import load_registry, slug

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
B64 = keys.public_to_b64(KEY)


def write(tmp_path: Path, agencies: str) -> Path:
    path = tmp_path / "agencies.yaml"
    path.write_text(
        "federation: test\nbroker:\n  id: G2G/BROKER\n  endpoint: 127.0.0.1:1\n"
        f"  signing_keys: [{{public_key: {B64}}}]\nagencies:\n{agencies}")
    return path


AGENCY = """  - id: NL/GOV/EMBASSY-JAKARTA
    name: NL embassy
    endpoint: 127.0.0.1:2
    services: [g2g.immigration.v1.Watchlist/Screen]
    signing_keys: [{{public_key: {key}}}]
  - id: AU/GOV/EMBASSY-JAKARTA
    name: AU embassy
    endpoint: 127.0.0.1:3
    services: [g2g.immigration.v1.Watchlist/Screen]
    signing_keys: [{{public_key: {key}}}]
"""


def test_slug() -> None:
    assert slug("ID/GOV/IMIGRASI") == "id-gov-imigrasi"


def test_inline_keys_and_several_providers(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, AGENCY.format(key=B64)))
    assert dict(registry.broker_keys) == {keys.keyid(KEY): KEY}
    providers = [a.id for a in registry.providers_of("g2g.immigration.v1.Watchlist/Screen")]
    assert providers == ["NL/GOV/EMBASSY-JAKARTA", "AU/GOV/EMBASSY-JAKARTA"]
    assert registry.provider_of("g2g.immigration.v1.Watchlist/Screen") is None
    spec = Catalog.from_registry(registry).get("g2g.immigration.v1.Watchlist/Screen")
    assert spec is not None
    assert spec.providers == ("NL/GOV/EMBASSY-JAKARTA", "AU/GOV/EMBASSY-JAKARTA")
    endpoints = registry.with_endpoints({"AU/GOV/EMBASSY-JAKARTA": "127.0.0.1:9"})
    assert endpoints.agencies["AU/GOV/EMBASSY-JAKARTA"].endpoint == "127.0.0.1:9"


@pytest.mark.parametrize(("agencies", "line", "message"), [
    ("  - id: bad id\n    name: x\n    signing_keys: []\n", 7, "is not an agency id"),
    ("  - id: ID/GOV/X\n    name: x\n    services: [Nope]\n    endpoint: a:1\n"
     "    signing_keys: []\n", 9, "is not a full method name"),
    ("  - id: ID/GOV/X\n    name: x\n    signing_keys: [{public_key: AAAA}]\n", 9,
     "not a base64 Ed25519 public key"),
    ("  - id: ID/GOV/X\n    name: x\n    colour: red\n    signing_keys: []\n", 9,
     "unknown field 'colour'"),
    ("  - id: ID/GOV/X\n    name: x\n    roles: [king]\n    signing_keys: []\n", 9,
     "unknown role"),
    ("  - id: ID/GOV/X\n    name: x\n", 7, "no PKI directory"),
    ("  - id: ID/GOV/X\n    name: x\n    audits: ID/GOV/X\n    signing_keys: []\n", 9,
     "only an agency with the auditor role audits one"),
    ("  - id: ID/GOV/X\n    name: x\n    roles: [auditor]\n    audits: ID/GOV/Y\n"
     "    signing_keys: []\n", 10, "audits 'ID/GOV/Y', which is not an agency"),
    *((f"  - id: ID/GOV/X\n    name: x\n    endpoint: a:1\n    services:\n"
       f"      - name: g2g.immigration.v1.Watchlist/Screen\n        subject_fields: {fields}\n"
       "    signing_keys: []\n", 12, message) for fields, message in [
        ("[by_document.number]", "expected a mapping, got a list"),
        ("{passport: number}", "unknown field 'passport'"),
        ("{name_dob: full_name}", "a name_dob subject is 2 field path(s)"),
        ("{document: a+b}", "a document subject is 1 field path(s)")]),
])
def test_errors_name_line(tmp_path: Path, agencies: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_registry(write(tmp_path, agencies))
    assert info.value.line == line, str(info.value)
    assert message in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "agencies.yaml"))


def test_service_without_schema_is_a_config_error(tmp_path: Path) -> None:
    agencies = ("  - id: ID/GOV/X\n    name: x\n    endpoint: a:1\n"
                "    services: [g2g.none.v1.Nothing/Here]\n"
                f"    signing_keys: [{{public_key: {B64}}}]\n")
    registry = load_registry(write(tmp_path, agencies))
    with pytest.raises(ConfigError) as info:
        Catalog.from_registry(registry)
    assert "g2g.none.v1.Nothing/Here of ID/GOV/X has no compiled schema" in str(info.value)


def test_key_validity_and_revocation_refuse_by_creation_time(tmp_path: Path) -> None:
    agencies = ("  - id: ID/GOV/X\n    name: x\n    signing_keys:\n"
                f"      - {{public_key: {B64}, not_before: '2026-01-01T00:00:00Z',\n"
                "         not_after: 2026-12-31T00:00:00Z, revoked_at: '2026-06-01T12:00:00Z'}\n")
    agency = load_registry(write(tmp_path, agencies)).agencies["ID/GOV/X"]
    kid = keys.keyid(KEY)
    info = agency.key_info[kid]
    assert info.refusal(datetime(2026, 3, 1, tzinfo=UTC)) is None
    agency.check_signer(kid, datetime(2026, 6, 1, 11, 59, tzinfo=UTC))
    assert info.refusal(datetime(2025, 12, 31, tzinfo=UTC)) == (
        "KEY_NOT_YET_VALID", f"signing key {kid[:16]} is valid from 2026-01-01T00:00:00Z")
    with pytest.raises(SignatureError) as revoked:
        agency.check_signer(kid, datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    assert (revoked.value.reason, revoked.value.metadata) == ("KEY_REVOKED", {"keyid": kid})
    assert revoked.value.message == f"signing key {kid[:16]} was revoked at 2026-06-01T12:00:00Z"
    assert info.refusal(datetime(2026, 12, 31, tzinfo=UTC))[0] == "KEY_REVOKED"  # type: ignore[index]


@pytest.mark.parametrize(("key_fields", "message"), [
    ("not_after: '2026-01-01'", "a time needs a zone"),
    ("not_after: soon", "'soon' is not an RFC 3339 time"),
    ("not_before: '2026-02-01T00:00:00Z', not_after: '2026-01-01T00:00:00Z'",
     "not_after must be later than not_before"),
])
def test_bad_key_times_name_line_and_field(tmp_path: Path, key_fields: str,
                                           message: str) -> None:
    agencies = (f"  - id: ID/GOV/X\n    name: x\n    signing_keys:\n"
                f"      - {{public_key: {B64}, {key_fields}}}\n")
    with pytest.raises(ConfigError) as info:
        load_registry(write(tmp_path, agencies))
    assert info.value.line == 10
    assert "agencies[0].signing_keys[0].not_" in str(info.value)
    assert message in str(info.value)


def test_published_keys_and_certificates_join_the_inline_ones(tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    published = pki_dir / "published.yaml"
    published.write_text(
        "parties:\n  - id: ID/GOV/X\n    signing_keys:\n"
        f"      - {{public_key: {keys.public_to_b64(other)}, revoked_at: '2026-01-01T00:00:00Z'}}\n"
        f"    certificates:\n      - {{serial: 0a1b, sha256: '{'ab' * 32}', "
        "not_after: '2028-01-01T00:00:00Z'}\n")
    path = write(tmp_path,
                 f"  - id: ID/GOV/X\n    name: x\n    signing_keys: [{{public_key: {B64}}}]\n")
    registry = load_registry(path, pki_dir)
    agency = registry.agencies["ID/GOV/X"]
    assert set(agency.signing_keys) == {keys.keyid(KEY), keys.keyid(other)}
    assert agency.key_info[keys.keyid(other)].revoked_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert agency.certificates[0].serial == "0a1b"
    # Both files are the registry's sources, and either changing changes its version.
    assert set(registry.sources) == {str(path), str(published)}
    version = registry.version
    published.write_text(published.read_text().replace("0a1b", "0a1c"))
    assert load_registry(path, pki_dir).version != version
    published.write_text("parties:\n  - id: ID/GOV/X\n  - id: ID/GOV/X\n")
    with pytest.raises(ConfigError) as info:
        load_registry(path, pki_dir)
    assert str(info.value) == f"{published}:3:9: parties[1].id: party 'ID/GOV/X' is listed twice"


def test_a_provider_may_list_several_endpoints_but_not_both_forms(
        tmp_path: Path, pki_dir: Path) -> None:
    import yaml

    from tests.conftest import REGISTRY

    document = yaml.safe_load(REGISTRY.read_text())
    imigrasi = next(a for a in document["agencies"] if a["id"] == "ID/GOV/IMIGRASI")
    imigrasi.pop("endpoint")
    imigrasi["endpoints"] = ["10.0.0.1:7501", "10.0.0.2:7501"]
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    agency = load_registry(path, pki_dir).agency("ID/GOV/IMIGRASI")
    assert agency is not None
    assert (agency.endpoint, agency.all_endpoints) == (
        "10.0.0.1:7501", ("10.0.0.1:7501", "10.0.0.2:7501"))
    imigrasi["endpoint"] = "10.0.0.3:7501"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError, match="endpoint or endpoints, not both"):
        load_registry(path, pki_dir)
