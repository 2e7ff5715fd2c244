"""One SoftHSM2 token per test session (tests only): the real PKCS#11 library, a token
directory of its own. SoftHSM reads its configuration once per process (at C_Initialize),
so every test shares this token and uses key labels of its own.

Without SoftHSM2 installed a test that needs it is skipped locally and FAILS with
CI=true (.ci/run installs the Debian package `softhsm2`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from g2g_sdk.signer import Pkcs11Signer, Pkcs11Uri

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
PIN_ENV = "G2G_TEST_PKCS11_PIN"


def module_path() -> str:
    """The SoftHSM2 PKCS#11 library; skip (locally) or fail (CI) without it."""
    found = next((m for m in MODULES if Path(m).exists()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        message = "SoftHSM2 is not installed (Debian package softhsm2)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: it is required in CI (.ci/run installs it)")
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Token:
    """An initialised SoftHSM2 token; `generate(label)` makes an Ed25519 key pair in it."""

    module: str
    label: str
    pin: str

    def uri(self, key_label: str) -> str:
        return (f"pkcs11:token={self.label};object={key_label}"
                f"?module-path={self.module}&pin-source=env:{PIN_ENV}")

    def generate(self, *key_labels: str) -> None:
        """Ed25519 key pairs in the token."""
        import pkcs11
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        token = pkcs11.lib(self.module).get_token(token_label=self.label)
        try:
            session = token.open(user_pin=self.pin, rw=True)
        except pkcs11.exceptions.UserAlreadyLoggedIn:  # a signer of this process logged in
            session = token.open(rw=True)
        with session:
            params = session.create_domain_parameters(
                KeyType.EC_EDWARDS,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
                local=True)
            for label in key_labels:
                params.generate_keypair(store=True, label=label)

    def signer(self, key_label: str) -> Pkcs11Signer:
        return Pkcs11Signer.open(Pkcs11Uri.parse(self.uri(key_label)))


def make_token(tmp_path: Path) -> Token:
    module = module_path()
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # for the whole process: see the docstring
    os.environ[PIN_ENV] = "246810"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "g2g-test",
                    "--so-pin", "13579", "--pin", "246810"], check=True, capture_output=True)
    return Token(module, "g2g-test", "246810")
