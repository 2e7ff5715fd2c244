"""Provider failover: one of two endpoints of a provider dies under load; the broker
routes around it, and no exchange fails after the first failure is seen."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
import yaml
from g2g_sdk.errors import G2GError
from g2g_sdk.registry import load_registry

from agency_adapters.runner import start_adapter
from g2g_harness.federation import REGISTRY, start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, name_query

pytestmark = pytest.mark.asyncio
IMIGRASI = "ID/GOV/IMIGRASI"
AFTER = 40  # exchanges that must succeed after the kill


async def test_killing_one_of_two_endpoints_fails_nothing_after_the_first_detection(
        tmp_path: Path, pki_dir: Path) -> None:
    registry = load_registry(REGISTRY, pki_dir)
    first = await start_adapter("immigration", registry, pki_dir, listen="127.0.0.1:0")
    second = await start_adapter("immigration", registry, pki_dir, listen="127.0.0.1:0")
    doomed, doomed_port = first[IMIGRASI]
    survivor, survivor_port = second[IMIGRASI]
    document = yaml.safe_load(REGISTRY.read_text())
    for agency in document["agencies"]:
        if agency["id"] == IMIGRASI:
            agency.pop("endpoint", None)
            agency["endpoints"] = [f"127.0.0.1:{doomed_port}", f"127.0.0.1:{survivor_port}"]
    listed = tmp_path / "agencies.yaml"
    listed.write_text(yaml.safe_dump(document, sort_keys=False))
    fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, adapters=(), config_path=(
        write_config(tmp_path, pki_dir=pki_dir, registry=listed))))
    outcomes: list[tuple[float, float, str]] = []  # (started, ended, "OK" or reason)
    killed_at: float | None = None
    succeeded_after_kill = 0

    async def load(client_slot: int) -> None:
        nonlocal succeeded_after_kill
        async with fed.client(POLRI) as client:
            while succeeded_after_kill < AFTER:
                started = time.monotonic()
                try:
                    await client.call(SCREEN, name_query("Budi Santoso"),
                                      purpose="criminal_investigation",
                                      legal_basis=LEGAL_BASIS)
                    result = "OK"
                except G2GError as exc:
                    result = exc.reason
                outcomes.append((started, time.monotonic(), result))
                if killed_at is not None and started > killed_at and result == "OK":
                    succeeded_after_kill += 1

    try:
        loaders = [asyncio.ensure_future(load(i)) for i in range(3)]
        while len(outcomes) < 20:  # the first endpoint serves until the kill
            await asyncio.wait(loaders, timeout=0.05)
            assert not any(t.done() for t in loaders)
        killed_at = time.monotonic()
        await doomed.stop(0)
        await asyncio.wait_for(asyncio.gather(*loaders), 60)
    finally:
        await fed.federation.stop()
        await survivor.stop(0)
    failures = [o for o in outcomes if o[2] != "OK"]
    first_seen = min((ended for _, ended, _ in failures), default=killed_at)
    late = [o for o in failures if o[0] >= first_seen]
    assert not late, late
    # Only calls in flight on the killed endpoint when it died may fail (with whatever
    # the cut connection produced); they were never sent on to the other endpoint.
    assert len(failures) <= 3, failures
    assert succeeded_after_kill >= AFTER


@pytest.mark.parametrize("idempotent", [False, True])
async def test_a_call_that_may_have_reached_a_provider_is_repeated_only_if_idempotent(
        tmp_path: Path, pki_dir: Path, idempotent: bool) -> None:
    from g2g_sdk import pki, tls

    from tests.e2e.conftest import expect_error

    reached = 0

    async def drop(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        nonlocal reached
        reached += 1  # it got the request; the answer is lost in the transport
        await context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        raise AssertionError("unreachable")

    lossy = grpc.aio.server()
    lossy.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "g2g.v1.Provider", {"Handle": grpc.unary_unary_rpc_method_handler(drop)}),))
    lossy_port = lossy.add_secure_port("127.0.0.1:0", tls.server_credentials(
        pki.load_identity(pki_dir, IMIGRASI)))
    await lossy.start()
    registry = load_registry(REGISTRY, pki_dir)
    good = await start_adapter("immigration", registry, pki_dir, listen="127.0.0.1:0")
    server, good_port = good[IMIGRASI]
    document = yaml.safe_load(REGISTRY.read_text())
    for agency in document["agencies"]:
        if agency["id"] == IMIGRASI:
            agency.pop("endpoint", None)
            agency["endpoints"] = [f"127.0.0.1:{lossy_port}", f"127.0.0.1:{good_port}"]
            agency["services"] = [{**s, "idempotent": idempotent} if isinstance(s, dict)
                                  and s["name"] == SCREEN else s for s in agency["services"]]
    listed = tmp_path / "agencies.yaml"
    listed.write_text(yaml.safe_dump(document, sort_keys=False))
    fed = Fed(await start_federation(tmp_path, pki_dir=pki_dir, adapters=(), config_path=(
        write_config(tmp_path, pki_dir=pki_dir, registry=listed))))
    try:
        async with fed.client(POLRI) as client:
            async def screen() -> object:
                return await client.call(SCREEN, name_query("Budi Santoso"),
                                         purpose="criminal_investigation",
                                         legal_basis=LEGAL_BASIS)
            # The lossy endpoint accepts the connection and the request, then fails in
            # the transport: the request reached a provider, so only an idempotent
            # service is asked again, of the next endpoint.
            for attempt in (1, 2):
                if idempotent:
                    await screen()
                else:
                    await expect_error(screen(), grpc.StatusCode.UNAVAILABLE,
                                       "PROVIDER_UNAVAILABLE")
                assert reached == attempt
    finally:
        await fed.federation.stop()
        await server.stop(0)
        await lossy.stop(0)
