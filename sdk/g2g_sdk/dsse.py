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
        try:
            key.verify(signature.sig, message)
        except InvalidSignature:
            continue
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
