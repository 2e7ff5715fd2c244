"""Config errors name file, line, column and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk import yamlsrc
from g2g_sdk.errors import ConfigError


def parse(text: str) -> yamlsrc.Node:
    node = yamlsrc.parse(text, "x.yaml")
    assert node is not None
    return node


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        yamlsrc.parse("a: 1\nb: [1, 2\n", "x.yaml")
    assert info.value.file == "x.yaml"
    assert info.value.line == 3
    assert str(info.value).startswith("x.yaml:3:1: YAML syntax error")


def test_unknown_duplicate_and_missing_fields() -> None:
    with pytest.raises(ConfigError) as info:
        parse("a: 1\nzz: 2\n").mapping(allowed={"a"})
    assert (info.value.line, info.value.field) == (2, "zz")
    with pytest.raises(ConfigError) as info:
        parse("a: 1\na: 2\n").mapping()
    assert (info.value.line, str(info.value)) == (2, "x.yaml:2:1: a: duplicate key 'a'")
    with pytest.raises(ConfigError) as info:
        parse("a: 1\n").mapping(required={"a", "b"})
    assert info.value.field == "b"


def test_typed_accessors_name_the_path() -> None:
    root = parse("limits:\n  max: ten\nitems:\n  - 1\n  - true\n").mapping()
    with pytest.raises(ConfigError) as info:
        root["limits"].mapping()["max"].int()
    assert (info.value.line, info.value.column, info.value.field) == (2, 8, "limits.max")
    items = list(root["items"].items())
    assert items[0].int() == 1
    with pytest.raises(ConfigError) as info:
        items[1].int()
    assert info.value.field == "items[1]"


def test_empty_document_and_size_limit(tmp_path: Path) -> None:
    assert yamlsrc.parse("", "x.yaml") is None
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000)
    with pytest.raises(ConfigError) as info:
        yamlsrc.load(big, max_bytes=1000)
    assert "over the 1000-byte limit" in str(info.value)
