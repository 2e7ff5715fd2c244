"""Strict payload decoding and declared-constraint validation.

A payload must decode as exactly the declared message type, with no unknown
fields anywhere, and pass the protovalidate constraints declared in proto/.
Errors name the field path, never the field's value.
"""

from __future__ import annotations

import functools
from typing import Any

import protovalidate
from google.protobuf import message as pb_message
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from g2g_sdk.errors import SchemaError
from g2g_sdk.fieldmask import field_value, submessage_type

_validator = protovalidate.Validator()


def reject_unknown_fields(msg: pb_message.Message, path: str = "") -> None:
    """Raise SchemaError if `msg` or any nested message carries unknown fields."""
    # Every envelope, header, attestation and payload passes here, and almost none
    # carries unknown fields: a walk that only answers yes or no (no field paths, the
    # field names read once per type) decides; the walk that names the first one
    # below, in the same order, runs only to build the refusal.
    if _clean(msg):
        return
    _reject(msg, path)


def _clean(msg: pb_message.Message) -> bool:
    """Whether `msg` and every message in it carry no unknown field."""
    if len(UnknownFieldSet(msg)):
        return False
    walk = _walk(msg.DESCRIPTOR)
    if walk is None:
        return False  # extension ranges: the full walk decides
    for name, repeated in walk:
        if repeated:
            for item in getattr(msg, name):
                if not _clean(item):
                    return False
        elif msg.HasField(name) and not _clean(getattr(msg, name)):
            return False
    return True


@functools.cache
def _walk(descriptor: Descriptor) -> tuple[tuple[str, bool], ...] | None:
    """(name, repeated) of each field `_clean` descends into; None as `_message_fields`."""
    fields = _message_fields(descriptor)
    return None if fields is None else tuple((f.name, f.is_repeated) for f in fields)


def _reject(msg: pb_message.Message, path: str) -> None:
    unknown = UnknownFieldSet(msg)
    if len(unknown):
        numbers = sorted({unknown[i].field_number for i in range(len(unknown))})
        where = path or msg.DESCRIPTOR.full_name
        # The numbers go in metadata (bounded by g2g_sdk.status), not in the message.
        raise SchemaError(f"{len(numbers)} unknown field number(s) in {where}",
                          reason="UNKNOWN_FIELDS",
                          metadata={"field": path or ".", "numbers": ",".join(map(str, numbers))})
    fields = _message_fields(msg.DESCRIPTOR)
    if fields is None:  # extensions may be set: walk whatever is present
        for field, value in msg.ListFields():
            if submessage_type(field) is not None:
                _reject_in(field, value, path)
        return
    for field in fields:
        if field.is_repeated or msg.HasField(field.name):
            _reject_in(field, getattr(msg, field.name), path)


def _reject_in(field: FieldDescriptor, value: Any, path: str) -> None:
    child = f"{path}.{field.name}" if path else field.name
    if field.is_repeated:
        for i, item in enumerate(value):
            _reject(item, f"{child}[{i}]")
    else:
        _reject(value, child)


@functools.cache
def _message_fields(descriptor: Descriptor) -> tuple[FieldDescriptor, ...] | None:
    """The message-typed fields to descend into, in field-number order (as ListFields).

    Scalars carry no unknown fields and our schemas have no message maps, so a
    message of scalars needs no ListFields() at all. None if the type has
    extension ranges: a set extension is only visible through ListFields().
    """
    if descriptor.extension_ranges:
        return None
    return tuple(sorted((f for f in descriptor.fields if submessage_type(f) is not None),
                        key=lambda f: f.number))


def validate(msg: pb_message.Message) -> None:
    """Check protovalidate constraints; the first violation names its field path and rule."""
    try:
        _validator.validate(msg)
    except protovalidate.ValidationError as exc:
        violation = exc.violations[0].proto
        elements: list[Any] = list(violation.field.elements) if violation.field else []
        field = ".".join(_path_element(e) for e in elements) or "."
        text = plain_words(msg, field, violation.rule_id, violation.message)
        raise SchemaError(f"{field}: {text}", reason="CONSTRAINT_VIOLATION",
                          metadata={"field": field, "rule": violation.rule_id}) from None


def plain_words(msg: pb_message.Message, field: str, rule: str, raw: str) -> str:
    """protovalidate's text for a violation, in plain words where it means "missing".

    A required value, a oneof with nothing chosen, an unspecified enum, or an empty
    string that a length or pattern rule refuses all say what to set; other rules
    keep protovalidate's wording. Never quotes the value (only whether it is empty).
    """
    if rule == "required":
        if raw.startswith("exactly one field is required in oneof"):
            oneof = msg.DESCRIPTOR.oneofs_by_name.get(field)
            names = ", ".join(f.name for f in oneof.fields) if oneof is not None else ""
            return f"is missing: set exactly one of {names or 'its alternatives'}"
        return "is required but not set"
    if rule == "enum.not_in" and raw == "must not be in list [0]":
        return "is required: choose one of its values (0, unspecified, is not allowed)"
    if rule == "enum.defined_only":
        return "is not one of the defined values"
    if rule.startswith(("string.", "bytes.")) and _empty(msg, field):
        return f"is required but empty ({raw})"
    return raw


def _empty(msg: pb_message.Message, path: str) -> bool:
    """Whether the scalar at a plain dotted path is unset or empty (never its value)."""
    if "[" in path:
        return False
    parent, _, name = path.rpartition(".")
    holder: Any = msg
    for part in parent.split(".") if parent else ():
        holder = getattr(holder, part, None)
        if not isinstance(holder, pb_message.Message):
            return False
    return name in holder.DESCRIPTOR.fields_by_name and field_value(msg, path) is None


def _path_element(element: Any) -> str:
    """``name``, ``name[3]`` (repeated index) or ``name['key']`` (map key)."""
    subscript = element.subscript  # a protovalidate Oneof(field, value), or None
    if subscript is None:
        return str(element.field_name)
    key = subscript.value if subscript.field == "index" else repr(subscript.value)
    return f"{element.field_name}[{key}]"


def decode(cls: type[pb_message.Message], data: bytes, declared_type: str) -> pb_message.Message:
    """Decode `data` as exactly `cls`, reject unknown fields, validate constraints."""
    if declared_type != cls.DESCRIPTOR.full_name:
        raise SchemaError(
            f"payload_type {declared_type!r} is not the service's {cls.DESCRIPTOR.full_name}",
            reason="PAYLOAD_TYPE_MISMATCH",
            metadata={"expected": cls.DESCRIPTOR.full_name})
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        raise SchemaError(f"payload does not decode as {cls.DESCRIPTOR.full_name}",
                          reason="PAYLOAD_UNDECODABLE") from None
    reject_unknown_fields(msg)
    validate(msg)
    return msg
