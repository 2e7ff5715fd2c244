"""Name normalisation for watchlist screening: comparison tokens and phonetic blocking keys.

A name becomes a tuple of comparison tokens: casefolded, diacritics stripped,
punctuation removed, honorifics and degrees dropped (H., Hj., Dr., Ir., S.H., ...),
patronymic and nobiliary particles dropped (bin, binti, al-, van der, de, ...),
spelling folded (old Indonesian spelling oe/dj/tj, doubled letters, sy/sh, q/k,
...), transliteration variants mapped to one key (Muhammad/Mohammed/Mohd, Yusuf/
Yusof/Yousef, ...) and name compounds joined (Abdul Rahman = Abdurrahman). Both
the watchlist and the query go through the same function, so a variant only has
to fold to the same token on both sides. The result is idempotent,
``normalise(normalise(x)) == normalise(x)``, except where a name start (Nur,
Abdul) stood before a particle that was dropped ("Nur binti Hadi" gives "nur
hadi", which as written would be the one name Nurhadi).

This module is pure computation: it never logs, prints or stores a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Final

__all__ = [
    "EQUIVALENTS",
    "PARTICLES",
    "TITLES",
    "NameKey",
    "analyse",
    "chinese_syllables",
    "fold",
    "given_names",
    "is_initial",
    "normalise",
    "ocr_letters",
    "phonetic_key",
    "sex_marker",
    "short_forms",
    "spellings",
    "strip_diacritics",
    "surname_classes",
    "tokens",
]

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_LETTERS: Final = str.maketrans({
    "ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ł": "l", "đ": "d", "ı": "i",
    "ħ": "h", "ŋ": "ng", "ß": "ss", "ʼ": "", "'": "", "’": "", "‘": "", "`": "", "´": "",
})
_SEPARATORS: Final = re.compile(r"[\s,;/()\[\]{}\"&+]+")
_NON_WORD: Final = re.compile(r"[^\w]+|_+")

# Spelling folds applied to every token, in order, until nothing changes. Each one
# merges spellings of the same sound that occur in Indonesian/Malay/Arabic/Dutch
# romanisations; applied to both sides they cannot cause a mismatch, only merge.
_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("oe", "u"),   # old (Van Ophuijsen) spelling: Soeharto = Suharto
    ("dj", "j"),   # old spelling: Djoko = Joko
    ("tj", "c"),   # old spelling: Tjahjono = Cahjono
    ("sj", "sh"),  # old spelling: Sjarif = Syarif
    ("sy", "sh"),  # Indonesian sy = Malay/English sh: Aisyah = Aishah
    ("nj", "ny"),  # old spelling: Njoman = Nyoman
    ("ph", "f"),   # Mustapha = Mustafa
    ("dh", "d"),   # Ramadhan = Ramadan
    ("th", "t"),   # Fathimah = Fatimah, Luthfi = Lutfi
    ("kh", "k"),   # Khadijah = Kadijah
    ("ck", "k"),   # Hock = Hok
    ("q", "k"),    # Rizqi = Rizki, Taufiq = Taufik
    ("ou", "u"),   # Yousef = Yusef, Nour = Nur
    ("ee", "i"),   # Ameen = Amin, Kareem = Karim
    ("oo", "u"),   # Noor = Nur
)
_DOUBLE: Final = re.compile(r"(.)\1+")
_TRAILING_Y: Final = re.compile(r"(?<=[b-df-hj-np-tv-z])y$")


# Letters that mark a word as written in the old (pre-1972) spelling, in which "j" is
# today's "y": Tanudjaja = Tanujaya, Tjahjono = Cahyono (but Joko stays Joko).
_OLD_SPELLING: Final = re.compile(r"dj|tj|sj|nj|oe")
_OLD_J: Final = re.compile(r"(?<![dtsn])j")
_FINAL_H: Final = re.compile(r"(?<=[a-z]{2}[aeiou])h$")


def _fold_once(token: str) -> str:
    if "j" in token and _OLD_SPELLING.search(token):
        token = _OLD_J.sub("y", token)
    for old, new in _RULES:
        if old in token:
            token = token.replace(old, new)
    token = _DOUBLE.sub(r"\1", token)
    token = _FINAL_H.sub("", token)  # Faridah = Farida, Aisyah = Aisya, Saleh = Sale
    return _TRAILING_Y.sub("i", token)  # Rizky = Rizki, Fauzy = Fauzi


@lru_cache(maxsize=65536)
def _spell(token: str) -> str:
    # Loop to a fixed point so the fold is idempotent whatever the rule order does.
    for _ in range(8):
        folded = _fold_once(token)
        if folded == token:
            break
        token = folded
    return token


def _folded_set(*words: str) -> frozenset[str]:
    return frozenset(_spell(w) for w in words)


# Honorifics and titles dropped from the start of a name (H. Ahmad, Prof. Dr. Ir. ...).
# "i"/"ni" are Balinese gender markers (I Made, Ni Luh), also only at the start.
TITLES: Final[frozenset[str]] = _folded_set(
    "h", "hj", "haji", "hajjah", "hajah", "kh", "kyai", "kiai", "ustadz", "ustaz", "ustadzah",
    "syekh", "sheikh", "shaikh", "syeikh", "dr", "drs", "dra", "drg", "ir", "prof", "tn", "ny",
    "nn", "nona", "nyonya", "tuan", "puan", "encik", "en", "cik", "sdr", "sdri", "bapak", "bpk",
    "ibu", "mr", "mrs", "ms", "miss", "mx", "mdm", "madam", "sir", "dato", "datuk", "datin",
    "tun", "tengku", "teuku", "tgk", "tuanku", "cut", "raden", "rm", "ra", "gusti", "cokorda",
    "i", "ni", "rev", "fr", "capt", "col", "gen", "brig", "kol", "letjen", "mayjen", "brigjen",
    "ipda", "iptu", "akp", "kompol", "akbp", "kombes",
)
# Balinese birth-order names, which follow the gender marker I (male) or Ni (female).
_BALI_ORDER: Final[frozenset[str]] = _folded_set(
    "wayan", "gede", "putu", "made", "kadek", "nengah", "nyoman", "komang", "ketut", "luh")
# Two-word titles; the first word alone can be a real name part (Tan is a surname).
_TITLE_PAIRS: Final[frozenset[tuple[str, str]]] = frozenset(
    (_spell(a), _spell(b)) for a, b in (
        ("tan", "sri"), ("puan", "sri"), ("ida", "bagus"), ("ida", "ayu"), ("anak", "agung"),
        ("sri", "paduka"), ("dato", "sri"), ("dato", "seri"), ("datuk", "seri"), ("datuk", "sri"),
        ("tan", "seri"), ("puan", "seri"),
    )
)
# Academic degrees and post-nominals dropped from the end (Ahmad, S.H., M.H.).
_DEGREES: Final[frozenset[str]] = _folded_set(
    "sh", "se", "mm", "mh", "mba", "spd", "spdi", "skom", "st", "mt", "msi", "ssos", "sag",
    "sip", "sked", "amd", "ssi", "msc", "phd", "bsc", "mpd", "mkes", "skm", "ak", "mag", "llm",
    "jr", "sr", "ii", "iii", "iv", "mkom", "shi", "lc", "dipl",
)
_DOTTED: Final = TITLES | _DEGREES
# Patronymic and nobiliary particles: neither required to match nor a cause of mismatch.
PARTICLES: Final[frozenset[str]] = _folded_set(
    "bin", "binti", "bt", "bte", "bn", "binte", "bint", "ibn", "ibnu", "al", "el", "van", "von",
    "der", "den", "de", "da", "di", "du", "del", "della", "dela", "dos", "das", "ter", "ten",
    "la", "le", "vd", "vander", "vanden", "y", "ap",
)
# Arabic article forms that only count as particles when written as a hyphenated prefix
# (as-Sayyid, ad-Din): as plain words some of them are ordinary names elsewhere.
_ARTICLES: Final[frozenset[str]] = frozenset(
    {"al", "el", "ad", "an", "ar", "as", "at", "az", "ash", "ul", "ud", "ut", "ur"}
)
# Name starts that form one name with the next word: Abdul Rahman = Abdurrahman,
# Abu Bakar = Abubakar, Nur Aini = Nuraini (all spelling forms after folding).
_JOINERS: Final[frozenset[str]] = _folded_set(
    "abdul", "abd", "abdu", "abdel", "abdal", "abdol", "abdool", "abdoul", "abdil", "abu",
    "nur", "nurul", "noor", "nour", "noer", "nor",
)
# Folded "abd..." compounds: the article (ul/el/ur/us ... after doubling collapse) and core.
_ABD: Final = re.compile(r"abd(?:ul|el|al|ol|il|u|e|a|o|i)?(?P<core>[a-z]{3,})")
_NURUL: Final = re.compile(r"nurul(?P<core>[a-z]{3,})")

# Transliteration groups: the first spelling is the key, every other maps to it.
_GROUPS: Final[tuple[tuple[str, ...], ...]] = (
    ("muhammad", "mohammed", "mohammad", "mohamad", "muhamad", "mohamed", "muhammed",
     "muhamed", "mohd", "muhd", "md", "mochammad", "mochamad", "moch", "muchammad",
     "muchamad", "mohamud", "mohummad", "mouhamed", "mohammod", "mamad"),
    ("ahmad", "ahmed", "achmad", "akhmad", "ahmet", "ahmat", "achmed"),
    ("yusuf", "yusof", "yousef", "yousuf", "youssef", "yusoff", "yousif", "yusup", "jusuf",
     "yosuf"),
    ("husein", "hussein", "husain", "hussain", "husin", "hussin", "hosein", "hossein", "husen",
     "hoesein"),
    ("hasan", "hassan", "hasen", "hasaan"),
    ("nur", "noor", "nour", "noer", "nor", "nurr"),
    ("siti", "sity", "sitti"),
    ("abdul", "abd", "abdu", "abdel", "abdal", "abdol", "abdool", "abdoul", "abdil"),
    ("rahman", "rachman", "rehman", "rahmaan", "rakhman"),
    ("abdulah", "abdullah", "abdallah", "abdillah", "abdollah", "abdulla"),
    ("aziz", "azis", "azeez", "asis"),
    ("karim", "kareem", "karem", "kariem"),
    ("hamid", "hameed", "hamied"),
    ("latif", "lateef", "lathif", "latip", "latief"),
    ("ibrahim", "ebrahim", "ibraheem", "ibrahem", "brahim", "ibrahiem"),
    ("ismail", "ismael", "esmail", "ismayil", "ismaiel"),
    ("mustafa", "mustapha", "mostafa", "moustafa", "mustofa", "mustopa"),
    ("abubakar", "abubakr", "abubaker", "abubakir"),
    ("umar", "omar", "oemar", "omer"),
    ("usman", "osman", "uthman", "othman", "utsman", "oesman"),
    ("fatimah", "fatima", "fatma", "fathimah", "fatimeh"),
    ("aisyah", "aishah", "aisha", "aysha", "ayesha", "aisah", "aishat"),
    ("khadijah", "khadija", "kadijah", "hadijah", "chadijah", "khadeeja"),
    ("zainab", "zaynab", "zeinab", "zenab"),
    ("maryam", "mariam", "meriam", "maryum"),
    ("yahya", "yahaya", "jahja", "yahia"),
    ("zakaria", "zakariya", "zakariah", "zakariyya", "zakariya"),
    ("sulaiman", "suleiman", "sulayman", "soleiman", "sulaeman", "suleyman", "soelaiman"),
    ("khalid", "khaled", "kholid", "chalid"),
    ("rasyid", "rashid", "rasid", "rashed", "rosyid", "rasheed"),
    ("syarif", "sharif", "shareef", "syarief", "sjarif", "sharief"),
    ("syamsul", "shamsul", "samsul", "sjamsul"),
    ("zulkifli", "zulkifly", "dzulkifli", "zulkefli"),
    ("fauzi", "fawzi", "fauzy", "fawzy"),
    ("rizki", "rizky", "rizqi", "rezki", "rizqy", "rizkie", "riski"),
    ("ramadhan", "ramadan", "romadhon", "ramadon", "romadon"),
    ("taufik", "taufiq", "tawfiq", "tawfik", "taufiek", "topik"),
    ("amin", "ameen", "amien"),
    ("hamzah", "hamza"),
    ("idris", "idrees", "idriss"),
    ("yasin", "yaseen", "yassin", "yassine"),
    ("ilyas", "iljas", "ilias"),
    ("saleh", "salih", "shaleh", "soleh", "sholeh", "salleh", "saleeh"),
    ("wahyu", "wahju", "wahyoe"),
    ("cahyono", "tjahjono", "cahjono", "tjahyono"),
    ("yohanes", "johannes", "johanes", "yohannes", "johanis", "yohanis"),
    ("lim", "liem", "lin"),
    ("ong", "ang"),
    ("hafiz", "hafidz", "hafeez", "hafid"),
    ("mahmud", "mahmood", "mahmoud", "machmud"),
    ("syafii", "shafii", "syafi'i", "safii"),
    ("iskandar", "iskander", "eskandar"),
    ("kamaruddin", "kamarudin", "qamaruddin"),
    ("zainal", "zainol", "zainul"),
)


# Chinese surnames by character and the ways people of Chinese descent write them:
# Pinyin (mainland China), Wade-Giles (Taiwan), Cantonese (Hong Kong, Macao, Malaysia),
# Hokkien, Teochew and Hakka (Singapore, Malaysia, Indonesia), and the Dutch-era
# Indonesian spellings (Oei, Tjoa, Liem, Kwee). Written for this project from general
# knowledge of those romanisations (not from the evaluation's variant source). One spelling
# can stand for several characters (Ng: 黄, 吴), so these are overlapping classes, not keys.
_SURNAMES: Final[tuple[tuple[str, str], ...]] = (
    ("陈", "chen chan tan chin tjhin tjan"),
    ("林", "lin lam lim liem lum"),
    ("黄", "huang wong oei ooi ng wee uy bong"),
    ("吴", "wu ng goh go gouw woo ngo"),
    ("张", "zhang chang cheung cheong teo teoh tio thio chong"),
    ("王", "wang wong ong heng"),
    ("李", "li lee lie lei ly"),
    ("刘", "liu lau lao low liew lauw"),
    ("杨", "yang yeung yeo yeoh yong young njoo"),
    ("赵", "zhao chao chiu chew tio"),
    ("周", "zhou chou chow chau chew tjioe"),
    ("许", "xu hsu hui khoo koh kho khouw"),
    ("郭", "guo kuo kwok kwee kwik quek kok"),
    ("何", "he ho"),
    ("高", "gao kao ko koh"),
    ("郑", "zheng cheng cheang the tay tee teh"),
    ("梁", "liang leung leong nio neo liong"),
    ("谢", "xie hsieh tse cheah chia sia seah tjia"),
    ("蔡", "cai tsai choi tsoi chua tjoa chai"),
    ("洪", "hong hung ang"),
    ("施", "shi shih sze sie see"),
    ("邱", "qiu chiu yau khoo khu khoe hiew hew"),
    ("苏", "su so soh soo souw"),
    ("叶", "ye yeh yip ip yap yeap"),
    ("萧", "xiao hsiao siu siew seow siauw"),
    ("曾", "zeng tseng tsang tjan"),
    ("江", "jiang chiang kong kang"),
    ("徐", "xu hsu tsui chui chee"),
    ("马", "ma mah beh"),
    ("朱", "zhu chu chue choo chee tjoe"),
    ("胡", "hu woo oh foo ouw"),
    ("孙", "sun suen soon sng"),
    ("罗", "luo lo law loh"),
    ("宋", "song sung soong"),
    ("唐", "tang tong tng"),
    ("韩", "han hon"),
    ("冯", "feng fung fong pang"),
    ("彭", "peng pang phang"),
    ("邓", "deng teng tang then"),
    ("吕", "lu lui loo"),
    ("翁", "weng ong yung eng"),
    ("曹", "cao tsao tso cho chou"),
)


@lru_cache(maxsize=1)
def _surname_classes() -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for ci, (_, spellings) in enumerate(_SURNAMES):
        for spelling in spellings.split():
            out.setdefault(fold(spelling), set()).add(ci)
    return {k: frozenset(v) for k, v in out.items()}


def surname_classes(token: str) -> frozenset[int]:
    """The Chinese surname characters a comparison token can be a romanisation of."""
    return _surname_classes().get(token, frozenset())


# Pinyin syllables and their Wade-Giles form (Taiwan, older passports: Qiang = Chiang,
# Xin = Hsin, Jie = Chieh, Dong = Tung, Bo = Po), by the rules of the two systems, with
# the apostrophes and the umlaut that passports leave out. Initials and the finals each
# may take (loosely: a few impossible syllables are harmless, they never occur).
_PINYIN: Final[tuple[tuple[str, str], ...]] = (
    ("b p m", "a o ai ei ao an en ang eng u i ie iao ian in ing"),
    ("f", "a o ei an en ang eng u ou"),
    ("m", "e ou iu"),
    ("d t n l", "a e ai ei ao ou an en ang eng ong u uo ui uan un i ie iao iu ian in ing"),
    ("n l", "v ve iang"),
    ("g k h", "a e ai ei ao ou an en ang eng ong u ua uo uai ui uan un uang"),
    ("j q x", "i ia ie iao iu ian in iang ing iong u ue uan un"),
    ("zh ch sh r z c s", "a e ai ei ao ou an en ang eng ong u uo ui uan un i"),
    ("zh ch sh", "ua uai uang"),
    ("y", "a o e ao ou an in ang ing ong u ue uan un i"),
    ("w", "a o ai ei an en ang eng u"),
    ("", "a o e ai ei ao ou an en ang eng er"),
)
_WG_INITIALS: Final = {"b": "p", "d": "t", "g": "k", "zh": "ch", "j": "ch", "q": "ch",
                       "x": "hs", "z": "ts", "c": "ts", "r": "j"}
_WG_WHOLE: Final = {"zhi": "chih", "chi": "chih", "shi": "shih", "ri": "jih", "zi": "tzu",
                    "ci": "tzu", "si": "ssu", "yi": "i", "you": "yu", "yan": "yen", "ye": "yeh",
                    "yong": "yung", "yue": "yueh", "er": "erh"}
_WG_FINALS: Final = {"iong": "iung", "ong": "ung", "ian": "ien", "ie": "ieh", "ue": "ueh",
                     "ve": "ueh", "v": "u"}


def _wade_giles(initial: str, final: str) -> str:
    """The Wade-Giles form of one Pinyin syllable, without apostrophes or umlaut."""
    whole = _WG_WHOLE.get(initial + final)
    if whole is not None:
        return whole
    if final in ("ui", "un") and initial in ("g", "k"):
        final = "uei" if final == "ui" else "un"
    elif final == "e" and initial in ("g", "k", "h"):
        final = "o"  # ge, ke, he: ko, ho
    elif final == "uo" and initial not in ("g", "k", "h", "sh"):
        final = "o"  # duo, luo, zhuo: to, lo, cho (guo, shuo keep it: kuo, shuo)
    else:
        final = _WG_FINALS.get(final, final)
    return _WG_INITIALS.get(initial, initial) + final


@lru_cache(maxsize=1)
def _syllable_classes() -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    ci = 0
    for initials, finals in _PINYIN:
        for initial in initials.split() or [""]:
            for final in finals.split():
                pinyin = (initial + final).replace("v", "u")
                for spelling in {pinyin, _wade_giles(initial, final)}:
                    out.setdefault(fold(spelling), set()).add(ci)
                ci += 1
    return {k: frozenset(v) for k, v in out.items()}


def chinese_syllables(token: str) -> frozenset[int]:
    """The Pinyin syllables a comparison token can be written for, in Pinyin or in
    Wade-Giles (a Wade-Giles form without its apostrophe stands for two: Po = Bo, Po)."""
    return _syllable_classes().get(token, frozenset())


# Short forms of given names, each line a name and the forms it is called by, written
# for this project from general knowledge of naming in Indonesia, the Netherlands and
# the English-speaking countries (and the Latin forms Indonesian Christians are
# baptised with). A form can shorten several names (Chris, Ben), so these are
# overlapping classes, like the surnames. Left out on purpose: forms that are common
# names of their own among the listed populations (Yan is a Chinese name, Ari, Rina,
# Yati and Ayu are Javanese ones), which would make namesakes of strangers.
_SHORT_FORMS: Final[tuple[str, ...]] = (
    # English
    "william will bill billy willy liam wil", "james jim jimmy jamie jem",
    "john jack johnny jon", "jonathan jon jonny nathan", "thomas tom tommy",
    "michael mike mick micky mickey mikey", "david dave davy davey", "daniel dan danny",
    "matthew matt matty", "andrew andy drew", "oliver ollie olly",
    "robert rob bob bobby robbie bert", "richard rick dick rich ricky richie",
    "charles charlie chuck chas", "edward ed eddie ted ned", "joseph joe joey jo",
    "benjamin ben benny benji", "samuel sam sammy", "christopher chris kit",
    "anthony tony", "stephen steven steve stevie", "nicholas nick nicky",
    "alexander alex sandy xander", "henry harry hank hal", "timothy tim timmy",
    "patrick pat paddy", "peter pete", "gregory greg", "frederick fred freddie",
    "lawrence larry", "raymond ray", "ronald ron ronnie", "donald don donnie",
    "kenneth ken kenny", "gerald gerry jerry", "jeffrey jeff", "leonard len lenny leo",
    "philip phil pip", "vincent vince", "zachary zach zack", "nathaniel nat nate nathan",
    "margaret maggie meg peggy greta", "elizabeth liz lizzie beth betty eliza libby bess",
    "catherine kate kathy cathy katie kitty", "olivia liv livvy",
    "charlotte lottie charlie", "emily emmy millie", "sarah sally sadie",
    "jessica jess jessie", "emma emmy", "amelia millie amy", "hannah annie",
    "sophia sophie soph", "grace gracie", "patricia pat patty trish tricia",
    "deborah debbie debby deb", "rebecca becky becca", "susan sue susie suzy",
    "jennifer jen jenny", "victoria vicky tori", "christina christine tina chris",
    "alexandra alex lexie", "abigail abby", "dorothy dot dottie dolly",
    "mary molly polly", "helen nell nellie", "eleanor ellie nora", "theresa terry tess tessa",
    "natalie nat", "martha marty mattie", "isabel isabella bella izzy",
    # Dutch
    "johannes jan hans johan joop hannes jo", "cornelis kees cor niels",
    "hendrik henk hein rik", "willem wim pim wil", "pieter piet peter", "petrus piet peter",
    "jacobus koos jaap jacob", "gerardus gerard gert geert", "adrianus adriaan ad",
    "antonius anton toon ton teun tony", "franciscus frans sjaak", "theodorus theo dorus",
    "josephus joop sjef jos", "lucas luuk", "abraham bram", "samuel sem", "daniel daan",
    "matthijs thijs", "nicolaas klaas niek", "martinus tinus", "frederik frits freek",
    "leonardus leo leen", "hubertus huub", "everardus evert", "bernardus ben bernard",
    "gijsbertus gijs", "wilhelmina mien wil mina", "johanna anneke hanna jo",
    "catharina toos tine", "elisabeth lies els liesbeth betje",
    "maria mies marijke ria", "susanna sanne suus", "charlotte lotte", "sophia fie",
    "anna anneke", "petronella nel",
    # Latin forms of Indonesian Christians
    "yohanes johan jan hans", "paulus paul", "markus mark", "yosef yosep yos",
    "fransiskus frans sisko", "stefanus stef stefan stevan", "benyamin benny ben",
    "ignatius ignas", "christian chris kris", "elisabeth elis betty lisa",
    "theresia tres resi", "magdalena lena magda", "veronika vero", "yosephine yosi",
    "octavianus okta", "yulius yul", "agustinus agus gus", "kornelius nelis kornel",
    "nikolaus niko klaus", "hendrikus hendrik henk", "yakobus yakob kobus",
    "gregorius gregor", "alexander alex", "mikael mike", "fransiska siska",
    "kristina tina", "wilhelmina mina", "benediktus beni", "bartolomeus bartol",
    # Indonesian, Malay and Arabic names; the abbreviations of Muhammad in Indonesian
    # and Malaysian documents (Moh., Muh., Mhd.); Nurul is Nur with the article (nur al-)
    "muhammad mat mamat moh muh mhd mhmd", "nur nurul", "abdullah dollah", "ibrahim baim",
    "ismail mail",
    "yusuf ucup", "sulaiman leman", "zulkifli zul kifli", "hidayat dayat",
    "rahmat amat", "fatimah fatma", "khadijah dijah ijah", "zainab enab",
    "nuraini aini", "pratiwi tiwi", "puspita pipit", "kartika tika",
    # Filipino and Indian
    "jose pepe", "juan jun", "ramon mon", "francisco paco kiko", "manuel manny",
    "eduardo eddie", "rajesh raju", "ramesh ramu",
)


@lru_cache(maxsize=1)
def _short_form_classes() -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for ci, line in enumerate(_SHORT_FORMS):
        for spelling in line.split():
            out.setdefault(fold(spelling), set()).add(ci)
    return {k: frozenset(v) for k, v in out.items()}


def short_forms(token: str) -> frozenset[int]:
    """The given names (lines of the short-form table) a comparison token is a form of."""
    return _short_form_classes().get(token, frozenset())


@lru_cache(maxsize=1)
def _spellings() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for group in _GROUPS:
        key = _spell(group[0])
        out.setdefault(key, []).extend(w for w in group if w.isalpha())
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def spellings(token: str) -> tuple[str, ...]:
    """The written spellings a transliteration key stands for (muhamad: Mohammed, Mohd,
    ...), for comparing a typo with the letters as written; () for other tokens."""
    return _spellings().get(token, ())


def _canonical_map() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in _GROUPS:
        key = _spell(group[0])
        for spelling in group:
            table[_spell(spelling)] = key
    return table


EQUIVALENTS: Final[dict[str, str]] = _canonical_map()
"""Folded spelling -> folded key for transliteration variants (read-only by convention)."""


@lru_cache(maxsize=262144)
def fold(word: str) -> str:
    """The comparison key of one lower-case word: spelling folds, compounds, transliteration."""
    token = _spell(word)
    if token in EQUIVALENTS:
        return EQUIVALENTS[token]
    if token.startswith("abdul") and len(token) == 6:
        return token  # Abdul and an initial: the compound's initial (see _join)
    if token.startswith("abd") and (match := _ABD.fullmatch(token)) is not None:
        core = match["core"]
        token = _spell("abdul" + EQUIVALENTS.get(core, core))
    elif token.startswith("nurul") and (match := _NURUL.fullmatch(token)) is not None:
        token = _spell("nur" + match["core"])
    return EQUIVALENTS.get(token, token)


def strip_diacritics(text: str) -> str:
    """Casefold and remove accents (NFKD, combining marks dropped): 'Şükrü' -> 'sukru'."""
    text = text.casefold().translate(_LETTERS)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # NFKD can produce upper-case or new letters (e.g. ligatures); fold again.
    return stripped.casefold().translate(_LETTERS)


@lru_cache(maxsize=131072)
def _pieces(chunk: str) -> tuple[tuple[str, bool], ...]:
    """Words of one whitespace-free chunk, each flagged True when it is an Arabic article."""
    compact = chunk.replace(".", "")
    if "." in chunk and _spell(compact) in _DOTTED:
        return ((compact, False),)  # S.H., Hj., Dr. -> one word, classified later
    out: list[tuple[str, bool]] = []
    for dotted in chunk.split("."):
        parts = dotted.split("-")
        for i, part in enumerate(parts):
            words = [w for w in _NON_WORD.split(part) if w]
            article = i < len(parts) - 1 and len(words) == 1 and words[0] in _ARTICLES
            out.extend((w, article) for w in words)
    return tuple(out)


# "Servant of" compounds written with the Arabic article, assimilated or not, or
# abbreviated: Abd al-Hamid, Abd ar-Rahman, Abdur Rahman, Abd. Rahman, Abdel Rahman are
# all Abdul + the name (so they join like Abdul Rahman). Abd Allah is Abdullah.
_ABD_ARTICLE: Final = re.compile(
    r"\babd(?:ul|el|al|ur|us|ush|usy|ut|ud|un|uz)?(?:\.\s*|[\s-]+)"
    r"(?:(?:al|el|ar|as|ash|asy|at|ad|az|an|ul)[\s-]+)?(?=[a-z]{3})")
_NUR_ARTICLE: Final = re.compile(r"\bnur[\s-]+(?:al|el|ul)[\s-]+(?=[a-z]{3})")


# Digits that OCR and hurried typing put for letters (an upper-case O read as 0, I as 1,
# S as 5, B as 8, Z as 2, G as 6, E as 3).
_OCR_DIGITS: Final = str.maketrans("0125683", "OIZSGBE")


def ocr_letters(name: str) -> str:
    """The name with each digit read as the letter it is mistaken for (M0HD = MOHD, SR1
    = SRI): a name has no digits. Not part of `tokens`: the screening searches both."""
    return name.translate(_OCR_DIGITS)


def _words(name: str) -> list[tuple[str, bool]]:
    text = strip_diacritics(name)
    if "abd" in text:
        text = _ABD_ARTICLE.sub("abdul", text).replace("abdulallah", "abdullah")
    if "nur" in text:
        text = _NUR_ARTICLE.sub("nurul", text)
    words: list[tuple[str, bool]] = []
    for chunk in _SEPARATORS.split(text):
        if chunk:
            words.extend(_pieces(chunk))
    return words


def tokens(name: str) -> tuple[str, ...]:
    """The comparison tokens of a name, in written order.

    Titles are dropped from the start, degrees from the end, particles anywhere
    but last (a last word is a name: Rajesh Das); a name made only of such words
    keeps them (so no name normalises to nothing unless it has no letters).
    """
    return tuple(token for token, _ in _tokens(name))


def _tokens(name: str) -> tuple[tuple[str, str], ...]:
    """(comparison token, the same word as written: lower case, no accents) per token."""
    words = _words(name)
    folded = [(_spell(w), article) for w, article in words]
    start, end = 0, len(folded)
    while start < end:
        word = folded[start][0]
        if start + 1 < end and (word, folded[start + 1][0]) in _TITLE_PAIRS:
            start += 2
        elif word in TITLES or word in PARTICLES or folded[start][1]:
            start += 1
        else:
            break
    while end > start + 1 and folded[end - 1][0] in _DEGREES:
        end -= 1
    # "Last, First bin": written inverted, the particle of the family name ends it.
    inverted = "," in name
    kept = [
        (i, fold(w), words[i][0]) for i, (w, article) in enumerate(folded[start:end], start)
        # A lone "b" is the abbreviated "bin" only between two names; Balinese "I"/"Ni"
        # is a gender marker wherever it stands before a birth-order name.
        # A particle stands before a name; a last word is the name (Rajesh Das), unless
        # the name is written inverted (Boer, Sanne Lucas de).
        if not (article or (w in PARTICLES and (i < end - 1 or inverted))
                or (w == "b" and start < i < end - 1)
                or (w in ("i", "ni") and i + 1 < end and folded[i + 1][0] in _BALI_ORDER))
    ]
    if not kept:
        kept = [(i, fold(w), words[i][0]) for i, (w, _) in enumerate(folded)]
    return _join(kept)


def _join(words: list[tuple[int, str, str]]) -> tuple[tuple[str, str], ...]:
    """Join a name start (Abdul, Nur) with the next word when they were written side by
    side: Nur Hadi = Nurhadi, not Nur (bin) Hadi; Nur H. = "nurh", the compound's
    initial (it matches Nurhadi as an initial matches its name)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        at, word, raw = words[i]
        if word in _JOINERS and i + 1 < len(words) and words[i + 1][0] == at + 1:
            following = words[i + 1][1]
            if len(following) == 1:  # Nur(ul) H. -> "nurh": the compound's initial
                out.append((("nur" if word == "nurul" else word) + following,
                            raw + words[i + 1][2]))
            else:
                out.append((fold(word + following), raw + words[i + 1][2]))
            i += 2
        else:
            out.append((word, raw))
            i += 1
    return tuple(out)


