"""The `g2g` entry point: how it ends when its reader goes away."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from g2g_cli.main import build_parser, main

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


def test_version_names_both_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("g2g 0.2.0 (g2g-sdk 0.2.0, Python 3.")


def _options(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((f"{path} {'/'.join(action.option_strings) or action.dest}", action))
    return found


def test_every_option_and_argument_explains_itself() -> None:
    options = _options(build_parser(), "g2g")
    assert len(options) > 100
    missing = [name for name, action in options
               if action.help != argparse.SUPPRESS and not (action.help or "").strip()]
    assert missing == []
