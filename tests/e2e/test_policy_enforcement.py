"""End-to-end: each policy feature decides real exchanges through the broker (mTLS).

Every refusal asserts the gRPC code, the ErrorInfo reason and metadata, and the
audit record (decision, rule id, policy version). The shipped policies are used
where they have the case (explicit deny, expired agreement, conditions, legal
basis, masks); small purpose-built sets in tmp cover windows and rate limits.
Time is the broker's injected clock, never a sleep.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from g2g_sdk import envelope, pki
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.errors import G2GError
from google.protobuf import message as pb_message

from agency_adapters.consular.service import seeded_data as consular_data
from agency_adapters.interpol.service import seeded_data as interpol_data
from g2g_harness.federation import start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

pytestmark = pytest.mark.asyncio

BIN = "ID/GOV/BIN"
CUSTOMS = "ID/GOV/BEA-CUKAI"
IMIGRASI = "ID/GOV/IMIGRASI"
INTERPOL = "INT/IO/INTERPOL"
NL_EMBASSY = "NL/GOV/EMBASSY-JAKARTA"


@dataclass
class SetClock:
    """The broker's clock: real time unless a test sets `at`."""

    at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


def _sealed(fed: Fed, sender: str, service: str, payload: pb_message.Message, *,
            recipient: str, purpose: str, legal_basis: str = "",
            now: datetime | None = None) -> envelope_pb2.Envelope:
    """A request signed by `sender` as if sent at `now` (the broker's clock time)."""
    return envelope.build_request(
        sender=sender, recipient=recipient, service=service, payload=payload, purpose=purpose,
        legal_basis=legal_basis, key=pki.load_identity(fed.pki_dir, sender).signing_key,
        now=now or datetime.now(UTC))


async def _denied(fed: Fed, env: envelope_pb2.Envelope, code: grpc.StatusCode,
                  reason: str) -> tuple[G2GError, dict[str, Any]]:
    """Send `env` as its sender; it must fail so. Returns the error and its one audit record."""
    header = envelope.parse_header(env)
    async with fed.client(header.sender) as client:
        err = await expect_error(client.send(env), code, reason)
    (record,) = await fed.records_for(header.message_id)
    return err, record


