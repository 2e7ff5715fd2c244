"""Key files: 0600 enforced on load, written 0600 from the start, key ids."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk import keys
from g2g_sdk.errors import ConfigError


def test_keyid_is_sha256_of_raw_key() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert keys.keyid(key) == hashlib.sha256(keys.raw_public(key)).hexdigest()
    assert keys.public_from_b64(keys.public_to_b64(key)) == key


def test_private_key_mode(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keys.save_private_key(path, Ed25519PrivateKey.generate())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys.load_private_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        keys.load_private_key(path)
    assert "must be 0600" in str(info.value)
