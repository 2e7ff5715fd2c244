"""Replay claims and rate-limit counters taken with the request record, shared by two stores.

Two `AuditStore`s on one database stand for two broker workers: what one
admits, the other must see, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from g2g_sdk.errors import G2GError, RateLimited, ReplayError

from broker import replay
from broker.audit import AuditConfig, AuditStore, open_store
from broker.audit.store import Admission
from broker.policy.model import Decision, RateLimit
from broker.policy.ratelimit import windows
from tests.broker.audit.test_store import Db, event

NOW = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 10, 20, 0, tzinfo=UTC)
DECISION = Decision(allowed=True, rule_id="r1", policy_version="v1",
                    limits=(RateLimit(3, 60, "per_minute"), RateLimit(100, 86400, "per_day")))


@pytest.fixture
async def pair(audit_config: AuditConfig, log_key: Ed25519PrivateKey
               ) -> AsyncIterator[tuple[AuditStore, AuditStore]]:
    a = await open_store(audit_config, log_key=log_key, instance_id="w0")
    b = await open_store(audit_config, log_key=log_key, instance_id="w1")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def admission(message_id: str, now: datetime = NOW, decision: Decision = DECISION) -> Admission:
    return Admission(claim=replay.claim("ID/GOV/POLRI", message_id, now.replace(minute=5)),
                     counters=windows("ID/GOV/POLRI", decision, now),
                     now=int(now.timestamp()))


async def test_a_claim_taken_by_one_store_is_refused_by_the_other(
        pair: tuple[AuditStore, AuditStore], audit_config: AuditConfig) -> None:
    a, b = pair
    first = await a.append(event(1), admission("m-1"))
    with pytest.raises(ReplayError) as info:
        await b.append(event(1), admission("m-1"))
    assert (info.value.reason, info.value.metadata) == ("REPLAYED", {"message_id": "m-1"})
    # Refused means not written: the log holds only the first record.
    assert Db(audit_config).reader().size() == first.seq + 1 == 1
    # Past its window the claim may be taken again (freshness rejects the old message).
    await b.append(event(2), admission("m-1", now=LATER))


async def test_rate_limit_counts_across_stores_and_admits_exactly_the_limit(
        pair: tuple[AuditStore, AuditStore], audit_config: AuditConfig) -> None:
    a, b = pair
    results = await asyncio.gather(
        *(store.append(event(i), admission(f"m-{i}"))
          for i, store in enumerate([a, b] * 4)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, G2GError)]
    assert len(results) - len(refused) == 3
    assert all(isinstance(r, RateLimited) for r in refused)
    assert {(r.reason, r.metadata["limit"], r.metadata["retry_after_seconds"])
            for r in refused} == {("RATE_LIMITED", "per_minute", "30")}
    assert Db(audit_config).reader().size() == 3
    # The next window starts from zero.
    await a.append(event(9), admission("m-9", now=NOW.replace(minute=1)))


async def test_records_without_admission_are_never_refused(
        pair: tuple[AuditStore, AuditStore]) -> None:
    a, b = pair
    await a.append(event(1), admission("m-1"))
    await b.append(event(1))  # e.g. the rejected record of a replay attempt


async def test_a_backlog_of_expired_claims_is_drained_however_many_expire_at_once(
        store: AuditStore, audit_config: AuditConfig) -> None:
    # More claims expire than one clean-up deletes (10,000): the next writes carry on
    # deleting rather than waiting EXPIRE_EVERY_SECONDS, or a broker admitting more
    # than 1,000 requests a second would grow the table without bound.
    db = Db(audit_config)
    past = int(NOW.timestamp()) - 1
    db.run("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 24999) "
           "INSERT INTO claims (claim, expires) SELECT 'old ' || i, ? FROM n", past)
    for i in range(3):
        await store.append(event(i), admission(f"m-{i}"))
    left = db.conn.execute(db.dialect.sql("SELECT COUNT(*) FROM claims WHERE expires < ?"),
                           (int(NOW.timestamp()),)).fetchone()
    assert int(left[0]) == 0


async def test_one_message_id_twice_in_one_commit_is_admitted_once(
        store: AuditStore, audit_config: AuditConfig) -> None:
    # Submitted together, so the writer takes them in one transaction (claims are
    # taken for the whole batch in one statement): the second is the replay.
    futures = [store.submit(event(i), admission(m))
               for i, m in enumerate(["m-1", "m-2", "m-1", "m-3"])]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "AuditReceipt", "AuditReceipt", "ReplayError", "AuditReceipt"]
    assert sorted(r.seq for r in results if not isinstance(r, BaseException)) == [0, 1, 2]
    assert Db(audit_config).reader().size() == 3
