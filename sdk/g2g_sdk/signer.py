"""Signers: what signs envelopes, attestations and checkpoints — a key file or an HSM key.

A `Signer` signs bytes with Ed25519 and tells its public key (its key id is
the hex SHA-256 of the raw public key, `keys.keyid`). An `Ed25519PrivateKey`
is one as it is; `PemSigner` holds a PEM key file's key; `Pkcs11Signer` keeps
the private key in a PKCS#11 token (an HSM, or SoftHSM2) and only asks it to
sign (mechanism CKM_EDDSA, key type CKK_EC_EDWARDS on curve Ed25519), so the
key never enters this process. `load_signer` picks one from a party's PKI
directory: `signing.uri` (an RFC 7512 PKCS#11 URI) wins over `signing.key`.

PKCS#11 URI subset understood (docs/PKI.md §8):

    pkcs11:token=<token label>;object=<key label>?module-path=<library .so>&pin-source=<src>

`pin-source` is `env:NAME` (the PIN is in that environment variable) or
`file:/path` (a 0600 file holding the PIN). Never logs the PIN.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from g2g_sdk import keys
from g2g_sdk.errors import ConfigError

try:  # libsodium (PyNaCl), when installed
    from nacl.bindings import (  # type: ignore[import-not-found, unused-ignore]
        crypto_sign as _sodium_sign,
    )
except ImportError:  # pragma: no cover - the tests force this path too
    _sodium_sign = None  # type: ignore[assignment, unused-ignore]

ED25519_OID = "1.3.101.112"


@runtime_checkable
class Signer(Protocol):
    """Signs bytes (Ed25519, 64-byte signatures) and tells its public key."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> Ed25519PublicKey: ...

    def __hash__(self) -> int: ...  # key ids are cached per signer object (g2g_sdk.dsse)


def keyid(signer: Signer) -> str:
    """The key id of a signer: hex SHA-256 of its raw public key."""
    return keys.keyid(signer.public_key())


@dataclass(frozen=True)
class PemSigner:
    """An Ed25519 key from a PEM PKCS#8 file (mode 0600, checked on load).

    With PyNaCl installed it signs through libsodium (25 vs 47 µs); Ed25519 is
    deterministic, so the signatures are the very bytes OpenSSL would give.
    """

    key: Ed25519PrivateKey
    path: str = ""
    _sodium_key: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if _sodium_sign is not None:
            seed = self.key.private_bytes_raw()
            object.__setattr__(self, "_sodium_key", seed + self.key.public_key().public_bytes_raw())

    @classmethod
    def load(cls, path: Path) -> PemSigner:
        return cls(keys.load_private_key(path), str(path))

    def sign(self, data: bytes) -> bytes:
        if self._sodium_key is not None:
            signed: bytes = _sodium_sign(data, self._sodium_key)
            return signed[:64]  # libsodium returns the signature followed by the data
        return self.key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of a `pkcs11:` URI g2g uses."""

    token: str
    object: str
    module_path: str
    pin_source: str

    @classmethod
    def parse(cls, text: str, file: str = "") -> Pkcs11Uri:
        text = text.strip()
        if not text.startswith("pkcs11:"):
            raise ConfigError("not a PKCS#11 URI (it starts with pkcs11:)", file=file)
        path, _, query = text[len("pkcs11:"):].partition("?")
        attrs = dict(_pairs(path, ";", file))
        params = dict(_pairs(query, "&", file))
        missing = [name for name, given in (("token", attrs), ("object", attrs),
                                            ("module-path", params), ("pin-source", params))
                   if name not in given]
        if missing:
            raise ConfigError(f"the PKCS#11 URI lacks {', '.join(missing)}", file=file)
        return cls(attrs["token"], attrs["object"], params["module-path"], params["pin-source"])

    def pin(self) -> str:
        """The user PIN, from the environment or a 0600 file (never from the URI itself)."""
        kind, _, where = self.pin_source.partition(":")
        if kind == "env":
            value = os.environ.get(where)
            if value is None:
                raise ConfigError(f"pin-source env:{where} is not set")
            return value
        if kind == "file":
            path = Path(where)
            try:
                keys.check_private_mode(path)
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the PIN file: {exc.strerror}",
                                  file=where) from None
        raise ConfigError(f"pin-source must be env:NAME or file:/path, got {kind!r}")


def _pairs(text: str, sep: str, file: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, text.split(sep)):
        name, eq, value = part.partition("=")
        if not eq:
            raise ConfigError(f"PKCS#11 URI attribute {name!r} has no value", file=file)
        out.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return out


@dataclass(eq=False)  # hashed by identity: dsse caches key ids per signer object
class Pkcs11Signer:
    """An Ed25519 private key that stays in a PKCS#11 token; only signatures come out.

    One logged-in session is kept and used under a lock (a PKCS#11 session runs
    one operation at a time; the broker signs from the event loop and the audit
    writer thread). Needs the `python-pkcs11` package (`pip install
    g2g-sdk[pkcs11]`) and the token's PKCS#11 library.
    """

    uri: Pkcs11Uri
    _session: Any = field(default=None, repr=False)
    _key: Any = field(default=None, repr=False)
    _public: Ed25519PublicKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, uri: Pkcs11Uri) -> Pkcs11Signer:
        """Open the token, log in, find the key pair by label; ConfigError says what failed."""
        try:
            import pkcs11
            from pkcs11 import Attribute, KeyType, ObjectClass
        except ImportError:
            raise ConfigError("PKCS#11 signing needs the python-pkcs11 package "
                              "(pip install 'g2g-sdk[pkcs11]')") from None
        signer = cls(uri)
        session = None
        try:
            token = pkcs11.lib(uri.module_path).get_token(token_label=uri.token)
            try:
                session = token.open(user_pin=uri.pin())
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # PKCS#11 logs in per process and token: another signer of this process
                # (the broker's signing and log keys) already did; its login covers us.
                session = token.open()
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                      key_type=KeyType.EC_EDWARDS, label=uri.object)
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY,
                                     key_type=KeyType.EC_EDWARDS, label=uri.object)
            point = bytes(public[Attribute.EC_POINT])
        except ConfigError:
            raise
        except Exception as exc:  # the library's exceptions name the PKCS#11 failure
            if session is not None:
                session.close()
            raise ConfigError(f"PKCS#11 token {uri.token!r}, key {uri.object!r}: "
                              f"{type(exc).__name__} {exc}".strip(),
                              file=uri.module_path) from None
        signer._session, signer._key = session, private
        signer._public = Ed25519PublicKey.from_public_bytes(_raw_point(point))
        return signer

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism

        with self._lock:
            signature: bytes = self._key.sign(data, mechanism=Mechanism.EDDSA)
        return signature

    def public_key(self) -> Ed25519PublicKey:
        assert self._public is not None  # set by open()
        return self._public

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def _raw_point(point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: the 32 raw bytes, usually DER-wrapped (04 20 …)."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise ConfigError(f"the token's public key is not an Ed25519 point ({len(point)} bytes)")


def load_signer(directory: Path, stem: str = "signing") -> Signer:
    """A party's signer: `<stem>.uri` (PKCS#11) if present, else the `<stem>.key` PEM file."""
    uri_file = directory / f"{stem}.uri"
    if uri_file.exists():
        text = uri_file.read_text(encoding="utf-8")
        return Pkcs11Signer.open(Pkcs11Uri.parse(text, str(uri_file)))
    return PemSigner.load(directory / f"{stem}.key")