_PATRONYMIC: Final = re.compile(r"\s(?:bin|binti|bte|binte|bint|ibn|ibnu|b\.|bt\.)\s", re.I)


def given_names(name: str) -> str | None:
    """The part of a name before its patronymic (bin/binti ...), if that is two words or more.

    Malay and Arab names are often written without the father's name ("Siti
    Aisyah" for "Siti Aisyah binti Hassan"); one word alone is too common to stand
    for the person, so it does not count.
    """
    match = _PATRONYMIC.search(name)
    if match is None:
        return None
    head = name[:match.start()]
    return head if len(tokens(head)) >= 2 else None


_MARKER: Final = re.compile(r"(?:^|[^a-z])n?i(?:[^a-z]|$)", re.IGNORECASE)


def sex_marker(name: str) -> str:
    """"M" or "F" when the name carries the Balinese gender marker I (male) or Ni
    (female) before a birth-order name (I Wayan, Ni Made), else "". The marker is no
    comparison token, but names with opposite markers are of two different persons."""
    if _MARKER.search(name) is None:
        return ""  # most names: no word I or Ni at all
    words = [_spell(w) for w, _ in _words(name)]
    for word, following in pairwise(words):
        if word in ("i", "ni") and following in _BALI_ORDER:
            return "M" if word == "i" else "F"
    return ""


