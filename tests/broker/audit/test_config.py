"""The broker config's `audit:` section: SQLite durability setting and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk import yamlsrc
from g2g_sdk.errors import ConfigError

from broker.audit.config import parse_audit_config
from broker.audit.dialect import dialect_for


def _section(tmp_path: Path, text: str) -> yamlsrc.Node:
    path = tmp_path / "broker.yaml"
    path.write_text("audit:\n" + text)
    root = yamlsrc.load(path)
    assert root is not None
    return root.mapping()["audit"]


@pytest.mark.parametrize(("written", "pragma"), [("", 2), ("  synchronous: full\n", 2),
                                                 ("  synchronous: normal\n", 1)])
def test_sqlite_synchronous_defaults_to_full(tmp_path: Path, written: str, pragma: int) -> None:
    config = parse_audit_config(_section(tmp_path, "  backend: sqlite\n" + written), tmp_path)
    conn = dialect_for(config).connect()
    try:
        assert conn.execute("PRAGMA synchronous").fetchone() == (pragma,)
    finally:
        conn.close()


@pytest.mark.parametrize(("text", "message"), [
    ("  backend: sqlite\n  synchronous: extra\n", "synchronous is 'full' or 'normal'"),
    ("  backend: postgres\n  dsn: postgresql://x\n  synchronous: normal\n",
     "synchronous is an SQLite setting; PostgreSQL commits follow the server's"),
])
def test_bad_synchronous_names_file_line_and_field(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_audit_config(_section(tmp_path, text), tmp_path)
    line = text.count("\n")  # the synchronous line is the last one, after "audit:"
    assert info.value.diagnostics() == (
        f"CONFIG_INVALID: {tmp_path / 'broker.yaml'}:{line + 1}:16: audit.synchronous: {message}")


@pytest.mark.parametrize(("written", "delay"), [("", 2.0), ("  commit_delay_ms: 0\n", 0.0),
                                                ("  commit_delay_ms: 7.5\n", 7.5)])
def test_commit_delay_defaults_to_2_ms(tmp_path: Path, written: str, delay: float) -> None:
    config = parse_audit_config(_section(tmp_path, "  backend: sqlite\n" + written), tmp_path)
    assert config.commit_delay_ms == delay


@pytest.mark.parametrize("value", ["-1", "51", "soon"])
def test_a_commit_delay_out_of_bounds_names_file_line_and_field(tmp_path: Path,
                                                                value: str) -> None:
    text = f"  backend: sqlite\n  commit_delay_ms: {value}\n"
    with pytest.raises(ConfigError) as info:
        parse_audit_config(_section(tmp_path, text), tmp_path)
    where = f"{tmp_path / 'broker.yaml'}:3:20: audit.commit_delay_ms"
    assert info.value.diagnostics().startswith(f"CONFIG_INVALID: {where}: ")
    if value != "soon":
        assert info.value.diagnostics().endswith("commit_delay_ms is between 0 and 50")
