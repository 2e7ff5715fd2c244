"""Response field masks: which fields of a response a consumer may receive.

A mask is a set of dot-separated paths; a path allows that field and its
whole subtree, and a path through a repeated message field applies to every
element. Providers `apply` the attested mask; the broker `violations` checks
that nothing outside it came back. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf import message as pb_message
from google.protobuf.descriptor import Descriptor, FieldDescriptor


@dataclass(frozen=True)
class MaskTree:
    """A compiled mask: `whole` means everything below is allowed."""

    whole: bool = False
    children: dict[str, MaskTree] = field(default_factory=dict)

    @classmethod
    def compile(cls, paths: Iterable[str]) -> MaskTree:
        root: dict[str, object] = {}
        for path in paths:
            node = root
            parts = path.split(".")
            for i, part in enumerate(parts):
                existing = node.get(part)
                if existing is True:
                    break
                if i == len(parts) - 1:
                    node[part] = True
                else:
                    child = existing if isinstance(existing, dict) else {}
                    node[part] = child
                    node = child
        return _freeze(root)


@functools.lru_cache(maxsize=4096)
def compiled(paths: tuple[str, ...]) -> MaskTree:
    """`MaskTree.compile`, memoised: masks come from a few rules, so compile each once."""
    return MaskTree.compile(paths)


def _freeze(tree: dict[str, object]) -> MaskTree:
    return MaskTree(children={
        name: MaskTree(whole=True) if sub is True else _freeze(sub)  # type: ignore[arg-type]
        for name, sub in tree.items()})


def top_level_paths(descriptor: Descriptor) -> tuple[str, ...]:
    """The mask that allows every field of `descriptor`."""
    return tuple(f.name for f in descriptor.fields)


def unknown_paths(descriptor: Descriptor, paths: Iterable[str]) -> list[str]:
    """Paths that do not name a field of `descriptor` (for policy validation)."""
    bad = []
    for path in paths:
        current: Descriptor | None = descriptor
        for part in path.split("."):
            fd = current.fields_by_name.get(part) if current is not None else None
            if fd is None:
                bad.append(path)
                break
            current = fd.message_type if fd.type == FieldDescriptor.TYPE_MESSAGE else None
    return bad


def submessage_type(fd: FieldDescriptor) -> Descriptor | None:
    """The message type of a (possibly repeated) message field; None for scalars and maps."""
    if fd.type != FieldDescriptor.TYPE_MESSAGE or fd.message_type is None:
        return None
    return None if fd.message_type.GetOptions().map_entry else fd.message_type


def _messages(fd: FieldDescriptor, value: object) -> Iterable[pb_message.Message]:
    if fd.is_repeated:
        return value  # type: ignore[return-value]
    return (value,)  # type: ignore[return-value]


def apply(msg: pb_message.Message, mask: MaskTree) -> None:
    """Clear, in place, every field of `msg` outside `mask`."""
    if mask.whole:
        return
    for fd, value in msg.ListFields():
        sub = mask.children.get(fd.name)
        if sub is None:
            msg.ClearField(fd.name)
        elif not sub.whole:
            if submessage_type(fd) is None:
                msg.ClearField(fd.name)
                continue
            for item in _messages(fd, value):
                apply(item, sub)


def violations(msg: pb_message.Message, mask: MaskTree, prefix: str = "") -> list[str]:
    """Paths of set fields in `msg` that `mask` does not allow."""
    if mask.whole:
        return []
    found: list[str] = []
    for fd, value in msg.ListFields():
        path = f"{prefix}{fd.name}"
        sub = mask.children.get(fd.name)
        if sub is None:
            found.append(path)
        elif not sub.whole:
            if submessage_type(fd) is None:
                found.append(path)
                continue
            for item in _messages(fd, value):
                found.extend(violations(item, sub, path + "."))
    return found


def field_value(msg: pb_message.Message | None, path: str) -> str | None:
    """The value at a dotted path as text; None when unset (proto3 default) or absent."""
    current: object = msg
    for part in path.split("."):
        if not isinstance(current, pb_message.Message):
            return None
        fd = current.DESCRIPTOR.fields_by_name.get(part)
        if fd is None or fd.is_repeated:
            return None
        if fd.type == FieldDescriptor.TYPE_MESSAGE and not current.HasField(part):
            return None
        value = getattr(current, part)
        if fd.type == FieldDescriptor.TYPE_ENUM:
            assert fd.enum_type is not None
            value = fd.enum_type.values_by_number[value].name if value else None
        current = value
    if current is None or isinstance(current, pb_message.Message):
        return None
    text = str(current).lower() if isinstance(current, bool) else str(current)
    return text or None
