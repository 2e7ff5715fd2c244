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
    assert "baseline: raw 2-hop gRPC" in proc.stdout
    document = json.loads((tmp_path / "quick.json").read_text())
    paths = {row["path"] for row in document["rows"]}
    assert any(p.startswith("broker:") for p in paths)
    for row in document["rows"]:
        assert row["rps"] > 0
        assert row["p50_ms"] > 0
        assert row["errors"] == 0
