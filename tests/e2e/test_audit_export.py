"""`g2g audit export` from a real broker's log, checked offline by `g2g audit verify --bundle`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from g2g_cli.main import main
from g2g_harness.federation import write_config
from tests.e2e.conftest import POLRI, screened_log


@pytest.fixture
async def sealed_log(tmp_path: Path, pki_dir: Path) -> Path:
    """A broker config whose log holds 4 exchanges (8 records), sealed by a clean stop."""
    fed, config = await screened_log(tmp_path, pki_dir, checkpoint_every=3)
    await fed.federation.stop()
    return config


def g2g(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_then_verify_offline(sealed_log: Path, tmp_path: Path, pki_dir: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.json"
    code, _, err = g2g(capsys, "audit", "--config", str(sealed_log), "export", "--from-seq",
                       "2", "--to-seq", "7", "--out", str(out))
    assert code == 0, err
    assert "5 record(s) from [2, 7) with proofs against checkpoint size 8" in err
    key = str(pki_dir / "broker" / "log.pub")
    # No database and no broker config: only the file and the key.
    code, text, _ = g2g(capsys, "audit", "--config", "/nonexistent.yaml", "verify",
                        "--bundle", str(out), "--key", key)
    assert (code, text.splitlines()[-1]) == (0, "OK: 5 of 5 record(s) proven, range [2, 7), "
                                                "selection: none, checkpoint g2g-dev/audit size 8")
    vkey = json.loads(out.read_bytes())["log_key"]
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key", vkey,
                        "--records")
    assert code == 0, text
    printed = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert [r["seq"] for r in printed] == [2, 3, 4, 5, 6]


def test_a_subject_export_holds_exactly_that_person_s_exchanges(
        sealed_log: Path, tmp_path: Path, pki_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "budi.json"
    code, _, err = g2g(capsys, "audit", "--config", str(sealed_log), "export", "--name",
                       "budi  SANTOSO", "--dob", "1980-02-03", "--kind", "request",
                       "--out", str(out))
    assert code == 0, err
    records = [json.loads(base64.b64decode(r["record"]))
               for r in json.loads(out.read_bytes())["records"]]
    assert [(r["kind"], r["consumer"]) for r in records] == [("request", POLRI)] * 2
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key",
                        str(pki_dir / "broker" / "log.pub"))
    assert code == 0, text
    assert "note: a filtered selection" in text


def _record_byte(doc: dict[str, Any]) -> None:
    data = base64.b64decode(doc["records"][1]["record"]).replace(b"POLRI", b"POLRJ")
    doc["records"][1]["record"] = base64.b64encode(data).decode()


def _proof_hash(doc: dict[str, Any]) -> None:
    proof = doc["records"][2]["proof"]
    proof[0] = base64.b64encode(bytes(32)).decode()


def _signature(doc: dict[str, Any]) -> None:
    body, _, sig = doc["checkpoint"].rstrip("\n").rpartition(" ")
    doc["checkpoint"] = f"{body} {sig[:20]}{'A' if sig[20] != 'A' else 'B'}{sig[21:]}\n"


def _drop_middle(doc: dict[str, Any]) -> None:
    del doc["records"][2]


def _swap_key(doc: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from broker.audit import checkpoint
    doc["log_key"] = checkpoint.vkey(doc["origin"], Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(("tamper", "message"), [
    (_record_byte, "FAIL: record 3: its inclusion proof does not reach the signed root"),
    (_proof_hash, "FAIL: record 4: its inclusion proof does not reach the signed root"),
    (_signature, "FAIL: checkpoint: checkpoint signature is invalid"),
    (_drop_middle, "FAIL: range: 1 record(s) missing from [2, 7): 4"),
    (_swap_key, "FAIL: log_key: the bundle's key (hash "),
])
def test_verify_bundle_fails_precisely_on_tampering(
        sealed_log: Path, tmp_path: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str],
        tamper: Callable[[dict[str, Any]], None], message: str) -> None:
    out = tmp_path / "range.json"
    assert g2g(capsys, "audit", "--config", str(sealed_log), "export", "--from-seq", "2",
               "--to-seq", "7", "--out", str(out))[0] == 0
    doc = json.loads(out.read_bytes())
    tamper(doc)
    out.write_text(json.dumps(doc))
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key",
                        str(pki_dir / "broker" / "log.pub"))
    assert code == 2
    assert text.splitlines()[0].startswith(message), text
    assert text.splitlines()[-1].startswith("INVALID: ")


def _re_sign(doc: dict[str, Any]) -> None:
    """Re-sign the bundle's checkpoint with another key and name that key inside."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from broker.audit import checkpoint
    rogue = Ed25519PrivateKey.generate()
    cp, _ = checkpoint.parse(doc["checkpoint"])
    doc["log_key"] = checkpoint.vkey(doc["origin"], rogue.public_key())
    doc["checkpoint"] = checkpoint.sign(cp, doc["origin"], rogue)


