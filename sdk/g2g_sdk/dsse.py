"""DSSE pre-authentication encoding and Ed25519 signatures over it.

PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where
LEN is the ASCII decimal byte length. Signing the PAE rather than the bare
bytes binds the signature to what the bytes are (a header, an attestation).
Verification is over the exact bytes received, never a re-serialisation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:  # libsodium (PyNaCl), when installed: the same verdicts in ~60 % of the time
    from nacl.bindings import (  # type: ignore[import-not-found, unused-ignore]
        crypto_sign_open as _sodium_open,
    )
    from nacl.exceptions import (  # type: ignore[import-not-found, unused-ignore]
        BadSignatureError as _SodiumRefused,
    )
except ImportError:  # pragma: no cover - the tests force this path too
    _sodium_open = None  # type: ignore[assignment, unused-ignore]

from g2g_sdk import keys
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import SignatureError
from g2g_sdk.signer import Signer

HEADER_TYPE = "application/vnd.g2g.header.v1+proto"
ATTESTATION_TYPE = "application/vnd.g2g.attestation.v1+proto"
EVENT_TYPE = "application/vnd.g2g.event.v1+proto"
ROUTING_TYPE = "application/vnd.g2g.routing.v1+proto"
RECEIPT_TYPE = "application/vnd.g2g.receipt.v1+proto"
MAX_SIGNATURES = 4  # bounds verification work per message


def pae(payload_type: str, body: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(body), body)


def sign(key: Signer, payload_type: str, body: bytes) -> envelope_pb2.Signature:
    """Sign `body` as `payload_type` (a key file's key or an HSM's, g2g_sdk.signer); the
    keyid is derived from the public key."""
    return envelope_pb2.Signature(keyid=_keyid(key), sig=key.sign(pae(payload_type, body)))


@functools.lru_cache(maxsize=64)
def _keyid(key: Signer) -> str:
    # A process signs with a handful of long-lived keys; deriving the public key
    # and hashing it cost 3.7 µs of every 33 µs signature. Keys hash by identity
    # and the cache holds them, so an entry can never answer for another key.
    return keys.keyid(key.public_key())


# Edwards25519: field prime, and the y coordinates of the eight points of small
# order (identity y=1, order 2 y=-1, order 4 y=0, order 8 y=±Y8 where
# Y8^2 = (-1 - sqrt(1 + d)) / d), with the non-canonical encodings p and p + 1 of 0 and 1.
_P = 2**255 - 19
_Y8 = 0x5FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _P, _P + 1, _Y8, _P - _Y8})
_Y_BITS = (1 << 255) - 1  # the top bit of an encoding is the sign of x


def _strict(sig: bytes, raw_key: bytes) -> bool:
    """The checks libsodium makes before the verification equation, made here for the
    OpenSSL path too, so both accept exactly the same signatures: the key's y is
    canonical (< p) and neither the key nor the signature's R has small order (a weak
    key or R lets one signature verify for several messages). OpenSSL already refuses
    a non-canonical S (>= the group order) and a signature that is not 64 bytes."""
    key_y = int.from_bytes(raw_key, "little") & _Y_BITS
    r_y = int.from_bytes(sig[:32], "little") & _Y_BITS
    return key_y < _P and key_y not in _SMALL_ORDER_Y and r_y not in _SMALL_ORDER_Y


def verify_signature(key: Ed25519PublicKey, sig: bytes, message: bytes) -> bool:
    """Whether `sig` is `key`'s Ed25519 signature over `message` (RFC 8032, with the
    small-order and canonical-key checks of `_strict`)."""
    if len(sig) != 64:  # with libsodium's sig + message framing, a length mismatch
        return False    # would shift bytes between the two
    raw_key = key.public_bytes_raw()
    if _sodium_open is not None:
        try:
            _sodium_open(sig + message, raw_key)
        except _SodiumRefused:
            return False
        return True
    if not _strict(sig, raw_key):
        return False
    try:
        key.verify(sig, message)
    except InvalidSignature:
        return False
    return True


def verify_any(
    signatures: Sequence[envelope_pb2.Signature],
    trusted: Mapping[str, Ed25519PublicKey],
    payload_type: str,
    body: bytes,
) -> str | None:
    """The keyid of the first signature that verifies under a trusted key, else None.

    Signatures by unknown key ids are ignored, not errors, so a signer can
    add a new key before every verifier knows it (key rotation).
    """
    message = pae(payload_type, body)
    for signature in signatures[:MAX_SIGNATURES]:
        key = trusted.get(signature.keyid)
        if key is None:
            continue
        if verify_signature(key, signature.sig, message):
            return signature.keyid
    return None


def verify_required(signatures: Sequence[envelope_pb2.Signature],
                    trusted: Mapping[str, Ed25519PublicKey], payload_type: str, body: bytes,
                    *, what: str, signer: str) -> str:
    """The keyid of a valid signature by a trusted key, else SignatureError saying why:
    `SIGNATURE_INVALID` (none, or none verifies) or `UNKNOWN_KEY` (no key of the `signer`)."""
    if not signatures:
        raise SignatureError(f"the {what} is not signed", reason="SIGNATURE_INVALID")
    if not any(s.keyid in trusted for s in signatures):
        raise SignatureError(f"no signature by a key registered for the {signer}",
                             reason="UNKNOWN_KEY")
    keyid = verify_any(signatures, trusted, payload_type, body)
    if keyid is None:
        raise SignatureError(f"signature does not verify over the {what} header bytes",
                             reason="SIGNATURE_INVALID")
    return keyid
