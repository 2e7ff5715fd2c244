"""Signers: a PEM key file and a PKCS#11 token (SoftHSM2) sign envelopes and attestations
that verify with the published public key; bad URIs and PIN sources are precise errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import envelope, keys, signer
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import ConfigError
from g2g_sdk.signer import PemSigner, Pkcs11Signer, Pkcs11Uri

from tests.softhsm import PIN_ENV, Token

NOW = datetime.now(UTC)


def _round_trip(sign_with: signer.Signer) -> None:
    """A request envelope and an attestation signed by `sign_with` verify with its key."""
    public = {signer.keyid(sign_with): sign_with.public_key()}
    env = envelope.build_request(
        sender="ID/GOV/POLRI", recipient="ID/GOV/IMIGRASI",
        service="g2g.immigration.v1.Watchlist/Screen",
        payload=watchlist_pb2.ScreenRequest(
            by_name=watchlist_pb2.NameQuery(full_name="Budi Santoso")),
        purpose="criminal_investigation", legal_basis="UU 6/2011", key=sign_with, now=NOW)
    opened = envelope.open_envelope(env, envelope.StaticSigner("ID/GOV/POLRI", public),
                                    now=NOW, rules=envelope.TimeRules(), kind=envelope.REQUEST)
    assert opened.signer_keyid == signer.keyid(sign_with)
    body = envelope_pb2.AttestationBody(decision_id="d-1", broker_id="G2G/BROKER")
    assert envelope.open_attestation(envelope.sign_attestation(body, sign_with),
                                     public).decision_id == "d-1"


def test_a_pem_signer_and_a_bare_key_sign_alike(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    keys.save_private_key(tmp_path / "signing.key", key)
    loaded = signer.load_signer(tmp_path)
    assert isinstance(loaded, PemSigner)
    assert signer.keyid(loaded) == keys.keyid(key.public_key())
    _round_trip(loaded)
    _round_trip(key)


def test_a_pem_signer_gives_openssls_signature_bytes_with_or_without_libsodium(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    messages = [b"", b"x", bytes(range(256)) * 3]
    expected = [key.sign(m) for m in messages]
    assert [PemSigner(key).sign(m) for m in messages] == expected
    monkeypatch.setattr(signer, "_sodium_sign", None)
    assert [PemSigner(key).sign(m) for m in messages] == expected


@pytest.mark.parametrize(("uri", "message"), [
    ("file:/x", "not a PKCS#11 URI"),
    ("pkcs11:token=t?module-path=/x.so&pin-source=env:P", "lacks object"),
    ("pkcs11:token=t;object=k?pin-source=env:P", "lacks module-path"),
    ("pkcs11:token;object=k?module-path=/x.so&pin-source=env:P",
     "attribute 'token' has no value"),
])
def test_bad_pkcs11_uris_are_precise(uri: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Pkcs11Uri.parse(uri, "signing.uri")
    assert info.value.message.startswith("signing.uri: ")
    assert message in info.value.message


def test_the_pin_comes_from_the_environment_or_a_private_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = Pkcs11Uri("t", "k", "/x.so", "env:G2G_PIN_FOR_TEST")
    with pytest.raises(ConfigError, match="pin-source env:G2G_PIN_FOR_TEST is not set"):
        uri.pin()
    monkeypatch.setenv("G2G_PIN_FOR_TEST", "1234")
    assert uri.pin() == "1234"
    pin = tmp_path / "pin"
    pin.write_text("5678\n")
    pin.chmod(0o644)
    with pytest.raises(ConfigError, match="must be 0600"):
        Pkcs11Uri("t", "k", "/x.so", f"file:{pin}").pin()
    pin.chmod(0o600)
    assert Pkcs11Uri("t", "k", "/x.so", f"file:{pin}").pin() == "5678"


@pytest.mark.pkcs11
def test_a_softhsm2_key_signs_envelopes_and_attestations(tmp_path: Path, softhsm: Token) -> None:
    token = softhsm
    token.generate("unit-signing")
    hsm = token.signer("unit-signing")
    try:
        assert isinstance(hsm, Pkcs11Signer)
        signature = hsm.sign(b"hello")
        hsm.public_key().verify(signature, b"hello")  # plain Ed25519, 64 bytes
        assert len(signature) == 64
        _round_trip(hsm)
        # Loaded as a party's configured signer (`signing.uri` wins over `signing.key`).
        (tmp_path / "signing.uri").write_text(token.uri("unit-signing") + "\n")
        keys.save_private_key(tmp_path / "signing.key", Ed25519PrivateKey.generate())
        again = signer.load_signer(tmp_path)
        assert isinstance(again, Pkcs11Signer)
        assert signer.keyid(again) == signer.keyid(hsm)
        again.close()
    finally:
        hsm.close()


@pytest.mark.pkcs11
def test_a_missing_key_token_or_pin_is_a_config_error(
        softhsm: Token, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        Pkcs11Signer.open(Pkcs11Uri.parse(softhsm.uri("no-such-key")))
    assert "PKCS#11 token 'g2g-test', key 'no-such-key': NoSuchKey" in info.value.message
    with pytest.raises(ConfigError) as info:
        Pkcs11Signer.open(Pkcs11Uri.parse(softhsm.uri("k").replace("g2g-test", "nope")))
    assert "PKCS#11 token 'nope', key 'k': NoSuchToken" in info.value.message
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(ConfigError) as info:
        Pkcs11Signer.open(Pkcs11Uri.parse(softhsm.uri("no-such-key")))
    assert info.value.message == f"pin-source env:{PIN_ENV} is not set"
