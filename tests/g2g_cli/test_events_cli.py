"""`g2g publish`, `g2g subscribe --as`, `g2g audit query --notifications`, `g2g events tail`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from g2g_cli.main import main
from g2g_harness.federation import REGISTRY
from tests.e2e.events_fixtures import IMIGRASI, NL_EMBASSY, EventsFed, events_fed
from tests.jetstream import StreamNames, unique_stream

DETENTION = json.dumps({"notification_id": "NTF-CLI-1", "type": "NOTIFICATION_TYPE_DETENTION",
                        "full_name": "Jan de Vries", "date_of_birth": "1980-02-03",
                        "nationality": "NLD", "passport_number": "NX1234567",
                        "grounds": "overstay"})


@pytest.fixture
async def efed(tmp_path: Path, pki_dir: Path) -> AsyncIterator[EventsFed]:
    names: StreamNames
    async for names in unique_stream():
        async for fed in events_fed(tmp_path, pki_dir, names):
            yield fed


async def g2g(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


def world(fed: EventsFed) -> list[str]:
    return ["--registry", str(REGISTRY), "--pki-dir", str(fed.federation.pki_dir),
            "--broker", fed.federation.address]


async def test_publish_subscribe_and_the_notification_trail(
        efed: EventsFed, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await g2g(capsys, "publish", "--as", IMIGRASI, "--type",
                          "g2g.consular.v1.DetentionNotification", "--json", DETENTION,
                          "--purpose", "consular_notification", "--legal-basis", "VCCR Art. 36",
                          *world(efed))
    assert code == 0, out
    published = json.loads(out)
    assert (published["recipients"], published["duplicate"]) == ([NL_EMBASSY], False)
    code, out = await g2g(capsys, "subscribe", "--as", NL_EMBASSY, "--count", "1", *world(efed))
    assert code == 0, out
    got = json.loads(out)
    assert (got["event_id"], got["verified"], got["rule_id"]) == (
        published["event_id"], True, "events-detention-nl")
    assert "grounds" not in got["payload"]
    assert got["payload"]["nationality"] == "NLD"
    config = efed.federation.config.source
    code, out = await g2g(capsys, "audit", "--config", config, "query", "--notifications",
                          "--message-id", published["event_id"], "--format", "jsonl")
    assert code == 0, out
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["subscriber"], row["state"], row["delivered"].endswith("(1)")) == (
        NL_EMBASSY, "ACKNOWLEDGED", True)
    code, out = await g2g(capsys, "audit", "--config", config, "query", "--notifications",
                          "--unacknowledged", "--ack-deadline", "1h")
    assert (code, out.splitlines()[-1]) == (0, "(0 notification(s))")
    code, out = await g2g(capsys, "events", "--config", config, "tail", "-n", "3")
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()[1:]] == [
        "subscribe", "delivered", "receipt"]


async def test_subscribe_without_a_rule_fails_with_the_reason(
        efed: EventsFed, capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(main, ["subscribe", "--as", "MY/GOV/EMBASSY-JAKARTA",
                                          "--count", "1", *world(efed)])
    assert code == 1
    assert "PERMISSION_DENIED POLICY_DENIED" in capsys.readouterr().err

