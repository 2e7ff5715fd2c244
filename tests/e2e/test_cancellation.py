"""A caller leaving while its request record is being committed still gets an outcome record."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

import pytest
from g2g_sdk import envelope, pki

from broker import pipeline
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query


def _flock_waiters(fd: int) -> int:
    """Waiters blocked right now on the flock of the file open as `fd`.

    /proc/locks marks a waiter with '->' and names the file by device and inode;
    waiters on other files (any other process's flock on this machine) are not
    counted, so they can neither end the wait early nor hide the writer.
    """
    st = os.fstat(fd)
    file = f" {os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino} "
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and "FLOCK" in line and file in line)


async def test_a_caller_leaving_during_the_request_commit_still_gets_an_outcome(
        fed: Fed) -> None:
    broker = fed.federation.broker.broker
    audit_db = fed.federation.config.audit.path
    async with fed.client(POLRI) as client:
        env = client.build(SCREEN, name_query("Budi Santoso"),
                           purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    # Hold the SQLite writers' lock, so the request record waits in the writer.
    fd = os.open(f"{audit_db}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        waiting = _flock_waiters(fd)
        cert = pki.load_identity(fed.pki_dir, POLRI).tls_cert_pem  # what mTLS would hand over
        call = asyncio.ensure_future(pipeline.handle_call(env.SerializeToString(), POLRI, broker,
                                                          peer_cert=cert))
        deadline = time.monotonic() + 10.0
        while _flock_waiters(fd) == waiting:  # the writer now blocks on our lock
            assert time.monotonic() < deadline, "the request record never reached the writer"
            await asyncio.sleep(0.01)  # polling observable state with a deadline
        call.cancel()  # the caller hangs up while its record is being committed
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    with pytest.raises(asyncio.CancelledError):
        await call
    records = await fed.records_for(envelope.parse_header(env).message_id)
    assert [(r["kind"], r["status_code"], r["reason"]) for r in records] == [
        ("request", "", ""), ("outcome", "CANCELLED", "CALL_CANCELLED")]
