"""The benchmark harness runs end to end (smoke only: never asserts a speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_quick_benchmark_completes_with_sane_figures(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads((tmp_path / "quick.json").read_text())
    rows = document["rows"]
    paths = [row["path"] for row in rows]
    # Both baselines in the same run, then the broker rows, at the two quick levels.
    assert paths[:4] == ["baseline: plaintext 2-hop"] * 2 + ["baseline: mTLS 2-hop"] * 2
    assert set(paths[4:]) == {"broker: screen, sqlite", "broker: docs, sqlite",
                                      "broker: screen, sqlite, 2 workers",
                                      "broker: docs, sqlite, 2 workers"}
    mtls = {row["concurrency"]: row for row in rows if row["path"] == "baseline: mTLS 2-hop"}
    for row in rows:
        assert row["errors"] == 0
        assert row["rps"] > 0
        assert row["p50_ms"] > 0
        assert row["p999_ms"] is None  # 20 or 40 samples: no 99.9th percentile
        broker = row["path"].startswith("broker:")
        # Client signing and verification are timed apart, for broker rows only.
        assert (row["sign_ms"] is not None and row["sign_ms"] > 0) is broker
        assert (row["verify_ms"] is not None and row["verify_ms"] > 0) is broker
        if broker:
            base = mtls[row["concurrency"]]
            assert row["ratio"] == round(row["rps"] / base["rps"], 3)
            if base["cpu_ms_per_req"]:  # 20 calls can take less than one 10 ms CPU tick
                assert row["cpu_vs_mtls"] == round(
                    row["cpu_ms_per_req"] / base["cpu_ms_per_req"], 3)
    # The events row and its raw JetStream baseline, measured in the same run.
    assert [row["path"].split(":")[0] for row in document["events"]] == ["baseline", "g2g events"]
    for row in document["events"]:
        assert (row["subscribers"], row["errors"]) == (10, 0)
        assert row["events_per_s"] > 0
    assert document["machine"]["cores"] >= 1
    assert "load_average_1_5_15" in document["machine"]
