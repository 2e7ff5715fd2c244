"""docs/AUDIT.md's by-hand proof check, run verbatim on a real log's proof."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk.keys import raw_public

from broker.audit import AuditConfig, open_store
from tests.broker.audit.test_store import Db, fill
from tests.conftest import REPO


def _by_hand_code() -> dict[str, Any]:
    text = (REPO / "docs" / "AUDIT.md").read_text(encoding="utf-8")
    section = text[text.index("## Checking a proof by hand"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # our own documentation: running it is the point of the test
    return namespace


async def test_the_documented_fold_and_signature_check_verify_a_real_proof(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    store = await open_store(audit_config, log_key=log_key, instance_id="test-1")
    await fill(store, 21)
    await store.close()
    reader = Db(audit_config).reader()
    size, root, note = reader.latest_checkpoint() or (0, b"", "")
    root_from_proof = _by_hand_code()["root_from_proof"]

    # Step 1: the signature, with only hashlib, base64 and an Ed25519 verify.
    lines = note.split("\n")
    origin, signature_line = lines[0], lines[4]
    blob = base64.b64decode(signature_line.split(" ")[2])
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw_public(
        log_key.public_key())).digest()[:4]
    assert blob[:4] == key_hash
    log_key.public_key().verify(blob[4:], "".join(f"{line}\n" for line in lines[:3]).encode())
    assert base64.b64decode(lines[2]) == root

    for seq in (0, 2, 13, size - 1):
        data, _ = reader.record(seq) or (b"", b"")
        leaf = hashlib.sha256(b"\x00" + data).digest()  # step 2
        proof = [base64.b64encode(h).decode() for h in reader.inclusion_proof(seq, size)]
        assert root_from_proof(seq, size, leaf, proof) == root  # steps 3 and 4
        wrong = hashlib.sha256(b"\x00" + data + b" ").digest()
        assert root_from_proof(seq, size, wrong, proof) != root
