"""Several OS processes appending to one store at once (the broker's `--workers N`).

The sequence must stay dense, the tree unforked, and checkpoints, signed by
whichever process holds the write lock, must all be consistent with one log.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from multiprocessing.synchronize import Barrier
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.audit import AuditConfig, merkle, open_store
from broker.audit import checkpoint as cpmod
from broker.audit.verify import verify_log
from tests.broker.audit.test_store import Db, event

PROCESSES = 3
WAVES = 8
PER_WAVE = 12


async def _append_waves(config: AuditConfig, key: Ed25519PrivateKey, worker: int,
                        waves: Barrier) -> list[int]:
    store = await open_store(config, log_key=key, instance_id=f"worker-{worker}")
    try:
        seqs: list[int] = []
        for wave in range(WAVES):
            # Every process starts each wave together, so their transactions contend
            # (SQLite's busy wait is unfair: unsynchronised, one process can take them all).
            await asyncio.to_thread(waves.wait, 60)
            receipts = await asyncio.gather(*(
                store.append(event(i, message_id=f"w{worker}-{wave}-{i}"))
                for i in range(PER_WAVE)))
            seqs += [r.seq for r in receipts]
        return seqs
    finally:
        await store.close()


def _worker(config: AuditConfig, key_bytes: bytes, worker: int, waves: Barrier,
            out: Any) -> None:
    key = Ed25519PrivateKey.from_private_bytes(key_bytes)
    try:
        out.put((worker, asyncio.run(_append_waves(config, key, worker, waves))))
    except BaseException as exc:  # report it to the test instead of hanging it
        waves.abort()
        out.put((worker, f"{type(exc).__name__}: {exc}"))


async def test_processes_appending_at_once_keep_one_dense_unforked_log(
        audit_config: AuditConfig, log_key: Ed25519PrivateKey) -> None:
    Db(audit_config)  # create the schema before the race, as a running broker would have
    key_bytes = log_key.private_bytes(serialization.Encoding.Raw,
                                      serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())
    ctx = multiprocessing.get_context("spawn")
    waves, out = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(audit_config, key_bytes, w, waves, out))
             for w in range(PROCESSES)]
    for p in procs:
        p.start()
    results = dict(await asyncio.to_thread(lambda: [out.get(timeout=120)
                                                    for _ in procs]))
    for p in procs:
        await asyncio.to_thread(p.join, 30)
    failed = {w: r for w, r in results.items() if isinstance(r, str)}
    assert not failed, failed

    total = PROCESSES * WAVES * PER_WAVE
    seqs = sorted(s for worker_seqs in results.values() for s in worker_seqs)
    assert seqs == list(range(total))  # dense, and no number handed out twice
    interleaved = {w: (min(s), max(s)) for w, s in results.items()}
    assert any(lo < interleaved[o][1] and interleaved[o][0] < hi
               for w, (lo, hi) in interleaved.items() for o in interleaved if o != w), \
        f"the processes never overlapped, the test proved nothing: {interleaved}"

    reader = Db(audit_config).reader()
    report = verify_log(reader, audit_config.origin, log_key.public_key())
    assert report.ok, report.problems
    assert (report.size, report.unsigned_tail) == (total, 0)
    checkpoints = reader.checkpoints()
    assert checkpoints[-1][0] == total
    for (old, old_root, _), (new, new_root, note) in itertools.pairwise(checkpoints):
        assert cpmod.verify(note, audit_config.origin, log_key.public_key()).size == new
        assert merkle.verify_consistency(old, new, old_root, new_root,
                                         reader.consistency_proof(old, new))
