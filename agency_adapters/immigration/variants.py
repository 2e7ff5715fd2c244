"""Ways a listed person's name, date of birth and nationality are written differently,
for the screening evaluation (`evaluation.py`). Never imported by screening.

Built from published romanisation and spelling conventions, NOT from the tables
of `agency_adapters.common.names` (which this module must never import: a
variant source the matcher was built from measures nothing):

- Indonesian spelling reforms: Van Ophuijsen (1901) and Soewandi (1947) against
  EYD (1972): oe/u, dj/j, tj/c, j/y, ch/kh, sj/sy, nj/ny; applied by rule, each
  correspondence independently, as old documents mix them (Soeharto, Wahju).
- Arabic names in the romanisations met in Indonesia, Malaysia, the Gulf and
  Egypt: vowels u/o, i/e, ou, ee/oo; doubled consonants single; final -ah/-a;
  q/k, dh/dz/z, th/ts/s, sy/sh, kh/ch; ai/ay/ei, au/aw (by rule); the article's
  sun-letter assimilation (Abd al-Rahman = Abdur Rahman = Abdurrahman, al-Shehri
  = ash-Shehri); Abdul/Abd./Abdel; al-/el- particles kept, dropped or joined.
- Chinese surnames by character in Pinyin, Hokkien, Teochew, Cantonese, Hakka
  and the Dutch-era Indonesian spellings (陈 Chen/Tan/Chan/Tjhin, 林 Lin/Lim/Lam/
  Liem, 黄 Huang/Wong/Oei/Ng, 吴 Wu/Goh/Ng, 张 Zhang/Teo/Chang/Tio, ...), and
  Pinyin given names in Wade-Giles (Qiang/Chiang, Xin/Hsin, Dong/Tung).
- Short forms of given names (Johannes/Johan/Jan, Muhammad/Muh./Moh./M.,
  Abdul/Abd., Siti/St., Cornelis/Kees, William/Bill, ...).
- Clerical and machine errors: keyboard typos, a deleted letter in a short
  name, OCR confusions (0/O, 1/I, 5/S, 8/B), the passport MRZ form (SURNAME<<GIVEN<
  NAMES), spaces lost or added, particles (bin, van der, al-) dropped or added;
  dates with a placeholder day and month (01-01, 00-00, the 1st), a digit typo,
  a day or a year off by one, day and month swapped; another nationality.

Every `make_*` function takes a random generator and what is listed, and returns
the changed value, or None when the change does not apply to this person (the
evaluation then draws another person). Pure computation.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Final

__all__ = [
    "DOB_KINDS", "NAME_KINDS", "NATIONALITY_KINDS", "change_dob", "change_name",
    "change_nationality", "same_word", "spelling_classes", "word_classes",
]

# --- Indonesian spelling: EYD (1972) <-> Van Ophuijsen / Soewandi --------------------
# Modern letter(s) -> the old spelling, one correspondence at a time (longest first).
_EYD_TO_OLD: Final = (("sy", "sj"), ("ny", "nj"), ("kh", "ch"), ("c", "tj"), ("j", "dj"),
                      ("y", "j"), ("u", "oe"))
_OLD_TO_EYD: Final = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("sj", "sy"), ("nj", "ny"),
                      ("ch", "kh"), ("j", "y"))


def _respell(word: str, table: Sequence[tuple[str, str]], use: set[str]) -> str:
    """`word` with each correspondence in `use` applied, left to right, longest first."""
    lower = word.lower()
    out: list[str] = []
    i = 0
    while i < len(lower):
        for old, new in table:
            if old in use and lower.startswith(old, i):
                out.append(new)
                i += len(old)
                break
        else:
            out.append(lower[i])
            i += 1
    return _like(word, "".join(out))


def _like(model: str, word: str) -> str:
    """`word` in the letter case of `model` (Title, UPPER or lower)."""
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _applicable(word: str, table: Sequence[tuple[str, str]]) -> list[str]:
    lower = word.lower()
    return [old for old, _ in table if old in lower]


def old_spelling(rng: random.Random, word: str) -> str | None:
    """`word` in the pre-1972 (or, if it is written so, the modern) Indonesian spelling;
    each applicable correspondence is used with probability 0.7, at least one."""
    old = _applicable(word, _OLD_TO_EYD)
    table = _OLD_TO_EYD if any(o in ("oe", "dj", "tj", "sj", "nj") for o in old) else _EYD_TO_OLD
    options = old if table is _OLD_TO_EYD else _applicable(word, _EYD_TO_OLD)
    if not options:
        return None
    use = {o for o in options if rng.random() < 0.7} or {rng.choice(options)}
    changed = _respell(word, table, use)
    return changed if changed.lower() != word.lower() else None


# --- Arabic names ----------------------------------------------------------------------
# Letter correspondences between romanisations (ALA-LC, Malay/Indonesian, Egyptian,
# French, English): (pattern, replacements).
_ARABIC_RULES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (r"(?<=[^aeiou])u(?=[^aeiou])", ("o", "ou")),   # Muhammad/Mohammad, Yusuf/Yousuf
    (r"^u", ("o",)),                                  # Umar/Omar, Usman/Osman
    (r"^i", ("e",)),                                  # Ibrahim/Ebrahim, Ismail/Esmail
    (r"(?<=[^aeiou])i(?=[^aeiou])", ("ee", "e")),    # Karim/Kareem, Hamid/Hamed
    (r"(?<=[^aeiou])u(?=[^aeiou]$)", ("oo",)),       # Mahmud/Mahmood
    (r"([bdfhjklmnrstz])\1", (r"\1",)),             # Hassan/Hasan, Muhammad/Muhamad
    (r"(?<=[aiu])([mslnd])(?=[aiu])", (r"\1\1",)),   # Hasan/Hassan, Muhamad/Muhammad
    (r"ah$", ("a",)),                                 # Fatimah/Fatima
    (r"(?<=[aeiou])a$", ("ah",)),                     # Zahra/Zahrah
    (r"q", ("k",)), (r"k(?=$|[^h])", ("q",)),         # Taufiq/Taufik, Rizki/Rizqi
    (r"dz", ("z", "dh")), (r"dh", ("d", "dz")),       # Hafidz/Hafiz, Ramadhan/Ramadan
    (r"ts", ("th", "s")), (r"th", ("t", "ts")),       # Utsman/Uthman/Usman
    (r"sy", ("sh", "s")), (r"sh", ("sy",)),           # Syarif/Sharif, Syamsul/Samsul
    (r"kh", ("ch", "h", "k")), (r"(?<!c)h(?=[aeiou])(?!$)", ("ch",)),  # Khalid/Chalid
    (r"ai", ("ay", "ei", "ae")), (r"au", ("aw",)),   # Zainab/Zaynab/Zeinab, Fauzi/Fawzi
    (r"ie$", ("i",)), (r"i$", ("y", "ie")),           # Rizki/Rizky, Arief/Arif
)


def arabic_spelling(rng: random.Random, word: str) -> str | None:
    """`word` (an Arabic-origin name) in another romanisation: one or two correspondences."""
    lower = word.lower()
    rules = [(p, r) for p, r in _ARABIC_RULES if re.search(p, lower)]
    if not rules:
        return None
    changed = lower
    for pattern, replacements in rng.sample(rules, min(len(rules), rng.choice((1, 1, 2)))):
        if re.search(pattern, changed):
            changed = re.sub(pattern, rng.choice(replacements), changed, count=1)
    return _like(word, changed) if changed != lower else None


# Sun letters assimilate the article: Abd al-Rahman is said (and written) Abdur Rahman.
_SUN: Final = ("sy", "sh", "ts", "th", "dz", "dh", "t", "d", "r", "z", "s", "n", "l")


def _article(core: str) -> str:
    """The Arabic article before `core`, assimilated before a sun letter (ar-, as-, ash-)."""
    lower = core.lower()
    for sun in _SUN:
        if lower.startswith(sun) and sun != "l":
            return "a" + sun[0] + (sun[1] if sun in ("sy", "sh", "ts", "th", "dz", "dh")
                                   else "")
    return "al"


def abdul_forms(core: str) -> list[str]:
    """Ways of writing Abdul + `core` (a servant-of compound): Abd al-Rahman, Abdurrahman..."""
    art = _article(core)
    link = "ul" if art == "al" else "u" + art[1:]
    low = core.lower()
    return [f"Abd al-{core}", f"Abd {art}-{core}", f"Abd{link} {core}", f"Abd{link}{low}",
            f"Abdel {core}", f"Abd. {core}", f"Abd {core}", f"Abdul-{core}", f"Abdel{low}"]


def arabic_compound(rng: random.Random, words: list[str]) -> list[str] | None:
    """One Abdul/Abu/Nur compound (or al- particle) of the name written another way."""
    options: list[tuple[int, int, list[str]]] = []  # (first word, words replaced, forms)
    for i, w in enumerate(words):
        lw = w.lower()
        if lw == "abdullah":  # Abd Allah, "servant of God": no sun letter, its own forms
            options.append((i, 1, ["Abdallah", "Abd Allah", "Abdulla", "Abdollah", "Abd-Allah"]))
        elif lw in ("abdul", "abdel", "abd") and i + 1 < len(words):
            options.append((i, 2, abdul_forms(words[i + 1])))
        elif (m := re.fullmatch(r"abd(?:ul|ur|us)?([a-z]{4,})", lw)) is not None:
            options.append((i, 1, abdul_forms(_like(w, m[1]))))
        elif lw in ("abu", "nur", "nurul") and i + 1 < len(words):
            nxt = words[i + 1]
            forms = [w + nxt.lower()]
            if lw == "nurul":
                forms += [f"Nur al-{nxt}", f"Nur {nxt}"]
            options.append((i, 2, forms))
        elif lw.startswith(("al-", "el-")) and len(lw) > 4:
            core = w[3:]
            options.append((i, 1, [f"{_article(core)}-{core}", f"el-{core}", f"Al {core}",
                                   f"Al{core.lower()}", core]))
    if not options:
        return None
    i, span, forms = rng.choice(options)
    return [*words[:i], *rng.choice(forms).split(), *words[i + span:]]


# --- Chinese names ---------------------------------------------------------------------
# One surname character per line: Pinyin, then Hokkien/Teochew, Cantonese, Hakka and
# Dutch-era Indonesian spellings (as registered in Indonesia, Malaysia, Singapore).
CHINESE_SURNAMES: Final[tuple[tuple[str, ...], ...]] = (
    ("Chen", "Tan", "Chan", "Tjhin", "Tjan", "Chin"),          # 陈
    ("Lin", "Lim", "Lam", "Liem", "Lum"),                       # 林
    ("Huang", "Ng", "Wong", "Oei", "Oey", "Ooi", "Wee", "Bong"),  # 黄
    ("Wu", "Goh", "Go", "Ng", "Ngo", "Woo", "Gouw"),            # 吴
    ("Zhang", "Teo", "Tio", "Chang", "Cheung", "Thio", "Chong"),  # 张
    ("Wang", "Ong", "Wong", "Heng"),                            # 王
    ("Li", "Lee", "Lie", "Lei"),                                # 李
    ("Liu", "Lau", "Lauw", "Low", "Lao"),                       # 刘
    ("Yang", "Yeo", "Yeung", "Young", "Njoo", "Nyoo"),          # 杨
    ("Zhao", "Chao", "Chiu", "Chew", "Tio"),                    # 赵
    ("Zhou", "Chow", "Chau", "Chew", "Tjioe"),                  # 周
    ("Xu", "Khoo", "Koh", "Hui", "Kho", "Hsu"),                 # 许
    ("Guo", "Kwee", "Kwok", "Kuo", "Quek", "Kwik"),             # 郭
    ("He", "Ho", "Hoo", "Hoh"),                                 # 何
    ("Gao", "Ko", "Kao", "Koh", "Kho"),                         # 高
    ("Zheng", "The", "Tay", "Teh", "Cheng", "Tee"),             # 郑
    ("Liang", "Nio", "Neo", "Leung", "Liong"),                  # 梁
    ("Xie", "Sia", "Chia", "Tse", "Tjia", "Hsieh"),             # 谢
    ("Song", "Soong", "Sung"),                                  # 宋
    ("Tang", "Tong", "Tng", "Thong"),                           # 唐
    ("Han", "Hon", "Hang"),                                     # 韩
    ("Feng", "Fung", "Pang", "Fong"),                           # 冯
    ("Deng", "Teng", "Tang", "Thang"),                          # 邓
    ("Cao", "Cho", "Tso", "Chou"),                              # 曹
    ("Peng", "Phang", "Pang", "Phe"),                           # 彭
    ("Ma", "Beh", "Mah", "Be"),                                 # 马
    ("Zhu", "Chu", "Choo", "Tjoe", "Chue"),                     # 朱
    ("Hu", "Oh", "Ow", "Aw", "Woo"),                            # 胡
    ("Sun", "Soon", "Sng", "Suen"),                             # 孙
    ("Luo", "Lo", "Loh", "Law", "Lauw"),                        # 罗
    ("Cai", "Chua", "Tjoa", "Choi", "Tsai", "Chai"),            # 蔡
    ("Hong", "Ang", "Hung"),                                    # 洪
    ("Shi", "Sie", "Si", "Sze"),                                # 施
    ("Qiu", "Khoe", "Khoo", "Yau", "Hiew"),                     # 邱
    ("Weng", "Ong", "Yung"),                                    # 翁
)
# Pinyin initials and finals -> Wade-Giles (apostrophes dropped, as in passports).
_WADE_INITIALS: Final = (("zh", "ch"), ("ch", "ch"), ("sh", "sh"), ("q", "ch"), ("x", "hs"),
                         ("j", "ch"), ("z", "ts"), ("c", "ts"), ("r", "j"), ("b", "p"),
                         ("d", "t"), ("g", "k"))
_WADE_FINALS: Final = (("iong", "iung"), ("ong", "ung"), ("ian", "ien"), ("ie", "ieh"),
                       ("uo", "o"), ("you", "yu"))


def wade_giles(word: str) -> str | None:
    """A Pinyin syllable (given name) in Wade-Giles: Qiang -> Chiang, Xin -> Hsin."""
    lower = word.lower()
    out = lower
    for p, w in _WADE_INITIALS:
        if lower.startswith(p):
            out = w + lower[len(p):]
            break
    for p, w in _WADE_FINALS:
        if out.endswith(p) or (p == "you" and out == p):
            out = out[: len(out) - len(p)] + w
            break
    return _like(word, out) if out != lower else None


# --- Short forms of given names -----------------------------------------------------------
SHORT_FORMS: Final[dict[str, tuple[str, ...]]] = {
    "Muhammad": ("Muh.", "Moh.", "Mhd.", "Mohd.", "M."), "Mochammad": ("Moch.", "M."),
    "Mohammed": ("Mohd.", "M."), "Ahmad": ("Ahm.", "A."), "Abdul": ("Abd.",),
    "Siti": ("St.",), "Nurul": ("Nur",), "Johannes": ("Johan", "Jan", "Hans", "Joh."),
    "Yohanes": ("Yohan", "Johan", "Yo."), "Hendrik": ("Henk", "Hendri"),
    "Cornelis": ("Kees", "Cor"), "Willem": ("Wim",), "Pieter": ("Piet",),
    "Elisabeth": ("Lies", "Elis", "Betty"), "Fransiskus": ("Frans", "Fransis"),
    "Antonius": ("Anton", "Toni"), "Stefanus": ("Stefan",), "Benyamin": ("Benny", "Ben"),
    "Petrus": ("Piet",), "Michael": ("Mike", "Mikael"), "William": ("Will", "Bill"),
    "Thomas": ("Tom",), "Daniel": ("Dan",), "Matthew": ("Matt",), "Andrew": ("Andy",),
    "James": ("Jim", "Jimmy"), "Robert": ("Rob", "Bob"), "Jonathan": ("Jon", "Jonatan"),
    "Samuel": ("Sam",), "Christian": ("Chris",), "Ignatius": ("Ignas",),
    "Magdalena": ("Lena", "Magda"), "Wilhelmina": ("Mina", "Wilma"),
    "Octavianus": ("Octa", "Oktavianus"), "Fransiska": ("Siska",), "Yosephine": ("Yosefin",),
    "Theresia": ("Tresia", "Resi"), "Veronika": ("Vero",), "Natalia": ("Natali",),
    "Jeffry": ("Jef",), "Yulius": ("Yul",), "Kristina": ("Tina",), "Sulistyo": ("Sulis",),
    "Rahmawati": ("Rahma",), "Nurhayati": ("Nur",), "Hidayat": ("Dayat",),
}
_LONG_FORMS: Final[dict[str, tuple[str, ...]]] = {}
for _long, _shorts in SHORT_FORMS.items():
    for _short in _shorts:
        if not _short.endswith("."):
            _LONG_FORMS[_short] = (*_LONG_FORMS.get(_short, ()), _long)


def short_form(rng: random.Random, words: list[str]) -> list[str] | None:
    """One given name in its short form (Johannes -> Johan), or a short form written out."""
    options = [i for i, w in enumerate(words[:-1] if len(words) > 1 else words)
               if w in SHORT_FORMS or w in _LONG_FORMS]
    if not options:
        return None
    i = rng.choice(options)
    table = SHORT_FORMS if words[i] in SHORT_FORMS else _LONG_FORMS
    return [*words[:i], rng.choice(table[words[i]]), *words[i + 1:]]


# --- Word classes (for the evaluation's "same written name") -----------------------------
def spelling_classes() -> list[frozenset[str]]:
    """Sets of lower-case spellings of one name from the tables above (surnames by
    character, a long form with its short forms). A spelling may be in several."""
    out = [frozenset(s.lower() for s in group) for group in CHINESE_SURNAMES]
    out += [frozenset({k.lower(), *(s.lower().rstrip(".") for s in v)})
            for k, v in SHORT_FORMS.items()]
    return out


_CLASSES: Final = spelling_classes()
_CLASS_OF: Final[dict[str, frozenset[int]]] = {}
for _ci, _group in enumerate(_CLASSES):
    for _spelling in _group:
        _CLASS_OF[_spelling] = _CLASS_OF.get(_spelling, frozenset()) | {_ci}


def modern(word: str) -> str:
    """A lower-case word in one reference spelling, by rule: old Indonesian spelling to
    EYD, Arabic romanisation letters merged (o/u, e/i, doubled letters, -ah, q/k,
    dz/dh/z, ts/th/s, sh/sy, kh/ch, ay/ei/ai, aw/au, ee/oo, ou). Used to decide whether
    two written words are the same name; deliberately coarse."""
    w = word
    if re.search(r"oe|dj|tj|sj|nj", w):
        w = _respell(w, _OLD_TO_EYD, {o for o, _ in _OLD_TO_EYD})
    for pattern, new in ((r"ou", "u"), (r"oo", "u"), (r"ee", "i"), (r"ch", "kh"),
                         (r"kh", "k"), (r"dz|dh", "z"), (r"ts|th", "s"), (r"sh", "sy"),
                         (r"ay|ei|ae", "ai"), (r"aw", "au"), (r"q", "k"), (r"(.)\1", r"\1"),
                         (r"(?<=.)ah$", "a"), (r"ie$", "i"), (r"y$", "i"), (r"o", "u"),
                         (r"^e", "i"), (r"(?<=[^aeiou])e(?=[^aeiou])", "a")):
        w = re.sub(pattern, new, w)
    return w


def word_classes(word: str) -> frozenset[str]:
    """Keys under which a lower-case written word is the same name as another: its
    reference spelling, and the table classes it belongs to."""
    keys = {"w:" + modern(word)}
    keys.update(f"c:{ci}" for ci in _CLASS_OF.get(word, ()))
    return frozenset(keys)


def same_word(a: str, b: str) -> bool:
    """Two lower-case written words are spellings of the same name (see word_classes)."""
    return a == b or bool(word_classes(a) & word_classes(b))


# --- Name changes ----------------------------------------------------------------------
_TYPO_LETTERS: Final = "aeioubdgkmnrst"
_OCR: Final = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2", "G": "6", "o": "0",
               "l": "1", "i": "1", "s": "5"}
_PARTICLE_WORDS: Final = frozenset({"bin", "binti", "van", "der", "den", "de", "al", "el"})
_TITLES: Final = ("H.", "Hj.", "Dr.", "Ir.", "Drs.", "Bapak", "Ibu", "Mr.", "Tn.", "Prof.")
_DEGREES: Final = (", S.H.", ", S.E.", ", M.M.", " S.Kom", ", M.Sc.", ", Ph.D.")


def _typo(rng: random.Random, word: str) -> str:
    """One keyboard-style error that changes the word: swap, drop, double or replace."""
    while True:
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(4)
        if kind == 0 and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == 1:
            return word[:i] + word[i + 1:]
        if kind == 2 and word[i] not in (word[i - 1], word[i + 1]):
            return word[:i] + word[i] + word[i:]  # a doubled letter where none was
        if kind == 3:
            letter = rng.choice([c for c in _TYPO_LETTERS if c != word[i].lower()])
            return word[:i] + letter + word[i + 1:]


def _pick(rng: random.Random, words: list[str], ok: Callable[[str], bool]) -> int | None:
    options = [i for i, w in enumerate(words) if ok(w)]
    return rng.choice(options) if options else None


def _replace(words: list[str], i: int, new: str) -> list[str]:
    return [*words[:i], *new.split(), *words[i + 1:]]


def _is_name(w: str) -> bool:
    return w.isalpha() and w.lower() not in _PARTICLE_WORDS and len(w) > 1


def _kind_typo(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    i = _pick(rng, words, lambda w: _is_name(w) and len(w) >= 5)
    return None if i is None else _replace(words, i, _typo(rng, words[i]))


def _kind_typos(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    first = _kind_typo(rng, words)
    return None if first is None else _kind_typo(rng, first)


def _kind_short_deletion(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    i = _pick(rng, words, lambda w: _is_name(w) and 3 <= len(w) <= 4)
    if i is None:
        return None
    j = rng.randrange(1, len(words[i]))
    return _replace(words, i, words[i][:j] + words[i][j + 1:])


def _kind_old_spelling(rng: random.Random, words: list[str], nationality: str = "",
                       **_: object) -> list[str] | None:
    if nationality != "IDN":
        return None
    options = [(i, s) for i, w in enumerate(words) if _is_name(w)
               and (s := old_spelling(rng, w)) is not None]
    if not options:
        return None
    i, spelt = rng.choice(options)
    return _replace(words, i, spelt)


def _kind_arabic(rng: random.Random, words: list[str], arabic: frozenset[str] = frozenset(),
                 **_: object) -> list[str] | None:
    options = [(i, s) for i, w in enumerate(words) if w in arabic
               and (s := arabic_spelling(rng, w)) is not None]
    if not options:
        return None
    i, spelt = rng.choice(options)
    return _replace(words, i, spelt)


def _kind_compound(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    return arabic_compound(rng, words)


def _kind_chinese(rng: random.Random, words: list[str], chinese: frozenset[str] = frozenset(),
                  **_: object) -> list[str] | None:
    options: list[tuple[int, str]] = []
    for i, w in enumerate(words):
        if w not in chinese:
            continue  # Lee in James Lee is an English surname
        groups = [g for g in CHINESE_SURNAMES if w in g]
        if groups and (i == 0 or i == len(words) - 1):
            group = rng.choice(groups)
            options.append((i, rng.choice([s for s in group if s != w])))
        elif i > 0 and (wg := wade_giles(w)) is not None and any(
                words[0] in g[:1] for g in CHINESE_SURNAMES):
            options.append((i, wg))  # a Pinyin given name after a Pinyin surname
    if not options:
        return None
    i, spelt = rng.choice(options)
    return _replace(words, i, spelt)


def _kind_short_form(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    return short_form(rng, words)


def _kind_initial(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    names = [i for i, w in enumerate(words) if _is_name(w)]
    if len(names) < 3:
        return None
    i = rng.choice(names[:-1])
    return _replace(words, i, words[i][0] + ".")


def _kind_dropped(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    names = [i for i, w in enumerate(words) if _is_name(w)]
    if len(names) < 3:
        return None
    i = rng.choice(names[1:-1])
    return [*words[:i], *words[i + 1:]]


def _kind_dropped_respelt(rng: random.Random, words: list[str], **kw: object
                          ) -> list[str] | None:
    dropped = _kind_dropped(rng, words)
    if dropped is None:
        return None
    for change in rng.sample((_kind_old_spelling, _kind_arabic, _kind_chinese, _kind_typo), 4):
        done: list[str] | None = change(rng, dropped, **kw)  # type: ignore[operator]
        if done is not None:
            return done
    return None


def _units(words: list[str]) -> list[list[str]]:
    """Words that move together: a particle or a Balinese I/Ni with the name it stands
    before (bin Ismail, van der Berg, I Wayan)."""
    out: list[list[str]] = []
    pending: list[str] = []
    for w in words:
        pending.append(w)
        if w.lower() not in _PARTICLE_WORDS and w not in ("I", "Ni"):
            out.append(pending)
            pending = []
    if pending:
        out.append(pending)
    return out


def _kind_reordered(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    units = _units(words)
    # Rotations as clerks write them: never starting with "bin ..." or "van ...".
    starts = [k for k in range(1, len(units)) if units[k][0].lower() not in _PARTICLE_WORDS]
    if not starts:
        return None
    k = rng.choice(starts)
    return [w for unit in units[k:] + units[:k] for w in unit]


def _kind_space_lost(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    if len(words) < 2:
        return None
    i = rng.randrange(len(words) - 1)
    return [*words[:i], words[i] + words[i + 1], *words[i + 2:]]


def _kind_space_added(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    i = _pick(rng, words, lambda w: _is_name(w) and len(w) >= 7)
    if i is None:
        return None
    w = words[i]
    cut = rng.randrange(3, len(w) - 2)
    return _replace(words, i, f"{w[:cut]} {w[cut:].capitalize()}")


def _kind_particle_dropped(rng: random.Random, words: list[str], **_: object
                           ) -> list[str] | None:
    i = _pick(rng, words, lambda w: w.lower() in _PARTICLE_WORDS or w.lower().startswith(
        ("al-", "el-")))
    if i is None:
        return None
    w = words[i]
    if "-" in w:
        return _replace(words, i, w.split("-", 1)[1])
    # Particles that stand together go together (van der, van den).
    start, end = i, i + 1
    while start > 0 and words[start - 1].lower() in _PARTICLE_WORDS:
        start -= 1
    while end < len(words) - 1 and words[end].lower() in _PARTICLE_WORDS:
        end += 1
    return [*words[:start], *words[end:]]


def _kind_particle_added(rng: random.Random, words: list[str], sex: str = "M",
                         arabic: frozenset[str] = frozenset(), **_: object) -> list[str] | None:
    if len(words) < 3 or any(w.lower() in _PARTICLE_WORDS for w in words):
        return None
    # A father's name after two given names: Ahmad Fauzi Ismail -> Ahmad Fauzi bin Ismail.
    if words[-1] in arabic and words[-2].lower() not in ("nur", "abdul", "abu", "siti"):
        return [*words[:-1], "binti" if sex == "F" else "bin", words[-1]]
    return None


def _kind_ocr(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    text = " ".join(words).upper()
    spots = [i for i, c in enumerate(text) if c in _OCR]
    if not spots:
        return None
    i = rng.choice(spots)
    return (text[:i] + _OCR[text[i]] + text[i + 1:]).split()


def _kind_mrz(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    units = _units(words)
    if len(units) < 2:
        return None
    # ICAO 9303: primary identifier (surname) << secondary identifiers, spaces and
    # hyphens as <; a name without a surname (Malay bin/binti) is all primary. A clerk
    # pasting the MRZ line keeps the fillers; the field holds 39 characters.
    def mrz(part: list[str]) -> str:
        return "<".join(re.sub(r"[^A-Z]", "<", w.upper()) for w in part)

    if units[-1][0].lower() in ("bin", "binti"):
        line = mrz(words)
    else:
        line = mrz(units[-1]) + "<<" + mrz([w for unit in units[:-1] for w in unit])
    return [line[:39]]


def _kind_format(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    styled = [w.upper() for w in words] if rng.random() < 0.5 else list(words)
    if rng.random() < 0.5:
        return [rng.choice(_TITLES), *styled]
    if len(styled) > 1 and rng.random() < 0.5:
        return [styled[-1] + ",", *styled[:-1]]
    return [*styled[:-1], styled[-1] + rng.choice(_DEGREES)]


def _kind_as_listed(rng: random.Random, words: list[str], **_: object) -> list[str] | None:
    return list(words)


_NAME_CHANGES: Final[dict[str, Callable[..., list[str] | None]]] = {
    "as_listed": _kind_as_listed, "format": _kind_format, "old_spelling": _kind_old_spelling,
    "arabic_romanisation": _kind_arabic, "arabic_compound": _kind_compound,
    "chinese_romanisation": _kind_chinese, "short_form": _kind_short_form,
    "initial": _kind_initial, "dropped_middle": _kind_dropped, "reordered": _kind_reordered,
    "space_lost": _kind_space_lost, "space_added": _kind_space_added,
    "particle_dropped": _kind_particle_dropped, "particle_added": _kind_particle_added,
    "typo": _kind_typo, "short_token_deletion": _kind_short_deletion,
    "multiple_typos": _kind_typos, "ocr_confusion": _kind_ocr, "mrz_form": _kind_mrz,
    "dropped_and_respelt": _kind_dropped_respelt,
}
NAME_KINDS: Final = tuple(_NAME_CHANGES)


def change_name(rng: random.Random, kind: str, name: str, *, nationality: str = "",
                sex: str = "M", arabic: frozenset[str] = frozenset(),
                chinese: frozenset[str] = frozenset()) -> str | None:
    """`name` changed the `kind` way, or None when that change does not apply.
    `arabic`: words that are Arabic-origin names (they get Arabic romanisations and
    may take bin/binti); `chinese`: words that are Chinese names (romanised anew)."""
    words = name.split()
    out = _NAME_CHANGES[kind](rng, words, nationality=nationality, sex=sex, arabic=arabic,
                              chinese=chinese)
    return None if out is None else " ".join(out)


# --- Dates of birth ----------------------------------------------------------------------
DOB_KINDS: Final = ("dob_placeholder_0101", "dob_placeholder_0000", "dob_placeholder_day",
                    "dob_year_only", "dob_missing", "dob_swapped", "dob_digit_typo",
                    "dob_day_off_by_one", "dob_year_off_by_one", "dob_listed_year_only")
_DIGIT_CONFUSIONS: Final = {"0": "86", "1": "74", "2": "7", "3": "8", "4": "1", "5": "6",
                            "6": "58", "7": "12", "8": "036", "9": "4"}


def _valid(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def change_dob(  # noqa: PLR0911, PLR0912 - one branch per documented kind reads best
        rng: random.Random, kind: str, listed: str) -> str | None:
    """A date of birth for a query about a person listed with `listed` (YYYY-MM-DD or
    YYYY), written the `kind` way; None when it does not apply or changes nothing."""
    full = len(listed) == 10
    if kind == "dob_listed_year_only":
        # The list knows only the year; the traveller's document has the whole date.
        if full:
            return None
        return (date(int(listed), 1, 1) + timedelta(days=rng.randrange(365))).isoformat()
    if not full:
        return None
    if kind == "dob_placeholder_0101":
        return None if listed[5:] == "01-01" else listed[:4] + "-01-01"
    if kind == "dob_placeholder_0000":
        return listed[:4] + "-00-00"
    if kind == "dob_placeholder_day":
        return None if listed[8:] == "01" else listed[:8] + "01"
    if kind == "dob_year_only":
        return listed[:4]
    if kind == "dob_missing":
        return ""
    if kind == "dob_swapped":
        swapped = f"{listed[:4]}-{listed[8:10]}-{listed[5:7]}"
        return swapped if swapped != listed and _valid(swapped) else None
    if kind == "dob_digit_typo":
        for _ in range(20):
            i = rng.choice((2, 3, 5, 6, 8, 9))
            typo = listed[:i] + rng.choice(_DIGIT_CONFUSIONS[listed[i]]) + listed[i + 1:]
            if _valid(typo):
                return typo
        return None
    if kind == "dob_day_off_by_one":
        born = date.fromisoformat(listed)
        return (born + timedelta(days=rng.choice((-1, 1)))).isoformat()
    if kind == "dob_year_off_by_one":
        moved = f"{int(listed[:4]) + rng.choice((-1, 1))}{listed[4:]}"
        return moved if _valid(moved) else None
    raise ValueError(f"unknown date kind {kind}")


# --- Nationality -------------------------------------------------------------------------
NATIONALITY_KINDS: Final = ("nationality_other", "nationality_dual")
# Second nationalities and mistaken ones met at Indonesian borders (neighbours, diaspora).
_NEIGHBOURS: Final = ("MYS", "SGP", "AUS", "NLD", "CHN", "SAU", "TLS", "PHL", "BRN", "YEM")


def change_nationality(rng: random.Random, kind: str, listed: str) -> str | None:
    """Another nationality than the listed one: a wrong one, or a second one the person
    also holds (the query shows the passport used, not the listed nationality)."""
    others = [c for c in _NEIGHBOURS if c != listed]
    if kind == "nationality_dual":
        return rng.choice(others[:5])
    return rng.choice(others)


def ascii_fold(text: str) -> str:
    """Lower case without accents (for comparing written words)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
