"""`g2g audit tail` never prints a record's raw control or bidi characters."""

from __future__ import annotations

from g2g_cli import audit


def test_non_printable_characters_are_escaped_in_the_table() -> None:
    row = audit._row({"purpose": "x\x1b[2J\u202ey", "service": "Pasal ü 91"})
    purpose, service = row[audit.COLUMNS.index("purpose")], row[audit.COLUMNS.index("service")]
    assert purpose == "x\\x1b[2J\\u202ey"
    assert service == "Pasal ü 91"


def test_json_lines_escape_non_printables_and_stay_the_same_json() -> None:
    import json

    record = {"legal_basis": "UU\u202e 6\x7f/2011\u2028 \U000e0001 ü", "seq": 1}
    line = audit._json_line(record)
    assert line.isprintable()
    assert "ü" in line
    assert json.loads(line) == record
