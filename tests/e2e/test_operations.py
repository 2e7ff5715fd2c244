"""End-to-end: the operations port (/metrics, /healthz, /readyz), drain and load shedding.

A real broker with real adapters over mTLS; the operations port is scraped
over plain HTTP exactly as Prometheus and a load balancer would.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from g2g_sdk import envelope, pki
from g2g_sdk._gen.g2g.v1 import envelope_pb2
from g2g_sdk.registry import load_registry
from prometheus_client.parser import text_string_to_metric_families

from agency_adapters.runner import start_adapter
from g2g_harness.federation import REGISTRY, start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query
from tests.e2e.test_provider_failures import IMIGRASI, _rogue_fed
from tests.pg import PG_BASE, pg_schema

pytestmark = pytest.mark.asyncio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a plain HTTP GET to 127.0.0.1:`port`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


async def scrape(port: int) -> Samples:
    code, text = await http_get(port, "/metrics")
    assert code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _request(fed: Fed, **overrides: object) -> envelope_pb2.Envelope:
    identity = pki.load_identity(fed.pki_dir, POLRI)
    params: dict[str, object] = {
        "sender": POLRI, "recipient": IMIGRASI, "service": SCREEN,
        "payload": name_query("Budi Santoso"), "purpose": "criminal_investigation",
        "legal_basis": LEGAL_BASIS, "key": identity.signing_key, "now": datetime.now(UTC)}
    return envelope.build_request(**(params | overrides))  # type: ignore[arg-type]


@pytest.fixture
async def ops_fed(fed: Fed) -> tuple[Fed, int]:
    ops = await fed.federation.broker.start_ops_port("127.0.0.1:0")  # closed with the broker
    return fed, ops.port


async def test_metrics_count_every_outcome_with_bounded_labels(
        ops_fed: tuple[Fed, int]) -> None:
    fed, port = ops_fed
    subject = fed.listed_subject
    async with fed.client(POLRI) as client:
        await client.call(SCREEN, name_query(subject.full_name, subject.date_of_birth),
                          purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
        replayed = _request(fed)
        await client.send(replayed)
        await expect_error(client.send(replayed), grpc.StatusCode.ALREADY_EXISTS, "REPLAYED")
        await expect_error(client.send(_request(fed, service="g2g.nope.v1.Made/Up")),
                           grpc.StatusCode.NOT_FOUND, "UNKNOWN_SERVICE")
        await expect_error(client.send(_request(fed, recipient="XX/NOT/REGISTERED")),
                           grpc.StatusCode.NOT_FOUND, "RECIPIENT_MISMATCH")
    async with fed.client("ID/GOV/BEA-CUKAI") as client:
        await expect_error(client.send(client.build(SCREEN, name_query("Budi Santoso"),
                                                    purpose="tax_audit")),
                           grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
    samples = await scrape(port)

    def exchanges(consumer: str, provider: str, service: str, code: str, reason: str) -> float:
        return value(samples, "g2g_exchanges_total", consumer=consumer, provider=provider,
                     service=service, code=code, reason=reason)

    assert exchanges(POLRI, IMIGRASI, SCREEN, "OK", "") == 2
    assert exchanges(POLRI, IMIGRASI, SCREEN, "ALREADY_EXISTS", "REPLAYED") == 1
    # Names a request made up are never labels: they count as "unknown".
    assert exchanges(POLRI, IMIGRASI, "unknown", "NOT_FOUND", "UNKNOWN_SERVICE") == 1
    assert exchanges(POLRI, "unknown", SCREEN, "NOT_FOUND", "RECIPIENT_MISMATCH") == 1
    assert exchanges("ID/GOV/BEA-CUKAI", IMIGRASI, SCREEN, "PERMISSION_DENIED",
                     "POLICY_DENIED") == 1
    assert not any("g2g.nope" in str(labels) or "XX/NOT" in str(labels)
                   for _, labels in samples)
    assert value(samples, "g2g_exchange_duration_seconds_count", service=SCREEN,
                 code="OK") == 2
    # Every stage of the two allowed exchanges was timed; the denied one stopped at policy.
    for stage in ("provider_call", "response_verify", "audit_commit", "audit_outcome"):
        assert value(samples, "g2g_stage_duration_seconds_count", stage=stage) == 2, stage
    assert value(samples, "g2g_stage_duration_seconds_count", stage="policy") == 2
    assert value(samples, "g2g_stage_duration_seconds_count", stage="validate") == 3
    assert value(samples, "g2g_stage_duration_seconds_count", stage="verify") == 6
    assert value(samples, "g2g_rpcs_total", method="/g2g.v1.Exchange/Call",
                 code="PERMISSION_DENIED") == 1
    assert value(samples, "g2g_rpc_duration_seconds_count", method="/g2g.v1.Exchange/Call") == 6
    # Every record committed (request + outcome, and the rejections) went through a group.
    assert value(samples, "g2g_audit_commit_group_size_sum") == len(await fed.all_records())
    assert value(samples, "g2g_audit_commit_duration_seconds_count") >= 1
    assert value(samples, "g2g_audit_writable") == 1
    assert value(samples, "g2g_audit_queue_depth") == 0
    assert value(samples, "g2g_replay_cache_entries") == 5  # all but the replay reached it
    assert value(samples, "g2g_calls_in_flight") == 0
    policy = fed.federation.broker.watcher.current.version
    assert value(samples, "g2g_policy_version_info", version=policy) == 1
    assert value(samples, "g2g_policy_reload_rejected") == 0
    assert sum(v for (name, _), v in samples.items()
               if name == "g2g_registry_version_info") == 1
    days = 86400.0
    assert 300 * days < value(samples, "g2g_certificate_expiry_seconds",
                              certificate="broker-tls") < 3700 * days
    assert value(samples, "g2g_certificate_expiry_seconds", certificate="federation-ca") > 0
    assert value(samples, "g2g_ready") == 1
    assert await http_get(port, "/healthz") == (200, "ok\n")
    assert await http_get(port, "/readyz") == (200, "ready\n")
    assert (await http_get(port, "/nope"))[0] == 404


async def test_drain_flips_readyz_refuses_new_calls_and_finishes_those_in_flight(
        tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None):
        ops = await fed.federation.broker.start_ops_port("127.0.0.1:0")
        async with fed.client(POLRI) as client:
            in_flight = asyncio.ensure_future(client.send(_request(fed)))
            await rogue.reached_by(in_flight)
            draining = asyncio.ensure_future(fed.federation.broker.drain(10.0))
            assert await http_get(ops.port, "/readyz") == (503, "draining\n")
            refused = _request(fed)
            await expect_error(client.send(refused), grpc.StatusCode.UNAVAILABLE, "DRAINING")
            assert not draining.done()  # still waiting for the call in flight
            rogue.behaviour = rogue.answer
            rogue.never.set()
            await in_flight  # the call admitted before the drain is answered
            assert await draining is True
        (record,) = await fed.records_for(envelope.parse_header(refused).message_id)
        assert (record["kind"], record["consumer"], record["status_code"], record["reason"]) == (
            "rejected", POLRI, "UNAVAILABLE", "DRAINING")
        samples = await scrape(ops.port)
        assert value(samples, "g2g_draining") == 1
        assert value(samples, "g2g_ready") == 0
        assert value(samples, "g2g_exchanges_total", consumer=POLRI, provider=IMIGRASI,
                     service=SCREEN, code="UNAVAILABLE", reason="DRAINING") == 1


async def test_calls_beyond_the_per_consumer_bound_are_shed_at_once_and_audited(
        tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None, limits=(
            "  max_concurrent_calls_per_consumer: 1\n")):
        async with fed.client(POLRI) as client, fed.client("ID/GOV/BEA-CUKAI") as other:
            held = asyncio.ensure_future(client.send(_request(fed)))
            await rogue.reached_by(held)
            shed = _request(fed)
            err = await expect_error(client.send(shed), grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     "OVERLOADED")
            assert err.metadata == {"scope": "consumer"}
            # Another consumer is still admitted (and denied by policy, as usual).
            await expect_error(other.send(other.build(SCREEN, name_query("Budi Santoso"),
                                                      purpose="tax_audit")),
                               grpc.StatusCode.PERMISSION_DENIED, "POLICY_DENIED")
            rogue.behaviour = rogue.answer
            rogue.never.set()
            await held
        # Shed at once: its record commits behind the answer.
        message_id = envelope.parse_header(shed).message_id
        records = await fed.wait_for_records(message_id)
        assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
            ("rejected", "RESOURCE_EXHAUSTED", "OVERLOADED")]


@pytest.mark.postgres
async def test_readyz_fails_while_the_audit_store_is_unwritable(
        tmp_path: Path, pki_dir: Path) -> None:
    import psycopg

    name = f"g2g-ops-ready-{os.getpid()}-{id(tmp_path)}"
    for schema_dsn in pg_schema():
        dsn = f"{schema_dsn}&application_name={name}"
        # Probe every 0.1 s when idle; stay down long enough to be seen.
        audit = (f"  backend: postgres\n  dsn: {dsn}\n  checkpoint_seconds: 0.1\n"
                 "  reconnect_seconds: 0.5\n")
        federation = await start_federation(tmp_path, pki_dir=pki_dir, adapters=(),
                                            config_path=write_config(
                                                tmp_path, pki_dir=pki_dir, audit_yaml=audit))
        try:
            ops = await federation.broker.start_ops_port("127.0.0.1:0")
            assert await http_get(ops.port, "/readyz") == (200, "ready\n")
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                assert admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (name,)).fetchall()
            assert await _readyz_becomes(ops.port, 503) == "audit store not writable\n"
            # The writer reconnects by itself, and the broker is ready again.
            assert await _readyz_becomes(ops.port, 200) == "ready\n"
        finally:
            await federation.stop()


async def _readyz_becomes(port: int, status: int, within: float = 10.0) -> str:
    deadline = time.monotonic() + within
    while True:
        code, body = await http_get(port, "/readyz")
        if code == status:
            return body
        assert time.monotonic() < deadline, (code, body)
        await asyncio.sleep(0.05)  # polling a condition with a deadline


async def test_readyz_follows_a_required_providers_health(
        tmp_path: Path, pki_dir: Path) -> None:
    registry = load_registry(REGISTRY, pki_dir)
    adapter = await start_adapter("immigration", registry, pki_dir, listen="127.0.0.1:0")
    server, port = adapter[IMIGRASI]
    extra = ("ops:\n  listen: 127.0.0.1:0\n"
             f"  ready_requires_providers: [{IMIGRASI}]\n"
             "  provider_check_seconds: 0.1\n  provider_check_timeout_seconds: 0.5\n")
    federation = await start_federation(
        tmp_path, pki_dir=pki_dir, adapters=(), endpoints={IMIGRASI: f"127.0.0.1:{port}"},
        config_path=write_config(tmp_path, pki_dir=pki_dir, extra=extra))
    try:
        ops = await federation.broker.start_ops_port("127.0.0.1:0")
        assert await _readyz_becomes(ops.port, 200) == "ready\n"
        await server.stop(0)
        assert await _readyz_becomes(ops.port, 503) == f"provider {IMIGRASI} unreachable\n"
        # The same endpoint serves again: the broker's channel reconnects, /readyz recovers.
        adapter = await start_adapter("immigration", registry, pki_dir,
                                      listen=f"127.0.0.1:{port}")
        server = adapter[IMIGRASI][0]
        assert await _readyz_becomes(ops.port, 200) == "ready\n"
    finally:
        await federation.stop()
        await server.stop(0)


async def test_readyz_names_a_required_provider_absent_from_the_registry(
        tmp_path: Path, pki_dir: Path) -> None:
    extra = ("ops:\n  listen: 127.0.0.1:0\n  ready_requires_providers: [XX/GOV/NOBODY]\n"
             "  provider_check_seconds: 0.1\n")
    federation = await start_federation(
        tmp_path, pki_dir=pki_dir, adapters=(),
        config_path=write_config(tmp_path, pki_dir=pki_dir, extra=extra))
    try:
        ops = await federation.broker.start_ops_port("127.0.0.1:0")
        # Fails closed before the first probe round, and names the provider after it.
        deadline = time.monotonic() + 10
        while (answer := await http_get(ops.port, "/readyz")) != (
                503, "provider XX/GOV/NOBODY unreachable\n"):
            assert answer == (503, "provider XX/GOV/NOBODY not yet checked\n"), answer
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)  # polling a condition with a deadline
    finally:
        await federation.stop()
