"""Typed access to YAML documents that keeps file, line and column for errors.

Config loaders (registry, broker config, policies) walk `Node`s instead of
plain dicts so that every error names the file, line, column and field.
Only the safe YAML subset is read: no tags that build objects, and no anchors
or aliases (a reused node is how "billion laughs" bombs blow up a loader).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from g2g_sdk.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a config larger than this is a mistake, not a config
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG = frozenset({"tag:yaml.org,2002:map"})
_SEQ_TAG = frozenset({"tag:yaml.org,2002:seq"})
# libyaml (bundled in PyYAML's wheels) composes ~10x faster and keeps line/column marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Node:
    """A YAML node with its location and a dotted path used in error messages."""

    __slots__ = ("_node", "file", "path")

    def __init__(self, node: yaml.Node, file: str, path: str = "") -> None:
        self._node = node
        self.file = file
        self.path = path

    @property
    def line(self) -> int:
        return int(self._node.start_mark.line) + 1

    @property
    def column(self) -> int:
        return int(self._node.start_mark.column) + 1

    def error(self, message: str, field: str | None = None) -> ConfigError:
        """A ConfigError located at this node."""
        return ConfigError(message, file=self.file, line=self.line, column=self.column,
                           field=field if field is not None else self.path)

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: set[str] | None = None,
                required: set[str] | None = None) -> dict[str, Node]:
        """The node as a mapping; rejects duplicate, unknown and missing keys."""
        if not isinstance(self._node, yaml.MappingNode):
            raise self.error(f"expected a mapping, got {_kind(self._node)}")
        self._plain_tag(_MAP_TAG)
        out: dict[str, Node] = {}
        for key_node, value_node in self._node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                raise Node(key_node, self.file, self.path).error("mapping keys must be strings")
            child = Node(value_node, self.file, self._child_path(key))
            if key in out:
                raise Node(key_node, self.file, child.path).error(f"duplicate key {key!r}")
            if allowed is not None and key not in allowed:
                raise Node(key_node, self.file, child.path).error(
                    f"unknown field {key!r} (expected one of: {', '.join(sorted(allowed))})")
            out[key] = child
        for key in sorted((required or set()) - out.keys()):
            raise self.error(f"missing required field {key!r}", field=self._child_path(key))
        return out

    def items(self) -> Iterator[Node]:
        """The node as a sequence of child nodes."""
        if not isinstance(self._node, yaml.SequenceNode):
            raise self.error(f"expected a list, got {_kind(self._node)}")
        self._plain_tag(_SEQ_TAG)
        for i, child in enumerate(self._node.value):
            yield Node(child, self.file, self._child_path(i))

    def scalar(self) -> Any:
        if not isinstance(self._node, yaml.ScalarNode):
            raise self.error(f"expected a value, got {_kind(self._node)}")
        self._plain_tag(_SCALAR_TAGS)
        return yaml.constructor.SafeConstructor().construct_object(self._node)

    def _plain_tag(self, allowed: frozenset[builtins.str]) -> None:
        if self._node.tag not in allowed:
            raise self.error(f"YAML tag {self._node.tag!r} is not allowed")

    def plain(self) -> Any:
        """The node as plain data (dicts, lists, scalars); parse() refused any aliases."""
        if isinstance(self._node, yaml.MappingNode):
            return {Node(k, self.file).str(): Node(v, self.file, self._child_path(str(k.value)))
                    .plain() for k, v in self._node.value}
        if isinstance(self._node, yaml.SequenceNode):
            return [child.plain() for child in self.items()]
        return self.scalar()

    def str(self, *, allow_empty: builtins.bool = False) -> builtins.str:
        value = self.scalar()
        if isinstance(value, bool):
            # YAML 1.1 reads yes/no/on/off as booleans; say so rather than puzzle the reader.
            raise self.error(f"expected a string, got {self._node.value!r}, which YAML reads "
                             f"as {str(value).lower()}; put it in quotes")
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {type(value).__name__} {value!r}")
        if not allow_empty and not value.strip():
            raise self.error("must not be empty")
        return value

    def int(self, *, minimum: builtins.int | None = None) -> builtins.int:
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {type(value).__name__} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}")
        return value

    def float(self) -> builtins.float:
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"expected a number, got {type(value).__name__} {value!r}")
        return float(value)

    def bool(self) -> builtins.bool:
        value = self.scalar()
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}")
        return value

    def str_list(self) -> tuple[builtins.str, ...]:
        """A list of non-empty strings; a single string is accepted as a one-item list."""
        if isinstance(self._node, yaml.ScalarNode):
            return (self.str(),)
        return tuple(item.str() for item in self.items())

    @property
    def is_scalar(self) -> builtins.bool:
        return isinstance(self._node, yaml.ScalarNode)

    @property
    def is_null(self) -> builtins.bool:
        return isinstance(self._node, yaml.ScalarNode) and self._node.tag.endswith(":null")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"


def parse(text: str, file: str) -> Node | None:
    """Parse one YAML document; None for an empty document."""
    try:
        if "&" in text or "*" in text:  # cheap pre-check; the event scan finds real ones
            _refuse_aliases(text, file)
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        context = exc.context_mark
        where = (f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
                 if exc.context and context else "")
        raise ConfigError(f"YAML syntax error: {exc.problem}{where}", file=file,
                          line=mark.line + 1 if mark else None,
                          column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", file=file) from None
    return None if root is None else Node(root, file)


def _refuse_aliases(text: str, file: str) -> None:
    for event in yaml.parse(text, Loader=_LOADER):
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            mark = event.start_mark
            raise ConfigError(f"YAML anchors and aliases are not allowed (found "
                              f"{'*' if isinstance(event, yaml.AliasEvent) else '&'}{anchor})",
                              file=file, line=mark.line + 1 if mark else None,
                              column=mark.column + 1 if mark else None)


def decode(data: bytes, file: str) -> str:
    """UTF-8 text of a config file; the error names the line and column of a bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason})",
                          file=file, line=line, column=column) from None


def read_bytes(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> bytes:
    """A config file's bytes, refused unread if it is over `max_bytes`."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(max_bytes + 1) if size <= max_bytes else b""
            if size > max_bytes or len(data) > max_bytes:  # also if it grew since fstat
                raise ConfigError(f"file is {max(size, len(data))} bytes, over the "
                                  f"{max_bytes}-byte limit (not parsed)", file=str(path))
            return data
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None


def load(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> Node | None:
    """Read and parse a YAML file, refusing files over `max_bytes`."""
    return parse(decode(read_bytes(path, max_bytes=max_bytes), str(path)), str(path))
