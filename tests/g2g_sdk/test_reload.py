"""The generic hot reloader: change detection, atomic swap, refusals keep the old value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog
from g2g_sdk import yamlsrc
from g2g_sdk.errors import ConfigError
from g2g_sdk.registry import files_version
from g2g_sdk.reload import Reloader, changed


@dataclass(frozen=True)
class Numbers:
    files: Mapping[str, bytes | None]
    values: tuple[int, ...]

    @property
    def version(self) -> str:
        return files_version(self.files)


def load_numbers(path: Path) -> Numbers:
    data = yamlsrc.read_bytes(path)
    root = yamlsrc.parse(yamlsrc.decode(data, str(path)), str(path))
    if root is None:
        raise ConfigError("empty", file=str(path))
    return Numbers({str(path): data}, tuple(item.int() for item in root.items()))


def test_changed_sees_new_bytes_and_vanished_or_new_files(tmp_path: Path) -> None:
    path = tmp_path / "a"
    path.write_bytes(b"1")
    assert not changed({str(path): b"1"})
    assert changed({str(path): b"2"})
    assert changed({str(tmp_path / "absent"): b"1"})
    assert not changed({str(tmp_path / "absent"): None})
    assert changed({str(path): None})  # a file that appeared


async def test_refusals_keep_the_old_value_and_are_logged_once(tmp_path: Path) -> None:
    path = tmp_path / "numbers.yaml"
    path.write_text("[1, 2]\n")
    refused: list[Numbers] = []

    def accept(_old: Numbers | None, value: Numbers) -> None:
        if 13 in value.values:
            refused.append(value)
            raise ConfigError("13 is not allowed", file=str(path), line=1, field="[0]")

    reloader = Reloader("numbers", lambda: load_numbers(path), accept=accept)
    first = reloader.current
    assert first.values == (1, 2)
    assert await reloader.reload() is False  # nothing changed
    with structlog.testing.capture_logs() as logs:
        path.write_text("[1, x]\n")
        assert await reloader.reload() is False
        assert await reloader.reload() is False  # the same error is logged once
        assert reloader.last_error == f"{path}:1:5: [1]: expected an integer, got str 'x'"
        path.write_text("[13]\n")
        assert await reloader.reload() is False
        assert reloader.last_error == f"{path}:1: [0]: 13 is not allowed"
        path.write_text("[1, ")  # half-written
        assert await reloader.reload() is False
        assert reloader.last_error is not None
        assert "YAML syntax error" in reloader.last_error
        path.unlink()
        assert await reloader.reload() is False
        assert reloader.last_error == f"{path}: cannot read: No such file or directory"
        assert reloader.current is first
        path.write_text("[3]\n")
        assert await reloader.reload() is True
    assert reloader.current.values == (3,)
    assert reloader.last_error is None
    assert [e["event"] for e in logs] == ["numbers_reload_rejected"] * 4 + ["numbers_reloaded"]
    assert {e.get("keeping_version") for e in logs[:4]} == {first.version}
    assert len(refused) == 1


async def test_request_reload_wakes_the_watcher(tmp_path: Path) -> None:
    path = tmp_path / "numbers.yaml"
    path.write_text("[1]\n")
    reloader = Reloader("numbers", lambda: load_numbers(path), interval=3600)
    reloader.start()
    try:
        first = reloader.current.version
        path.write_text("[2]\n")
        reloader.request_reload()  # SIGHUP: no need to wait for the (hour-long) poll
        assert (await reloader.wait_for(first, timeout=10)).values == (2,)
    finally:
        await reloader.stop()