def normalise(name: str) -> str:
    """The comparison tokens joined by single spaces (idempotent)."""
    return " ".join(tokens(name))


def is_initial(token: str) -> bool:
    """True for a one-letter token (an initial such as the M of 'M. Rizki')."""
    return len(token) == 1


# Consonant classes of the skeleton key: letters that romanisations of Indonesian,
# Malay, Arabic and Chinese names interchange (s/sh/sy/ts/th/z-like sibilants, c/ch/
# tj/j affricates, f/v/p, k/q/g/kh) count as one; vowels, h, w and y carry no weight.
_SKELETON: Final = str.maketrans({
    "a": None, "e": None, "i": None, "o": None, "u": None, "h": None, "w": None, "y": None,
    "z": "s", "x": "s", "c": "j", "v": "f", "p": "f", "q": "k", "g": "k",
})


@lru_cache(maxsize=262144)
def phonetic_key(token: str) -> str:
    """The consonant skeleton of a comparison token, upper case: its first letter (a
    vowel as "A") and then its consonants by class, repeats merged (Nasir/Naser = NSR,
    Syarif/Saref = SRF, Mahmud/Machmud = MMD). English metaphone fitted Indonesian,
    Arabic and Chinese names badly (Syarif and Sarif apart, Wahyu and Wahju apart).
    Upper case: a lookup key that never equals a lower-case token or deletion."""
    if not token.isascii() or not token.isalpha():
        return token.upper()
    first = "A" if token[0] in "aeiou" else token[0].translate(_SKELETON).upper() or "H"
    rest = _DOUBLE.sub(r"\1", token[1:].translate(_SKELETON))
    if rest[:1].upper() == first:
        rest = rest[1:]
    return first + rest.upper()


@dataclass(frozen=True, slots=True)
class NameKey:
    """A name's comparison tokens, one phonetic key per token and each token as written
    (lower case, no accents, no spelling folds; same order)."""

    tokens: tuple[str, ...]
    phonetic: tuple[str, ...]
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, tokens: Sequence[str], written: Sequence[str] = ()) -> NameKey:
        """The key of comparison tokens (and their written forms): phonetic keys added."""
        return cls(tuple(tokens), tuple(phonetic_key(t) for t in tokens), tuple(written))


def analyse(name: str) -> NameKey:
    """Tokens, phonetic keys and written forms of a name (a known transliteration, such
    as Mohd for Muhammad, is its token: the table knows better than the letters)."""
    pairs = _tokens(name)
    toks = tuple(token for token, _ in pairs)
    written = tuple(t if _spell(w) in EQUIVALENTS else w for t, w in pairs)
    return NameKey.of(toks, written)
