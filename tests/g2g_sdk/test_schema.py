"""Strict decoding: exact type, no unknown fields anywhere, declared constraints."""

from __future__ import annotations

import pytest
from g2g_sdk import schema
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from g2g_sdk.errors import SchemaError

REQUEST = "g2g.immigration.v1.ScreenRequest"


def by_name(**kw: str) -> wl.ScreenRequest:
    return wl.ScreenRequest(by_name=wl.NameQuery(**kw))


def test_valid_payload_decodes() -> None:
    msg = by_name(full_name="Budi Santoso", date_of_birth="1980", nationality="IDN")
    assert schema.decode(wl.ScreenRequest, msg.SerializeToString(), REQUEST) == msg


@pytest.mark.parametrize(("msg", "field", "rule"), [
    (by_name(full_name="B"), "by_name.full_name", "string.min_len"),
    (by_name(full_name="Budi", date_of_birth="12-01-1980"), "by_name.date_of_birth",
     "string.pattern"),
    (by_name(full_name="Budi", nationality="idn"), "by_name.nationality", "string.pattern"),
    (wl.ScreenRequest(), "query", "required"),
    (wl.ScreenRequest(by_document=wl.DocumentQuery(number="A1234567", issuing_country="IDN")),
     "by_document.type", "enum.not_in"),
])
def test_constraint_violations_name_field_and_rule(msg: wl.ScreenRequest, field: str,
                                                   rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        schema.decode(wl.ScreenRequest, msg.SerializeToString(), REQUEST)
    assert info.value.reason == "CONSTRAINT_VIOLATION"
    assert info.value.metadata == {"field": field, "rule": rule}


def test_unknown_fields_at_any_depth() -> None:
    nested = wl.NameQuery(full_name="Budi Santoso").SerializeToString() + b"\xa8\x06\x01"
    data = b"\x0a" + bytes([len(nested)]) + nested  # field 1 (by_name), length-delimited
    with pytest.raises(SchemaError) as info:
        schema.decode(wl.ScreenRequest, data, REQUEST)
    assert info.value.reason == "UNKNOWN_FIELDS"
    assert info.value.metadata == {"field": "by_name", "numbers": "101"}


def test_unknown_fields_in_a_repeated_element_name_the_first_one() -> None:
    # The yes/no walk finds them; the refusal names the first in field order, with its index.
    from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as ipb

    def document(number: str, extra: bytes = b"") -> bytes:
        item = ipb.DocumentCheckRequest(number=number, issuing_country="IDN")
        return item.SerializeToString() + extra

    items = [document("A1234567"), document("B1234567", b"\xa8\x06\x01"),
             document("C1234567", b"\xb0\x06\x01")]
    data = b"".join(b"\x0a" + bytes([len(item)]) + item for item in items)
    with pytest.raises(SchemaError) as info:
        schema.decode(ipb.DocumentBatchRequest, data, "g2g.interpol.v1.DocumentBatchRequest")
    assert info.value.metadata == {"field": "documents[1]", "numbers": "101"}
    clean = b"".join(b"\x0a" + bytes([len(i)]) + i for i in (document("A1234567"),))
    schema.decode(ipb.DocumentBatchRequest, clean, "g2g.interpol.v1.DocumentBatchRequest")


def test_declared_type_must_match() -> None:
    with pytest.raises(SchemaError) as info:
        schema.decode(wl.ScreenRequest, b"", "g2g.immigration.v1.NameQuery")
    assert info.value.reason == "PAYLOAD_TYPE_MISMATCH"


def test_garbage_does_not_decode() -> None:
    with pytest.raises(SchemaError) as info:
        schema.decode(wl.ScreenRequest, b"\x0a\xff\xff", REQUEST)
    assert info.value.reason == "PAYLOAD_UNDECODABLE"


def test_a_violation_inside_a_repeated_field_names_the_index() -> None:
    from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as ipb

    batch = ipb.DocumentBatchRequest(documents=[
        ipb.DocumentCheckRequest(number="A1234567", issuing_country="IDN"),
        ipb.DocumentCheckRequest(number="A123 4567", issuing_country="IDN")])
    with pytest.raises(SchemaError) as info:
        schema.decode(ipb.DocumentBatchRequest, batch.SerializeToString(),
                      "g2g.interpol.v1.DocumentBatchRequest")
    assert info.value.metadata == {"field": "documents[1].number", "rule": "string.pattern"}
    assert info.value.message.startswith("documents[1].number: ")


@pytest.mark.parametrize(("msg", "text"), [
    (wl.ScreenRequest(), "query: is missing: set exactly one of by_name, by_document"),
    (wl.ScreenRequest(by_document=wl.DocumentQuery(number="A1234567", issuing_country="IDN")),
     "by_document.type: is required: choose one of its values (0, unspecified, is not allowed)"),
    (by_name(full_name=""),
     "by_name.full_name: is required but empty (must be at least 2 characters)"),
    # Not a missing value: protovalidate's own words, and never the value itself.
    (by_name(full_name="Budi", nationality="idn"),
     "by_name.nationality: does not match regex pattern `^([A-Z]{3})?$`"),
])
def test_required_style_violations_are_said_in_plain_words(msg: wl.ScreenRequest,
                                                           text: str) -> None:
    with pytest.raises(SchemaError) as info:
        schema.validate(msg)
    assert info.value.message == text