def test_a_re_signed_bundle_fails_without_a_key_and_with_the_real_one(
        sealed_log: Path, tmp_path: Path, pki_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "forged.json"
    assert g2g(capsys, "audit", "--config", str(sealed_log), "export", "--out", str(out))[0] == 0
    doc = json.loads(out.read_bytes())
    _re_sign(doc)
    out.write_text(json.dumps(doc))
    code, text, err = g2g(capsys, "audit", "verify", "--bundle", str(out), "--records")
    assert (code, text) == (1, "")  # fails closed, prints no record
    assert err == ("g2g: --bundle needs --key (the log public key you trust): a bundle's own "
                   "key proves nothing about who signed it\n")
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key",
                        str(pki_dir / "broker" / "log.pub"), "--records")
    assert code == 2
    assert text.splitlines()[0].startswith("FAIL: log_key: the bundle's key (hash ")
    assert text.splitlines()[-1].startswith("INVALID: ")
    # Named unsafe, it passes: and says so on stderr, every run.
    for _ in range(2):
        code, text, err = g2g(capsys, "audit", "verify", "--bundle", str(out),
                              "--unsafe-trust-embedded-key")
        assert code == 0
        assert text.splitlines()[-1].startswith("OK: ")
        assert err.startswith("g2g: WARNING: --unsafe-trust-embedded-key: ")


def test_export_refuses_a_checkpoint_that_does_not_exist(
        sealed_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = g2g(capsys, "audit", "--config", str(sealed_log), "export", "--at-size",
                       "4", "--out", str(tmp_path / "x.json"))
    assert (code, err.strip()) == (1, "g2g: no checkpoint at tree size 4 (latest: 8)")
    assert not (tmp_path / "x.json").exists()


def test_a_bundle_checked_against_the_checkpoint_the_recipient_saved(
        sealed_log: Path, tmp_path: Path, pki_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from broker.audit.dialect import dialect_for
    from broker.audit.log import LogReader
    from broker.config import load_config

    dialect = dialect_for(load_config(sealed_log).audit)
    conn = dialect.connect()
    try:
        saved = {size: note for size, _, note in LogReader(dialect, conn).checkpoints()}
    finally:
        conn.close()
    assert sorted(saved) == [3, 6, 8]
    (tmp_path / "saved.note").write_text(saved[3])
    out = tmp_path / "since3.json"
    assert g2g(capsys, "audit", "--config", str(sealed_log), "export", "--from-seq", "3",
               "--consistent-with", "3", "--out", str(out))[0] == 0
    key = str(pki_dir / "broker" / "log.pub")
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key", key,
                        "--from-checkpoint", str(tmp_path / "saved.note"))
    assert code == 0, text
    (tmp_path / "saved.note").write_text(saved[6])  # a checkpoint the bundle has no proof from
    code, text, _ = g2g(capsys, "audit", "verify", "--bundle", str(out), "--key", key,
                        "--from-checkpoint", str(tmp_path / "saved.note"))
    assert code == 2
    assert text.startswith("FAIL: consistency: the bundle has no consistency proof from your "
                           "checkpoint's size 6")


def test_auditor_tools_refuse_a_missing_log_instead_of_creating_an_empty_one(
        tmp_path: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo" / "audit.db"
    config = write_config(tmp_path, pki_dir=pki_dir,
                          audit_yaml=f"  backend: sqlite\n  path: {missing}\n")
    for command in ("verify", "tail"):
        code, out, err = g2g(capsys, "audit", "--config", str(config), command)
        assert (code, out) == (1, "")
        assert err == f"g2g: CONFIG_INVALID: {config}: audit.path: no audit log at {missing}\n"
    assert not missing.parent.exists()
