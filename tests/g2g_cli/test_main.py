"""The `g2g` entry point: how it ends when its reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from g2g_cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_code() -> None:
    # `g2g policy check | head -0`: the reader is gone before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "g2g_cli.main", "policy", "check",
             str(ROOT / "config" / "policies")],
            stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, check=False, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == b""
    assert done.returncode == 141


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "1e9"])
def test_adapter_serve_refuses_a_polling_interval_that_would_spin_or_never_poll(
        interval: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["adapter", "serve", "interpol", "--reload-interval", interval])
    assert info.value.code == 2
    assert ("argument --reload-interval: must be between 0.05 and 3600 seconds"
            in capsys.readouterr().err)
