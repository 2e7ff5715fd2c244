"""The `g2g` entry point: how it ends when its reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_code() -> None:
    # `g2g policy check | head -0`: the reader is gone before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "broker.cli.main", "policy", "check",
             str(ROOT / "config" / "policies")],
            stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, check=False, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == b""
    assert done.returncode == 141
