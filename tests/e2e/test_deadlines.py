"""The outcome record says what the caller got when its deadline runs out.

A provider that waits on an event (never on the clock) holds the exchange; the
caller's deadline ends it. The broker stops asking the provider a margin before
that deadline and answers DEADLINE_EXCEEDED / CALL_DEADLINE_EXCEEDED itself, and
records exactly that; an OK is committed only with time left to deliver it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from g2g_sdk import envelope, pki
from g2g_sdk.errors import G2GError

from broker import pipeline
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query
from tests.e2e.test_cancellation import _flock_waiters
from tests.e2e.test_provider_failures import _rogue_fed

pytestmark = pytest.mark.asyncio


async def test_a_deadline_passing_while_the_provider_works_is_recorded_as_such(
        tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None):
        async with fed.client(POLRI) as client:
            env = client.build(SCREEN, name_query("Budi Santoso"),
                               purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
            with pytest.raises(G2GError) as info:
                await client.send(env, timeout=1.0)
        # The broker's own status normally arrives first; if the caller's clock wins,
        # the toolkit names the bare DEADLINE_EXCEEDED of its library the same way.
        assert (info.value.code, info.value.reason) == (
            grpc.StatusCode.DEADLINE_EXCEEDED, "CALL_DEADLINE_EXCEEDED")
        assert rogue.entered.is_set()
        rogue.never.set()  # the provider answers only now, after the caller gave up
        records = await fed.wait_for_records(envelope.parse_header(env).message_id, 2)
        assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
            ("request", "", ""), ("outcome", "DEADLINE_EXCEEDED", "CALL_DEADLINE_EXCEEDED")]


def _remaining(*values: float) -> pipeline.TimeRemaining:
    """A caller's deadline as the pipeline sees it: these values, then the last forever."""
    it: Iterator[float] = iter(values)
    last = [values[-1]]

    def time_remaining() -> float | None:
        last[0] = next(it, last[0])
        return last[0]
    return time_remaining


def _request(fed: Fed) -> bytes:
    client = fed.client(POLRI)
    return client.build(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                        legal_basis=LEGAL_BASIS).SerializeToString()


def _cert(fed: Fed) -> bytes:
    """POLRI's certificate, as mTLS hands it to the servicer (the revocation check reads it)."""
    return pki.load_identity(fed.pki_dir, POLRI).tls_cert_pem


async def test_no_ok_is_committed_without_time_left_to_deliver_it(fed: Fed) -> None:
    raw = _request(fed)
    # 10 s left when forwarding; 10 ms (under the margin) once the answer is verified.
    with pytest.raises(G2GError) as info:
        await pipeline.handle_call(raw, POLRI, fed.federation.broker.broker,
                                   _remaining(10.0, 0.01), peer_cert=_cert(fed))
    assert (info.value.code, info.value.reason) == (
        grpc.StatusCode.DEADLINE_EXCEEDED, "CALL_DEADLINE_EXCEEDED")
    records = await fed.records_for(envelope.parse_header(envelope.peek_envelope(raw)).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "DEADLINE_EXCEEDED", "CALL_DEADLINE_EXCEEDED")]


async def test_a_deadline_too_short_to_ask_the_provider_is_not_forwarded(fed: Fed) -> None:
    raw = _request(fed)
    with pytest.raises(G2GError) as info:
        await pipeline.handle_call(raw, POLRI, fed.federation.broker.broker,
                                   _remaining(pipeline.ANSWER_MARGIN_SECONDS / 2),
                                   peer_cert=_cert(fed))
    assert info.value.reason == "CALL_DEADLINE_EXCEEDED"
    records = await fed.records_for(envelope.parse_header(envelope.peek_envelope(raw)).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "DEADLINE_EXCEEDED", "CALL_DEADLINE_EXCEEDED")]


async def test_a_deadline_passing_while_ok_commits_is_recorded_after_it(
        tmp_path: Path, pki_dir: Path) -> None:
    async for fed, rogue in _rogue_fed(tmp_path, pki_dir, None):
        broker = fed.federation.broker.broker
        raw = _request(fed)
        message_id = envelope.parse_header(envelope.peek_envelope(raw)).message_id
        call = asyncio.ensure_future(pipeline.handle_call(
            raw, POLRI, broker, _remaining(10.0, 10.0, 0.0), peer_cert=_cert(fed)))
        await rogue.reached_by(call)  # the request is recorded and forwarded
        # Hold the SQLite writers' lock: the OK record waits in the writer while
        # the caller's deadline passes.
        audit_db = fed.federation.config.audit.path
        fd = os.open(f"{audit_db}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            waiting = _flock_waiters(fd)
            rogue.behaviour = lambda _request, opened, rogue=rogue: rogue.respond(opened)
            rogue.never.set()  # the provider answers
            deadline = time.monotonic() + 10.0
            while _flock_waiters(fd) == waiting:
                assert time.monotonic() < deadline, "the OK record never reached the writer"
                assert not call.done()
                await asyncio.sleep(0.01)  # polling observable state with a deadline
            call.cancel()  # what grpc does when the caller's deadline passes
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        with pytest.raises(asyncio.CancelledError):
            await call
        records = await fed.records_for(message_id)
        assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
            ("request", "", ""), ("outcome", "OK", ""),
            ("outcome", "DEADLINE_EXCEEDED", "CALL_DEADLINE_EXCEEDED")]
