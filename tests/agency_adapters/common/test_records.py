"""Shared record checks: a bad code is quoted only when it looks like a code."""

from __future__ import annotations

import pytest

from agency_adapters.common import records as r


@pytest.mark.parametrize(("value", "message"), [
    ("PINK", "'PINK' is not one of RED, BLUE"),
    ("xx", "'xx' is not one of RED, BLUE"),
    ("Budi Santoso", "the value is not one of RED, BLUE"),  # a shifted column: a name
    (17, "the value is not one of RED, BLUE"),
])
def test_enum_quotes_only_code_shaped_values(value: object, message: str) -> None:
    with pytest.raises(r.Invalid) as info:
        r.enum("category", value, ("RED", "BLUE"))
    assert (info.value.field, info.value.reason) == ("category", message)


@pytest.mark.parametrize(("value", "message"), [
    ("idn", "'idn' is not an upper-case ISO 3166-1 alpha-3 code"),
    ("XXX", "'XXX' is not an assigned ISO 3166-1 alpha-3 code"),
    ("Siti Rahma", "the value is not an upper-case ISO 3166-1 alpha-3 code"),
])
def test_country_quotes_only_code_shaped_values(value: str, message: str) -> None:
    with pytest.raises(r.Invalid) as info:
        r.country("nationality", value)
    assert (info.value.field, info.value.reason) == ("nationality", message)
