"""DSSE PAE layout and signature verification with key rotation."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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
