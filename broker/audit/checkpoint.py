"""C2SP tlog-checkpoint notes signed per C2SP signed-note (Ed25519). Pure.

    <origin>\\n<tree size>\\n<base64 root hash>\\n
    \\n
    — <key name> <base64(key hash[4] || signature[64])>\\n

The key hash is SHA-256(key name || "\\n" || 0x01 || raw public key)[:4];
the signature covers the note text (the first three lines, each ending in \\n).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from g2g_sdk.errors import AuditProofError
from g2g_sdk.keys import raw_public
from g2g_sdk.signer import Signer

DASH = "\u2014"
ED25519_ALG = b"\x01"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + raw_public(key)).digest()[:4]


def vkey(name: str, key: Ed25519PublicKey) -> str:
    """The verifier key string `<name>+<hex keyhash>+<base64(0x01||key)>` auditors pin."""
    return (f"{name}+{key_hash(name, key).hex()}+"
            f"{base64.b64encode(ED25519_ALG + raw_public(key)).decode()}")


def parse_vkey(text: str) -> tuple[str, Ed25519PublicKey]:
    """(key name, public key) from a `vkey` string, checking its key hash."""
    # Key names never contain '+' (C2SP signed-note); the base64 key may.
    name, _, rest = text.strip().partition("+")
    hash_hex, _, rest = rest.partition("+")
    try:
        blob = base64.b64decode(rest, validate=True)
        key = Ed25519PublicKey.from_public_bytes(blob[1:])
    except ValueError:
        raise CheckpointError("the log key is not <name>+<key hash>+<base64 key>") from None
    if not name or blob[:1] != ED25519_ALG or len(blob) != 33:
        raise CheckpointError("the log key is not <name>+<key hash>+<base64 Ed25519 key>")
    if hash_hex != key_hash(name, key).hex():
        raise CheckpointError(f"the log key's hash {hash_hex!r} does not match its key")
    return name, key


def sign(checkpoint: Checkpoint, name: str, key: Signer) -> str:
    """The signed note of `checkpoint` (`key`: a key file's or an HSM's, g2g_sdk.signer)."""
    body = checkpoint.body()
    sig = key.sign(body.encode())
    blob = base64.b64encode(key_hash(name, key.public_key()) + sig).decode()
    return f"{body}\n{DASH} {name} {blob}\n"


class CheckpointError(AuditProofError, ValueError):
    """A checkpoint note or log key that does not parse or verify."""


def parse(note: str) -> tuple[Checkpoint, list[tuple[str, bytes]]]:
    """Split a signed note into its checkpoint and (key name, signature blob) lines."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise CheckpointError("no blank line between note text and signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    # ASCII digits only: str.isdigit() also takes '²' or '٣', which int() refuses.
    if not (size_text.isascii() and size_text.isdigit()) or (
            size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise CheckpointError("root hash is not base64") from None
    if len(root) != 32:
        raise CheckpointError("root hash is not 32 bytes")
    signatures = []
    for line in sigs.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointError("malformed signature line")
        try:
            signatures.append((parts[1], base64.b64decode(parts[2], validate=True)))
        except ValueError:
            raise CheckpointError("signature is not base64") from None
    return Checkpoint(origin, int(size_text), root), signatures


def verify(note: str, name: str, key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint if `note` carries a valid signature by (name, key), else raise."""
    checkpoint, signatures = parse(note)
    want = key_hash(name, key)
    body = note.partition("\n\n")[0] + "\n"
    for sig_name, blob in signatures:
        if sig_name == name and blob[:4] == want and len(blob) == 68:
            try:
                key.verify(blob[4:], body.encode())
            except InvalidSignature:
                raise CheckpointError("checkpoint signature is invalid") from None
            return checkpoint
    raise CheckpointError(f"no signature by {name} on the checkpoint")
