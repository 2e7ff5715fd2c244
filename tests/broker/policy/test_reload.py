"""The policy watcher: a set whose sources cannot be stored never decides."""

from __future__ import annotations

import shutil
from pathlib import Path

from g2g_sdk.catalog import Catalog
from g2g_sdk.registry import Registry
from structlog.testing import capture_logs

from broker.policy import PolicySet
from broker.policy.reload import PolicyWatcher

REPO = Path(__file__).parents[3]


async def test_a_set_whose_sources_cannot_be_stored_is_not_swapped_in(
        tmp_path: Path, registry: Registry) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "config" / "policies", policies)
    stored: list[str] = []

    def record(policy: PolicySet) -> None:
        # What the broker passes: keep the sources beside the log. The second
        # store fails, as when the audit database is unreachable.
        if stored:
            raise OSError("database is unreachable")
        stored.append(policy.version)

    watcher = PolicyWatcher(policies, registry, Catalog.from_registry(registry),
                            on_loaded=record)
    first = watcher.current.version
    (policies / "groups.yaml").write_text(
        (policies / "groups.yaml").read_text() + "# an edit\n")
    with capture_logs() as logs:
        assert await watcher.reload() is False
        assert await watcher.reload() is False  # still watching, still refusing
    assert (watcher.current.version, stored) == (first, [first])
    failed = [e for e in logs if e["event"] == "policy_reload_failed"]
    assert [(e["error_type"], e["keeping_version"]) for e in failed] == [
        ("OSError", first), ("OSError", first)]
    assert "unreachable" not in str(failed)  # the text is never logged
