"""broker/identity.py: the broker switches its own identity only to files that are whole,
consistent and published; otherwise the old identity keeps serving."""

from __future__ import annotations

import shutil
from pathlib import Path

from g2g_sdk import ca, keys, pki
from g2g_sdk.registry import load_registry

from broker.identity import OwnIdentity
from tests.conftest import REGISTRY


async def test_switches_only_to_a_consistent_published_pair(tmp_path: Path,
                                                            pki_dir: Path) -> None:
    own = tmp_path / "pki"
    shutil.copytree(pki_dir, own)
    registry = [load_registry(REGISTRY, own)]
    identity = OwnIdentity(own, "broker", lambda: registry[0])
    started = identity.current
    assert await identity.reload() is False  # nothing changed

    result = ca.rotate(own, "broker")
    broker_dir = own / "broker"
    new_key = (broker_dir / "tls.key").read_bytes()
    # A TLS key from another pair (a rotation caught half-way): refused, old kept.
    shutil.copy(pki.party_dir(own, "ID/GOV/POLRI") / "tls.key", broker_dir / "tls.key")
    registry[0] = load_registry(REGISTRY, own)
    assert await identity.reload() is False
    assert identity.current is started

    keys.write_private(broker_dir / "tls.key", new_key)
    saved = ca.read_published(own)
    unpublished = {**saved, "broker": {**saved["broker"], "signing_keys": [
        e for e in saved["broker"]["signing_keys"] if e["keyid"] != result["keyid"]]}}
    ca.write_published(own, unpublished)
    registry[0] = load_registry(REGISTRY, own)
    assert await identity.reload() is False  # the new key is not published yet
    assert identity.current is started

    ca.write_published(own, saved)
    registry[0] = load_registry(REGISTRY, own)
    assert await identity.reload() is True
    assert keys.keyid(identity.signer().public_key()) == result["keyid"]
    assert identity.current.tls_key_pem == new_key
