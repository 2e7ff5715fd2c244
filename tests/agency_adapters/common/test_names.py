"""Name normalisation against the cases in tests/vectors/screening_cases.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agency_adapters.common import names

CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parents[2] / "vectors" / "screening_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES["normalisation"], ids=lambda c: c["name"])
def test_tokens(case: dict[str, Any]) -> None:
    assert list(names.tokens(case["name"])) == case["tokens"], case["why"]


@pytest.mark.parametrize("case", CASES["normalisation"], ids=lambda c: c["name"])
def test_normalise_is_idempotent(case: dict[str, Any]) -> None:
    once = names.normalise(case["name"])
    assert (names.normalise(once) == once) is case.get("idempotent", True)


def test_given_names_drop_the_patronymic_only_when_two_names_remain() -> None:
    assert names.given_names("Siti Aisyah binti Hassan") == "Siti Aisyah"
    assert names.given_names("Ahmad bin Azman") is None
    assert names.given_names("Budi Santoso") is None


@pytest.mark.parametrize(("name", "written"), [
    ("David Jnoes", ("david", "jnoes")),               # the fold made it "ynus"
    ("Mochamad Jusuf", ("muhamad", "yusuf")),          # table spellings: their key
    ("Nur Hadi Soeharto", ("nurhadi", "soeharto")),    # compound joined as written
])
def test_analyse_keeps_each_token_as_written(name: str, written: tuple[str, ...]) -> None:
    key = names.analyse(name)
    assert key.written == written
    assert len(key.written) == len(key.tokens) == len(key.phonetic)


@pytest.mark.parametrize(("name", "marker"), [
    ("I Wayan Sudarma", "M"), ("Ni Made Sukerta", "F"), ("Sudarma, Ni Luh", "F"),
    ("Bapak I Nyoman Adnyana", "M"), ("Wayan Sudarma", ""), ("Nina Wijaya", ""),
    ("I Gusti Ngurah", ""),  # I before a title, not a birth-order name
])
def test_sex_marker(name: str, marker: str) -> None:
    assert names.sex_marker(name) == marker


@pytest.mark.parametrize(("name", "tokens"), [
    ("BOER, SANNE LUCAS DE", ("bur", "sane", "lucas")),     # the family name's particle
    ("Rizal, Azlan Khairul bin", ("rizal", "azlan", "kairul")),
    ("Rajesh Das", ("rajesh", "das")),                     # not inverted: Das is a name
])
def test_an_inverted_name_drops_its_trailing_particle(name: str, tokens: tuple[str, ...]) -> None:
    assert names.tokens(name) == tokens


@pytest.mark.parametrize(("a", "b", "shared"), [
    ("qiang", "chiang", True), ("xin", "hsin", True), ("tung", "dong", True),
    ("qiang", "xiang", False), ("budi", "budi", False),   # not a Pinyin syllable
])
def test_chinese_syllables(a: str, b: str, shared: bool) -> None:
    assert bool(names.chinese_syllables(names.fold(a))
                & names.chinese_syllables(names.fold(b))) is shared
