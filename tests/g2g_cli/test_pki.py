"""`g2g pki status`, after a revocation and a rotation: every party's certificates and keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from g2g_sdk import ca, keys, pki

from g2g_cli.main import main
from tests.conftest import REGISTRY

POLRI, BIN = "ID/GOV/POLRI", "ID/GOV/BIN"


def test_status_shows_revoked_rotated_and_valid(tmp_path: Path, pki_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    own = tmp_path / "pki"
    shutil.copytree(pki_dir, own)
    where = ["--registry", str(REGISTRY), "--pki-dir", str(own)]
    polri_serial = f"{ca.current_certificate(own, POLRI).serial_number:x}"
    polri_key = keys.keyid(pki.load_identity(own, POLRI).signing_key.public_key())
    assert main(["pki", "revoke", POLRI, "--signing-key", *where]) == 0
    assert main(["pki", "rotate", BIN, *where]) == 0
    capsys.readouterr()
    assert main(["pki", "status", "--json", *where]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_id = {(r["party"], r["id"]): r for r in rows}
    assert by_id[POLRI, polri_serial]["status"] == "revoked"
    assert by_id[POLRI, polri_serial]["revoked_at"]
    assert by_id[POLRI, polri_key]["status"] == "revoked"
    assert [r["status"] for r in rows if r["party"] == BIN] == ["valid"] * 4  # 2 certs, 2 keys
    assert {r["issuer"] for r in rows if r["kind"] == "certificate"} == {
        "CN=g2g development CA,O=g2g development federation"}
    assert main(["pki", "status", *where]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["PARTY", "KIND", "ID", "ISSUER", "NOT", "AFTER", "STATUS",
                                "REVOKED", "AT"]
    assert len(table) == len(rows) + 1
    # An agency the registry does not know is refused, naming the registry.
    assert main(["pki", "rotate", "ID/GOV/NOBODY", *where]) == 1
    assert "is not an agency of the registry" in capsys.readouterr().err
