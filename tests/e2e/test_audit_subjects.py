"""`g2g audit query --document/--name`: one subject across services whose fields differ.

The watchlist calls a document number `by_document.number`, Interpol `number`
and the embassies `passport_number`; the registry declares all three as kind
`document`, so one query finds every exchange about the document.
"""

from __future__ import annotations

import json

import pytest
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2

from agency_adapters.consular.service import seeded_data
from g2g_cli.main import main
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed

IMIGRASI = "ID/GOV/IMIGRASI"
NL_EMBASSY = "NL/GOV/EMBASSY-JAKARTA"
CHECK = "g2g.interpol.v1.TravelDocuments/Check"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"


def g2g_audit_query(fed: Fed, capsys: pytest.CaptureFixture[str], *args: str
                    ) -> list[dict[str, object]]:
    """Run `g2g audit query ... --format jsonl` against the federation's log."""
    capsys.readouterr()
    code = main(["audit", "--config", str(fed.federation.work_dir / "broker.yaml"), "query",
                 *args, "--format", "jsonl"])
    out = capsys.readouterr().out
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines()]


async def test_query_by_document_finds_watchlist_interpol_and_consular_requests(
        fed: Fed, capsys: pytest.CaptureFixture[str]) -> None:
    passport = next(p for p in seeded_data().passports
                    if p.issuing_country == "NLD" and p.status == "VALID")
    number = passport.passport_number
    async with fed.client(POLRI) as police:
        await police.call(SCREEN, watchlist_pb2.ScreenRequest(
            by_document=watchlist_pb2.DocumentQuery(
                type=watchlist_pb2.DOCUMENT_TYPE_PASSPORT, number=number,
                issuing_country="NLD")),
            purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    async with fed.client(IMIGRASI) as immigration:
        await immigration.call(CHECK, interpol_pb2.DocumentCheckRequest(
            number=number, issuing_country="NLD"), purpose="border_control")
        await immigration.call(VERIFY, consular_pb2.PassportVerificationRequest(
            passport_number=number, full_name=passport.full_name,
            date_of_birth=passport.date_of_birth), purpose="border_control",
            recipient=NL_EMBASSY)
        await immigration.call(CHECK, interpol_pb2.DocumentCheckRequest(
            number="X" + number[1:], issuing_country="NLD"), purpose="border_control")

    # Case and spacing do not make another document; the fourth request does.
    found = g2g_audit_query(fed, capsys, "--document", f" {number.lower()} ", "--kind",
                            "request")
    assert [(r["consumer"], r["provider"], r["service"]) for r in found] == [
        (POLRI, IMIGRASI, SCREEN), (IMIGRASI, "INT/IO/INTERPOL", CHECK),
        (IMIGRASI, NL_EMBASSY, VERIFY)]
    outcomes = g2g_audit_query(fed, capsys, "--document", number, "--kind", "outcome")
    assert [r["status_code"] for r in outcomes] == ["OK", "OK", "OK"]

    by_person = g2g_audit_query(fed, capsys, "--name", passport.full_name.upper(), "--dob",
                                passport.date_of_birth, "--kind", "request")
    assert [r["service"] for r in by_person] == [VERIFY]