def _audited(record: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    return (record["kind"], record["decision"], record["status_code"], record["reason"],
            record["rule_id"], record["policy_version"])


def _version(fed: Fed) -> str:
    return fed.federation.broker.watcher.current.version


def _assert_unmet(fed: Fed, err: G2GError, record: dict[str, Any], rule: str, why: str) -> None:
    """A default deny that names the consumer's own rule which did not apply, and why."""
    assert err.message == f"no rule matched: rule {rule} does not apply: {why}"
    assert err.metadata == {"rule_id": "none", "policy_version": _version(fed),
                            "unmet_rule": rule}
    assert _audited(record) == ("rejected", "deny", "PERMISSION_DENIED", "POLICY_DENIED", "",
                                _version(fed))


# --- the shipped policy set ---------------------------------------------------

async def test_shipped_explicit_deny_beats_the_group_allow(fed: Fed) -> None:
    query = name_query(fed.listed_subject.full_name)
    env = _sealed(fed, BIN, SCREEN, query, recipient=IMIGRASI,
                  purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    err, record = await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    rule = "imigrasi-watchlist-no-intelligence-investigation"
    assert err.message == (f"denied by rule {rule}: Intelligence may not screen for a "
                           "criminal investigation (no investigative powers).")
    assert err.metadata == {"rule_id": rule, "policy_version": _version(fed)}
    assert _audited(record) == ("rejected", "deny", "PERMISSION_DENIED", "POLICY_DENIED", rule,
                                _version(fed))
    # The allow the deny carves out of still serves BIN for border control.
    async with fed.client(BIN) as client:
        answer = await client.call(SCREEN, query, purpose="border_control",
                                   legal_basis=LEGAL_BASIS)
    request_record, outcome = await fed.records_for(answer.header.in_reply_to)
    assert (request_record["decision"], request_record["rule_id"], outcome["status_code"]) == (
        "allow", "imigrasi-watchlist-law-enforcement", "OK")


async def test_shipped_expired_agreement_is_named_in_the_refusal(fed: Fed) -> None:
    listed = interpol_data().sltd[0]
    env = _sealed(fed, CUSTOMS, "g2g.interpol.v1.TravelDocuments/Check",
                  interpol_pb2.DocumentCheckRequest(number=listed.number,
                                                    issuing_country=listed.issuing_country),
                  recipient=INTERPOL, purpose="border_control")
    err, record = await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    _assert_unmet(fed, err, record, "interpol-documents-customs-pilot", "expired on 2024-12-31")


async def test_shipped_condition_embassy_only_about_its_own_nationals(fed: Fed) -> None:
    permit = next(p for p in consular_data().permits if p.nationality == "AUS")
    query = consular_pb2.StayPermitQuery(passport_number=permit.passport_number,
                                         nationality="AUS")
    env = _sealed(fed, NL_EMBASSY, "g2g.consular.v1.StayPermits/GetStatus", query,
                  recipient=IMIGRASI, purpose="consular_assistance", legal_basis="VCCR Art. 5")
    err, record = await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    _assert_unmet(fed, err, record, "consular-nl-stay-permits",
                  "condition failed: nationality == 'NLD'")


@pytest.mark.parametrize("legal_basis", ["", "KUHAP Pasal 7"])
async def test_shipped_legal_basis_is_required(fed: Fed, legal_basis: str) -> None:
    env = _sealed(fed, POLRI, SCREEN, name_query("Budi Santoso"), recipient=IMIGRASI,
                  purpose="criminal_investigation", legal_basis=legal_basis)
    err, record = await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    _assert_unmet(fed, err, record, "imigrasi-watchlist-law-enforcement",
                  "legal basis does not match /UU 6/2011( .+)?/")


async def test_shipped_mask_keeps_notice_charges_from_immigration(fed: Fed) -> None:
    notice = next(n for n in interpol_data().notices
                  if n.category == "RED" and n.charges and n.date_of_birth)
    query = interpol_pb2.NoticeSearchRequest(full_name=notice.full_name,
                                             date_of_birth=notice.date_of_birth)
    async with fed.client(IMIGRASI) as client:
        answer = await client.call("g2g.interpol.v1.Notices/Search", query,
                                   purpose="border_control")
    assert isinstance(answer.payload, interpol_pb2.NoticeSearchResponse)
    hit = next(h for h in answer.payload.hits if h.notice_id == notice.notice_id)
    assert hit.notice.category == interpol_pb2.NOTICE_CATEGORY_RED
    assert hit.notice.identity.full_name == notice.full_name
    assert list(hit.notice.charges) == []  # the police see them (tests/e2e/test_interpol.py)
    request_record, _ = await fed.records_for(answer.header.in_reply_to)
    assert (request_record["decision"], request_record["rule_id"],
            request_record["policy_version"]) == ("allow", "interpol-notices-imigrasi",
                                                  _version(fed))


# --- purpose-built policy sets ------------------------------------------------

@pytest.fixture
async def fed_with(tmp_path: Path, pki_dir: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start a federation whose broker uses the given policy text and a settable clock."""
    running: list[Any] = []

    async def start(policy: str, clock: SetClock) -> Fed:
        policies = tmp_path / "policies"
        policies.mkdir()
        (policies / "rules.yaml").write_text(textwrap.dedent(policy), encoding="utf-8")
        config = write_config(tmp_path, pki_dir=pki_dir, policies=policies)
        federation = await start_federation(tmp_path, pki_dir=pki_dir, config_path=config,
                                            adapters=("immigration",), clock=clock)
        running.append(federation)
        return Fed(federation)

    yield start
    for federation in running:
        await federation.stop()


RULE = """
rules:
  - id: polri-screen
    description: police screen
    agreement: test agreement
    effect: allow
    provider: ID/GOV/IMIGRASI
    service: g2g.immigration.v1.Watchlist/Screen
    consumers: [ID/GOV/POLRI]
    purposes: [criminal_investigation]
"""


async def _screen_at(fed: Fed, now: datetime) -> tuple[G2GError, dict[str, Any]]:
    env = _sealed(fed, POLRI, SCREEN, name_query("Budi Santoso"), recipient=IMIGRASI,
                  purpose="criminal_investigation", now=now)
    return await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")


async def test_validity_window_by_the_brokers_clock(fed_with: Callable[..., Any]) -> None:
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=1), today + timedelta(days=1)
    clock = SetClock()
    fed = await fed_with(RULE + f"    valid_from: {first}\n    valid_until: {last}\n", clock)
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation")
    assert answer.payload is not None
    for at, why in ((datetime.now(UTC) + timedelta(days=3), f"expired on {last}"),
                    (datetime.now(UTC) - timedelta(days=3), f"not valid before {first}")):
        clock.at = at
        err, record = await _screen_at(fed, at)
        _assert_unmet(fed, err, record, "polri-screen", why)


async def test_weekday_and_hour_windows(fed_with: Callable[..., Any]) -> None:
    clock = SetClock()
    fed = await fed_with(RULE + '    weekdays: [mon, tue, wed, thu, fri]\n'
                         '    hours: "07:00-19:00"\n    timezone: Asia/Jakarta\n', clock)
    saturday_noon = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)       # 12:00 WIB
    monday_evening = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)    # 20:30 WIB
    for at, why in ((saturday_noon, "not allowed on Saturday (Asia/Jakarta)"),
                    (monday_evening, "outside hours 07:00-19:00 (Asia/Jakarta)")):
        clock.at = at
        err, record = await _screen_at(fed, at)
        _assert_unmet(fed, err, record, "polri-screen", why)


async def test_explicit_deny_beats_a_matching_allow(fed_with: Callable[..., Any]) -> None:
    deny = """
  - id: polri-freeze
    description: screening frozen by court order
    agreement: court order 12/2026
    effect: deny
    provider: ID/GOV/IMIGRASI
    service: g2g.immigration.v1.Watchlist/Screen
    consumers: [ID/GOV/POLRI]
    purposes: [criminal_investigation]
    legal_basis: "KUHAP( .+)?"
"""
    fed = await fed_with(RULE + deny, SetClock())
    async with fed.client(POLRI) as client:
        await client.call(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation")
    env = _sealed(fed, POLRI, SCREEN, name_query("Budi Santoso"), recipient=IMIGRASI,
                  purpose="criminal_investigation", legal_basis="KUHAP Pasal 7")
    err, record = await _denied(fed, env, grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    assert err.message == "denied by rule polri-freeze: screening frozen by court order"
    assert err.metadata == {"rule_id": "polri-freeze", "policy_version": _version(fed)}
    assert _audited(record) == ("rejected", "deny", "PERMISSION_DENIED", "POLICY_DENIED",
                                "polri-freeze", _version(fed))


async def test_rate_limit_refuses_the_extra_request_with_a_retry_hint(
        fed_with: Callable[..., Any]) -> None:
    # A fixed clock 30 s into the current minute: the window cannot roll over mid-test,
    # and it stays within the clock-skew bounds the providers check against real time.
    real = datetime.now(UTC)
    clock = SetClock(real.replace(second=30, microsecond=0))
    fed = await fed_with(RULE + "    rate_limit: {per_minute: 2, per_day: 100}\n", clock)
    async with fed.client(POLRI) as client:
        for _ in range(2):
            await client.call(SCREEN, name_query("Budi Santoso"),
                              purpose="criminal_investigation")
        env = client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation")
    err, record = await _denied(fed, env, grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
    assert err.message == "rule polri-screen allows 2 requests per minute; retry in 30 s"
    assert err.metadata == {"rule_id": "polri-screen", "limit": "per_minute",
                            "retry_after_seconds": "30"}
    assert _audited(record) == ("rejected", "allow", "RESOURCE_EXHAUSTED", "RATE_LIMITED",
                                "polri-screen", _version(fed))
    assert clock.at is not None
    clock.at += timedelta(seconds=30)  # the hinted retry time: a new window
    async with fed.client(POLRI) as client:
        answer = await client.call(SCREEN, name_query("Budi Santoso"),
                                   purpose="criminal_investigation")
    assert answer.payload is not None

