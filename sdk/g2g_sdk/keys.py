"""Ed25519 signing keys: key ids, loading and saving.

Private keys are PEM PKCS#8 files that must be mode 0600; loading refuses a
key readable by group or others. Key ids are the lowercase hex SHA-256 of
the raw 32-byte public key, so any implementation can compute them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from g2g_sdk.errors import ConfigError

PRIVATE_MODE = 0o600


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte encoding of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keyid(key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def public_from_b64(text: str) -> Ed25519PublicKey:
    """Decode a base64 raw 32-byte Ed25519 public key."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_to_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(key)).decode("ascii")


def check_private_mode(path: Path) -> None:
    """Refuse a private key file that group or others can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"private key has mode {mode:04o}; it must be 0600 (run: chmod 600 {path})",
            file=str(path))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM PKCS#8 Ed25519 private key, enforcing 0600 permissions."""
    try:
        check_private_mode(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read private key: {exc.strerror}", file=str(path)) from None
    except ValueError as exc:
        raise ConfigError(f"not a PEM private key: {exc}", file=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("not an Ed25519 private key", file=str(path))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load a PEM SubjectPublicKeyInfo Ed25519 public key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read public key: {exc.strerror}", file=str(path)) from None
    return public_from_pem(data, str(path))


def public_from_pem(data: bytes, file: str = "") -> Ed25519PublicKey:
    """Decode a PEM SubjectPublicKeyInfo Ed25519 public key; `file` names it in errors."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ConfigError(f"not a PEM public key: {exc}", file=file) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("not an Ed25519 public key", file=file)
    return key


def write_private(path: Path, data: bytes) -> None:
    """Write secret bytes with mode 0600 from the first byte on (no umask race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        os.write(fd, data)
    finally:
        os.close(fd)


def save_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def save_public_key(path: Path, key: Ed25519PublicKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo))
