"""The independent variant source writes names and dates the way the conventions say."""

from __future__ import annotations

import random

import pytest

from agency_adapters.immigration import variants


@pytest.mark.parametrize(("word", "use", "expected"), [
    ("Suharto", {"u"}, "Soeharto"),
    ("Wahyu", {"y"}, "Wahju"),
    ("Cahyono", {"c", "y"}, "Tjahjono"),
    ("Joko", {"j"}, "Djoko"),
    ("Syarif", {"sy"}, "Sjarif"),
    ("Nyoman", {"ny"}, "Njoman"),
    ("Khadijah", {"kh", "j"}, "Chadidjah"),
])
def test_eyd_to_van_ophuijsen(word: str, use: set[str], expected: str) -> None:
    assert variants._respell(word, variants._EYD_TO_OLD, use) == expected


def test_old_spelling_goes_back_to_eyd_for_a_name_listed_in_it() -> None:
    assert variants._respell("Widjaja", variants._OLD_TO_EYD, {"dj", "j"}) == "Wijaya"
    assert variants.old_spelling(random.Random(1), "Widjaja") in ("Wijaja", "Widjaya", "Wijaya")
    assert variants.old_spelling(random.Random(1), "Bambang") is None  # nothing to respell


def test_sun_letters_assimilate_the_article() -> None:
    assert variants.abdul_forms("Rahman")[:4] == [
        "Abd al-Rahman", "Abd ar-Rahman", "Abdur Rahman", "Abdurrahman"]
    assert variants.abdul_forms("Syukur")[1:3] == ["Abd asy-Syukur", "Abdusy Syukur"]
    assert variants.abdul_forms("Aziz")[1:4] == ["Abd al-Aziz", "Abdul Aziz", "Abdulaziz"]


@pytest.mark.parametrize(("pinyin", "wade"), [
    ("Qiang", "Chiang"), ("Xin", "Hsin"), ("Dong", "Tung"), ("Jie", "Chieh"),
    ("Zhang", "Chang"), ("Guo", "Ko"), ("Bo", "Po"), ("Wei", None),
])
def test_pinyin_to_wade_giles(pinyin: str, wade: str | None) -> None:
    assert variants.wade_giles(pinyin) == wade


def test_chinese_surnames_by_character() -> None:
    chinese = frozenset({"Tan", "Swie", "Hok"})
    spelt = {variants.change_name(random.Random(i), "chinese_romanisation", "Tan Swie Hok",
                                  chinese=chinese) for i in range(40)}
    assert spelt == {"Chen Swie Hok", "Chan Swie Hok", "Tjhin Swie Hok", "Tjan Swie Hok",
                     "Chin Swie Hok"}
    assert variants.same_word("tan", "chen")
    assert variants.same_word("oei", "huang")
    assert not variants.same_word("tan", "lim")
    # Lee in an English name is no romanisation of 李.
    assert variants.change_name(random.Random(0), "chinese_romanisation", "James Lee") is None


@pytest.mark.parametrize(("kind", "expected"), [
    ("dob_placeholder_0101", "1970-01-01"), ("dob_placeholder_0000", "1970-00-00"),
    ("dob_placeholder_day", "1970-08-01"), ("dob_year_only", "1970"), ("dob_missing", ""),
    ("dob_swapped", None),  # 13 is no month
    ("dob_listed_year_only", None),  # the list has the whole date
])
def test_date_kinds(kind: str, expected: str | None) -> None:
    assert variants.change_dob(random.Random(0), kind, "1970-08-13") == expected


def test_date_errors_change_one_thing() -> None:
    rng = random.Random(5)
    typos = [variants.change_dob(rng, "dob_digit_typo", "1970-08-13") for _ in range(50)]
    assert all(t is not None and sum(a != b for a, b in zip(t, "1970-08-13", strict=True)) == 1
               for t in typos)
    assert {variants.change_dob(rng, "dob_day_off_by_one", "1970-08-13")
            for _ in range(20)} == {"1970-08-12", "1970-08-14"}
    assert variants.change_dob(rng, "dob_year_off_by_one", "1970-02-29") is None  # no 1969-02-29
    listed_year = variants.change_dob(random.Random(2), "dob_listed_year_only", "1970")
    assert listed_year is not None
    assert listed_year.startswith("1970-")


@pytest.mark.parametrize(("kind", "name", "expected"), [
    ("mrz_form", "Budi Hartono Santoso", "SANTOSO<<BUDI<HARTONO"),
    ("mrz_form", "Fleur Pieter de Jong", "DE<JONG<<FLEUR<PIETER"),
    ("mrz_form", "Sofea Norhayati binti Azlan", "SOFEA<NORHAYATI<BINTI<AZLAN"),
    ("reordered", "Hisham bin Amirul", None),  # only "bin Amirul Hisham": not written so
    ("reordered", "Jan van der Berg", None),
    ("reordered", "Budi Santoso", "Santoso Budi"),
    ("space_lost", "Wahyu Hidayat", "WahyuHidayat"),
    ("particle_dropped", "Jan van der Berg", "Jan Berg"),
    ("particle_dropped", "Ali van der Meer", "Ali Meer"),
    ("initial", "Budi Santoso", None),  # two names: an initial would leave one
    ("short_form", "Johannes Bakker", None),
])
def test_name_kinds(kind: str, name: str, expected: str | None) -> None:
    got = variants.change_name(random.Random(0), kind, name)
    if kind == "short_form":
        assert got in {"Johan Bakker", "Jan Bakker", "Hans Bakker", "Joh. Bakker"}
    else:
        assert got == expected


def test_a_particle_is_dropped_or_an_article_unhyphened() -> None:
    assert {variants.change_name(random.Random(i), "particle_dropped", "Nourah bin Saad al-Ghamdi")
            for i in range(20)} == {"Nourah Saad al-Ghamdi", "Nourah bin Saad Ghamdi"}


def test_a_typo_always_changes_the_word() -> None:
    rng = random.Random(9)
    assert all(variants._typo(rng, "Santoso") != "Santoso" for _ in range(200))
    assert all(variants._typo(rng, "Anna") != "Anna" for _ in range(200))
