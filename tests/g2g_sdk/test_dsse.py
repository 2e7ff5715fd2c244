"""DSSE PAE layout and signature verification with key rotation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from g2g_sdk import dsse, keys


def test_pae_layout() -> None:
    assert dsse.pae("t/x", b"hello") == b"DSSEv1 3 t/x 5 hello"
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "


def test_verify_any_accepts_any_trusted_key_and_ignores_unknown() -> None:
    old, new, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    body = b"header-bytes"
    sigs = [dsse.sign(stranger, dsse.HEADER_TYPE, body), dsse.sign(new, dsse.HEADER_TYPE, body)]
    trusted = {keys.keyid(k.public_key()): k.public_key() for k in (old, new)}
    assert dsse.verify_any(sigs, trusted, dsse.HEADER_TYPE, body) == keys.keyid(new.public_key())
    assert dsse.verify_any(sigs, trusted, dsse.ATTESTATION_TYPE, body) is None
    assert dsse.verify_any(sigs, trusted, dsse.HEADER_TYPE, body + b"!") is None


# --- one verdict whichever Ed25519 implementation verifies ----------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_L = 2**252 + 27742317777372353535851937790883648493


def _enc(y: int, x_negative: bool = False) -> bytes:
    return (y | (x_negative << 255)).to_bytes(32, "little")


def _base_point() -> bytes:
    return _enc(4 * pow(5, -1, _P) % _P)  # y = 4/5, x even


@pytest.fixture(params=["libsodium", "openssl"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libsodium (when PyNaCl is installed) and with the OpenSSL path."""
    if request.param == "openssl":
        monkeypatch.setattr(dsse, "_sodium_open", None)
    elif dsse._sodium_open is None:
        pytest.skip("PyNaCl is not installed")
    return str(request.param)


def test_valid_signatures_verify_and_altered_ones_do_not(implementation: str) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    sig = key.sign(b"message")
    assert dsse.verify_signature(public, sig, b"message")
    assert not dsse.verify_signature(public, sig, b"messagE")
    assert not dsse.verify_signature(public, sig[:63], b"message")  # 63 bytes
    assert not dsse.verify_signature(public, sig[:63], sig[63:] + b"message")  # shifted
    s = int.from_bytes(sig[32:], "little")
    assert not dsse.verify_signature(public, sig[:32] + (s + _L).to_bytes(32, "little"),
                                     b"message")  # S not reduced


def test_a_weak_key_verifies_nothing(implementation: str) -> None:
    # The identity as a public key: [S]B = R + [h]A holds with R = B, S = 1 for every
    # message, so OpenSSL alone would accept this "signature" of anything.
    weak = Ed25519PublicKey.from_public_bytes(_enc(1))
    forged = _base_point() + (1).to_bytes(32, "little")
    for message in (b"one message", b"another"):
        assert not dsse.verify_signature(weak, forged, message)
    assert not dsse.verify_signature(Ed25519PublicKey.from_public_bytes(_enc(_P + 1)), forged,
                                     b"one message")  # the identity, non-canonical


def test_the_small_order_points_are_the_ones_refused() -> None:
    # Every y refused is the y of a point of order 1, 2, 4 or 8 (or 0 and 1 written
    # non-canonically), derived here from the curve equation -x^2 + y^2 = 1 + d x^2 y^2.
    def x_squared(y: int) -> int:
        return (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P

    def is_square(v: int) -> bool:
        return v == 0 or pow(v, (_P - 1) // 2, _P) == 1

    y8 = dsse._Y8
    # Doubling (x, y) gives y' = (x^2 + y^2) / (2 - y^2 + x^2), so 2P has order 4 (y' = 0)
    # exactly when x^2 = -y^2, i.e. d y^4 + 2 y^2 - 1 = 0 on the curve.
    assert (_D * y8**4 + 2 * y8**2 - 1) % _P == 0
    assert is_square(x_squared(y8))
    assert x_squared(y8) != 0
    assert x_squared(_P - 1) == 0  # y = -1: x = 0, order 2
    assert {0, 1, _P - 1, _P, _P + 1, y8, _P - y8} == dsse._SMALL_ORDER_Y
    key = Ed25519PrivateKey.generate()
    # A signature whose R is of small order is refused before any arithmetic.
    for y in dsse._SMALL_ORDER_Y:
        sig = _enc(y) + key.sign(b"m")[32:]
        assert not dsse._strict(sig, key.public_key().public_bytes_raw())

