"""`g2g send` refuses, before contacting the broker, what only the caller can fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from g2g_cli.main import main
from tests.conftest import REGISTRY

VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
REQUEST = '{"passport_number": "NL1234567", "full_name": "Jan de Vries"}'


def send(pki_dir: Path, *argv: str) -> list[str]:
    return ["send", "--registry", str(REGISTRY), "--pki-dir", str(pki_dir),
            "--broker", "127.0.0.1:1", "--service", VERIFY, "--purpose", "border_control",
            *argv]


def test_several_providers_must_be_chosen_between_by_name(
        pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send(pki_dir, "--as", "ID/GOV/IMIGRASI", "--json", REQUEST)) == 1
    assert capsys.readouterr().err == (
        f"g2g: CONFIG_INVALID: {VERIFY} is offered by 3 agencies: NL/GOV/EMBASSY-JAKARTA, "
        "AU/GOV/EMBASSY-JAKARTA, MY/GOV/EMBASSY-JAKARTA; choose one with --to AGENCY\n")
    assert main(send(pki_dir, "--as", "ID/GOV/IMIGRASI", "--json", REQUEST,
                     "--to", "ID/GOV/POLRI")) == 1
    assert (f"--to ID/GOV/POLRI does not offer {VERIFY}; its providers: "
            "NL/GOV/EMBASSY-JAKARTA, AU/GOV/EMBASSY-JAKARTA, MY/GOV/EMBASSY-JAKARTA"
            in capsys.readouterr().err)


def test_an_unregistered_sender_and_a_missing_request_file_are_named(
        pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send(pki_dir, "--as", "ID/GOV/NOBODY", "--json", REQUEST,
                     "--to", "NL/GOV/EMBASSY-JAKARTA")) == 1
    err = capsys.readouterr().err
    assert f"--as ID/GOV/NOBODY: no such agency in the registry {REGISTRY}" in err
    assert "(registered: AU/GOV/EMBASSY-JAKARTA, " in err
    assert main(send(pki_dir, "--as", "ID/GOV/IMIGRASI", "--json", "@/nonexistent/q.json",
                     "--to", "NL/GOV/EMBASSY-JAKARTA")) == 1
    assert "--json @/nonexistent/q.json: no such file" in capsys.readouterr().err


def test_an_unreachable_broker_is_reported_as_the_broker(
        pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(send(pki_dir, "--as", "ID/GOV/IMIGRASI", "--json", REQUEST,
                     "--to", "NL/GOV/EMBASSY-JAKARTA")) == 1
    err = capsys.readouterr().err
    assert "BROKER_UNAVAILABLE" in err
    assert "the broker at 127.0.0.1:1 could not be reached" in err
