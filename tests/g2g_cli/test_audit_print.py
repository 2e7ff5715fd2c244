"""`g2g audit tail` never prints a record's raw control or bidi characters."""

from __future__ import annotations

from g2g_cli import audit


def test_non_printable_characters_are_escaped_in_the_table() -> None:
    row = audit._row({"purpose": "x\x1b[2J\u202ey", "service": "Pasal ü 91"})
    purpose, service = row[audit.COLUMNS.index("purpose")], row[audit.COLUMNS.index("service")]
    assert purpose == "x\\x1b[2J\\u202ey"
    assert service == "Pasal ü 91"
