"""A fault inside g2g (a bug, not a bad request) is still a precise, audited status."""

from __future__ import annotations

import grpc
import pytest
from g2g_sdk import envelope
from g2g_sdk.errors import G2GError

from agency_adapters.immigration import screening
from broker import pipeline
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query


def _broken(*_: object) -> None:
    raise ValueError("Budi Santoso 1980-02-03")  # as if a bug quoted request data


async def _screen_hits_the_fault(fed: Fed) -> G2GError:
    """Screen once; assert INTERNAL / INTERNAL_ERROR and its request + outcome records."""
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso", "1980-02-03"),
                           purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        err = await expect_error(client.send(env), grpc.StatusCode.INTERNAL, "INTERNAL_ERROR")
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "INTERNAL", "INTERNAL_ERROR")]
    return err


async def test_a_broker_fault_is_internal_error_audited_and_the_broker_serves_on(
        fed: Fed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "verify_response", _broken)
    err = await _screen_hits_the_fault(fed)
    assert err.message == "the broker failed to process this request"
    monkeypatch.undo()
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    assert answer.header.sender == "ID/GOV/IMIGRASI"


async def test_an_adapter_fault_reaches_the_consumer_as_internal_error_without_its_text(
        fed: Fed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screening.ScreeningIndex, "search", _broken)
    err = await _screen_hits_the_fault(fed)
    assert err.message == "the provider failed to process this request"
