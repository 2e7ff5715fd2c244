"""Token rules of the shared name matcher: each rule's value on the pairs it is for."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agency_adapters.common import matching, names
from agency_adapters.common.matching import NameIndex, token_similarity


def sim(a: str, b: str) -> float:
    """token_similarity of two names as written (each one token after normalisation)."""
    (ta,), (tb,) = names.tokens(a), names.tokens(b)
    return token_similarity(ta, tb)


@pytest.mark.parametrize(("short", "full"), [
    ("Bill", "William"), ("Jim", "James"), ("Andy", "Andrew"), ("Mike", "Michael"),
    ("Bob", "Robert"), ("Betty", "Elizabeth"), ("Dan", "Daniel"),
    ("Jan", "Johannes"), ("Hans", "Johannes"), ("Kees", "Cornelis"), ("Wim", "Willem"),
    ("Piet", "Petrus"), ("Henk", "Hendrik"), ("Johan", "Yohanes"), ("Benny", "Benyamin"),
    ("Frans", "Fransiskus"), ("Anton", "Antonius"), ("Elis", "Elisabeth"),
    ("Dayat", "Hidayat"), ("Ucup", "Yusuf"), ("Moh", "Muhammad"), ("Mhd", "Muhammad"),
    ("Nurul", "Nur"),
])
def test_a_short_form_is_its_name(short: str, full: str) -> None:
    assert sim(short, full) == sim(full, short) == matching.SHORT_FORM == 0.93


@pytest.mark.parametrize(("a", "b"), [
    ("Bill", "Robert"), ("Jan", "Cornelis"), ("Yan", "Yohanes"), ("Ari", "Adrianus"),
])
def test_a_short_form_is_not_another_name(a: str, b: str) -> None:
    assert sim(a, b) < matching.KNOWN_NAME_MIN


@pytest.mark.parametrize(("pinyin", "wade_giles"), [
    ("Qiang", "Chiang"), ("Jiang", "Chiang"), ("Xin", "Hsin"), ("Xiu", "Hsiu"),
    ("Jie", "Chieh"), ("Dong", "Tung"), ("Bo", "Po"), ("Jian", "Chien"), ("Jun", "Chun"),
    ("Zhi", "Chih"), ("Guo", "Kuo"), ("Luo", "Lo"), ("He", "Ho"), ("Xiong", "Hsiung"),
    ("Gui", "Kuei"), ("Ci", "Tzu"), ("Yong", "Yung"), ("Cao", "Tsao"),
])
def test_pinyin_and_wade_giles_are_one_syllable(pinyin: str, wade_giles: str) -> None:
    assert sim(pinyin, wade_giles) == sim(wade_giles, pinyin) == matching.ROMANISATION


@pytest.mark.parametrize(("a", "b"), [("Qiang", "Xiang"), ("Jie", "Xie"), ("Bo", "Mo")])
def test_other_syllables_stay_apart(a: str, b: str) -> None:
    assert sim(a, b) < matching.KNOWN_NAME_MIN


@pytest.mark.parametrize(("surname", "other"), [
    ("Wu", "Gouw"), ("Zhu", "Chue"), ("Guo", "Kwik"), ("Weng", "Ong"), ("Qiu", "Hiew")])
def test_more_surname_romanisations(surname: str, other: str) -> None:
    assert sim(surname, other) == matching.ROMANISATION


@pytest.mark.parametrize(("part", "compound", "expected"), [
    ("rahman", "abdulrahman", matching.SHORT_FORM),   # the name without Abdul
    ("abdul", "abdulaziz", matching.SHORT_FORM),      # Abdul without its name
    ("nur", "nurhayati", matching.SHORT_FORM),        # Nur for Nurhayati
    ("latif", "abdulatif", matching.SHORT_FORM),      # the l shared by the join
    ("bakar", "abubakar", matching.SHORT_FORM),
    ("hadi", "abdulrahman", 0.5606),                  # another name: no credit
    ("nurh", "nurhadi", 0.9),                         # a compound's initial: as before
])
def test_a_compound_and_its_part(part: str, compound: str, expected: float) -> None:
    assert token_similarity(part, compound) == pytest.approx(expected, abs=1e-4)
    assert token_similarity(compound, part) == token_similarity(part, compound)


def test_ocr_digits_are_read_as_letters() -> None:
    assert names.ocr_letters("SR1 RINA 8INTI M0HD") == "SRI RINA BINTI MOHD"
    # Not a normalisation: a name written with digits keeps them as tokens.
    assert names.tokens("M0HD") == ("m0hd",)


def _index(*listed: tuple[str, str]) -> NameIndex:
    return NameIndex((ri, "full_name", name, dob) for ri, (name, dob) in enumerate(listed))


def _found(index: NameIndex, name: str, dob: str) -> dict[int, float]:
    dobs = {0: "1950-06-16", 1: "1950-06-16", 2: "1950-06-16"}
    hits = index.search(name, dob, matching.DEFAULT_THRESHOLD,
                        lambda ri: (dobs.get(ri, dob), 0.5))
    return {ri: score for ri, (score, _) in hits.items()}


def test_one_name_and_an_initial_find_a_two_name_person() -> None:
    index = _index(("Ahmad bin Muhammad", "1950-06-16"), ("Budi Muhammad", "1950-06-16"))
    # Only one name to block on: paired with the listed names starting with A.
    assert _found(index, "A. bin Muhammad", "1950-06-16") == {0: 0.935}


def test_a_compound_not_on_the_list_is_also_read_as_two_names() -> None:
    index = _index(("Nur binti Hakim", "1950-06-16"), ("Abdul Aziz Dadang", "1950-06-16"))
    assert _found(index, "Nur Hakim", "1950-06-16") == {0: 0.975}
    assert 1 in _found(index, "Abdul Dadang", "1950-06-16")


def test_digits_in_a_query_are_searched_as_letters() -> None:
    index = _index(("Sri Rina Kartasasmita", "1950-06-16"))
    assert _found(index, "SR1 RINA KARTASASMITA", "1950-06-16") == {0: 0.975}


def test_old_spelling_j_is_tried_as_y_in_an_unlisted_word() -> None:
    index = _index(("Ayu Wati", "1950-06-16"))
    assert _found(index, "Aju Wati", "1950-06-16") == {0: 0.975}


def test_two_query_names_may_be_one_repeated_listed_name() -> None:
    index = _index(("Mohd Danial bin Muhammad", "1950-06-16"))
    # Moh and Muhammad both match the listed Muhammad (twice on the list).
    assert _found(index, "Moh Danial bin Muhammad", "1950-06-16") == {0: 0.9633}


def test_a_name_written_apart_joins_through_its_spellings() -> None:
    index = _index(("Bambang Dimas", "1950-06-16"), ("Nur binti Zulkifli", "1950-06-16"))
    # "Ang" is keyed as Ong (one Chinese surname): joined as written, it is Bambang.
    assert _found(index, "Bamb Ang Dimas", "1950-06-16") == {0: 0.975}
    # The dropped particle keeps Nur apart from the joined name.
    assert _found(index, "Nur binti Zulki Fli", "1950-06-16") == {1: 0.975}


def test_a_word_two_typos_away_is_still_compared() -> None:
    index = _index(("Sumyanto Tanoto", "1950-06-16"), ("Sumayo Hadi", "1950-06-16"))
    # Sumayno is two edits from Sumyanto: found by Jaro-Winkler over the vocabulary,
    # though a token one edit away (Sumayo) is found first.
    assert list(_found(index, "Sumayno Tanoto", "1950-06-16")) == [0]


def test_a_compound_query_word_finds_the_listed_start_alone() -> None:
    index = _index(("Siti Nur binti Ahmad", "1950-06-16"))
    # Nurhayati blocks with Nur, the start of its compound, which the list holds alone.
    assert _found(index, "Siti Nurhayati binti Ahmad", "1950-06-16") == {0: 0.9563}


@pytest.mark.parametrize(("query", "listed", "expected"), [
    ("1971-03-05", "1971", (matching.DOB_UNKNOWN, True)),   # a whole date, the record a year
    ("1971", "1971-03-05", (matching.DOB_YEAR, True)),      # a year asked: as before
    ("1971-01-01", "1971", (matching.DOB_YEAR, True)),      # a placeholder says the year
    ("1971-03-05", "", (matching.DOB_UNKNOWN, False)),
])
def test_a_whole_date_against_a_year_only_record(query: str, listed: str,
                                                  expected: tuple[float, bool]) -> None:
    assert matching.dob_similarity(query, listed) == expected


def test_two_letters_start_a_name_but_a_short_name_with_a_letter_lost_comes_first() -> None:
    crowd = [(f"Ma{s} Budi", "1960-01-01") for s in (
        "ya", "rgono", "hmud", "rdi", "rsito", "lik", "nto", "rno", "sud", "wan", "dun",
        "rtono", "lani", "nsur", "ruf", "jid", "hdi", "ksum", "lia", "rlina")]
    index = _index(("Mia Liam Thompson", "1950-06-16"), *crowd,
                   ("Yohanes Tupamahu", "1950-06-16"))
    assert 0 in _found(index, "Ma Liam Thompson", "1950-06-16")  # Mia, a letter lost
    assert len(crowd) + 1 in _found(index, "Yo. Tupamahu", "1950-06-16")  # Yo. = Yohanes
    assert matching.SHORT_ABBREVIATION < matching.SHORT_SLIP < matching.ABBREVIATION


def test_a_repeated_name_needs_it_twice_on_the_list() -> None:
    query = names.analyse("Muhammad Ahmad bin Ahmad")  # father and son both Ahmad
    # The second Ahmad earns the second-best listed token: nothing on a list holding one.
    assert matching.name_similarity(query, names.analyse("Ahmad Muhammad bin Khairul")) == (
        pytest.approx(0.75 * 2 / 3 + 0.25 * 2 / 3))
    assert matching.name_similarity(query, names.analyse("Ahmad Muhammad bin Ahmad")) == 1.0
    index = _index(("Ahmad Muhammad bin Khairul", "1950-06-16"),
                   ("Ahmad Muhammad bin Ahmad", "1950-06-16"))
    assert _found(index, "Muhammad Ahmad bin Ahmad", "1950-06-16") == {1: 0.975}


def _dated(*listed: tuple[str, str]) -> Callable[[str, str], dict[int, float]]:
    """search over `listed` with each record's own date of birth."""
    index = _index(*listed)

    def found(name: str, dob: str) -> dict[int, float]:
        hits = index.search(name, dob, matching.DEFAULT_THRESHOLD,
                            lambda ri: (listed[ri][1], 0.5))
        return {ri: score for ri, (score, _) in hits.items()}
    return found


def test_a_name_not_as_listed_needs_a_date_that_agrees() -> None:
    found = _dated(("Sumiyanto", "1946"), ("William Hadi", "1950-06-16"), ("Sumiyanto Adi", ""))
    # A whole date the record confirms only in part (it holds the year) and a name not
    # as listed: the name must carry the match alone (WEAK_DATE_NAME_MIN).
    assert found("Sumiyanto", "1946-06-22") == {0: 0.9}
    assert found("Susiyanto", "1946-06-22") == {}
    assert found("Susiyanto", "1946") != {}  # the query says only the year: as before
    assert found("Susiyanto Adi", "1946-06-22") != {}  # no date listed: nothing compared
    # One slip apart, or the 1st of the same month: likewise.
    assert found("William Hadi", "1950-06-17") == {1: 0.885}
    assert found("Bill Hadi", "1950-06-17") == {}  # a short form: 0.965
    assert found("Bill Hadi", "1950-06-16") == {1: 0.947}
    assert found("Bill Hadi", "1950-06-01") == {}
    assert found("William Hadi", "1950-06-01") == {1: 0.9075}
