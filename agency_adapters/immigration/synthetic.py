"""Seeded synthetic cekal watchlist: plausible, reproducible, never real people.

`generate(size, seed)` returns the same records for the same arguments on any
machine (it uses only `random.Random(seed)`); a million records take about
half a minute. Names follow the naming customs of the people an Indonesian
watchlist holds (Javanese and Sundanese names without a family name,
Arabic-origin Muslim names, Batak and eastern-Indonesian clan names,
Chinese-Indonesian names, Balinese birth-order names, Malay "bin/binti"
names, Arab, Chinese, Dutch, English-speaking, Indian and Filipino names),
drawn from pools of a few hundred names each with a long-tailed (Zipf-like)
frequency, so a large list has the namesakes a real one has without being
mostly namesakes. `python -m agency_adapters.immigration.synthetic --size N
--out FILE.jsonl|.csv` writes the documented import format.
"""

from __future__ import annotations

import argparse
import itertools
import random
from bisect import bisect
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from agency_adapters.common.bulk import collector_paused
from agency_adapters.common.calendar import reference_date
from agency_adapters.immigration.orders import (
    LAW_2024,
    Decision,
    add_months,
    summary,
)
from agency_adapters.immigration.records import (
    IdentityDocument,
    WatchlistRecord,
    write_csv,
    write_jsonl,
)

SEED = 20111


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _javanese(stems: str, endings: str) -> tuple[str, ...]:
    # Javanese given names are built from a stem and an ending (Sur+yanto, Purw+aningsih).
    return tuple(s + (e[1:] if s[-1] == e[0] else e)
                 for s, e in itertools.product(stems.split(), endings.split()))


# Pools, most frequent first (the pick is Zipf-like by position).
JAVA_M: Final = _words(
    "Budi Agus Joko Slamet Bambang Eko Teguh Dedi Hendra Iwan Wahyu Heru Adi Dwi Tri Rudi "
    "Yudi Andi Bayu Dimas Fajar Gilang Hadi Indra Krisna Lukman Mulyadi Nanang Oki Prasetyo "
    "Rahmat Sigit Tono Wawan Yoga Aris Bagus Catur Danang Eddy Ferry Galih Hary Irwan Jaka "
    "Kukuh Lilik Margono Nugroho Purnomo Rachmat Sarwono Tugimin Untung Waluyo Yanto Ari "
    "Bowo Darmaji Endro Gatot Harjo Imam Jarwo Karyo Legiman Mardi Ngadimin Paijo Ratno "
    "Sugeng Tumijo Warsito Widodo Sutrisno Suparman Sukirman Paiman Suwarno Tukiman Wiji "
    "Arif Ardi Asep Dadang Ujang Cecep Yayat Deden Engkos Ade Aceng Yana Rudy Tatang Ucup "
    "Dodi Hendi Enjang Jajang Wahyudi Setyo Anton Gunadi Kusnadi Rohadi") + _javanese(
    "Sur Har Pur Sug Supr Sus Sut Wid Set Yud Kus Sul Mul Sap Rus Mar Sar Sub Sum War "
    "Jum Kar Tar Darm Sam Sant Wal Wart Triy", "yanto iyanto ono yono adi anto")
JAVA_F: Final = _words(
    "Sri Dewi Endang Ratna Wulan Indah Rina Yuni Lestari Ayu Maya Intan Fitri Putri Rini "
    "Tuti Wati Yanti Ani Dian Eka Fenny Gita Hesti Ika Juwita Kartika Lina Mega Nita Okta "
    "Puspita Ratih Sinta Tri Utami Vera Winda Yulia Ambar Budiarti Citra Dyah Erna Fransiska "
    "Handayani Irma Kurnia Lusi Mira Ningsih Pratiwi Rahayu Susanti Tika Umi Widya Yeni "
    "Neneng Euis Imas Cucu Enok Iis Lilis Nenden Popon Teti Yati Elis Ela") + _javanese(
    "Sur Har Pur Sug Sus Sut Wid Set Yud Kus Sul Mul Rus Mar Sar Sum War Kar Tar Darm Sant "
    "Wart Triy Sulistyo", "wati ningsih yati ani iyati ningrum")
ARABIC_M: Final = _words(
    "Muhammad Ahmad Abdul_Rahman Abdullah Yusuf Hasan Husein Ali Umar Usman Ibrahim Ismail "
    "Mustafa Rizki Taufik Syarif Zainal Ridwan Arief Fauzi Hamzah Idris Yasin Ilyas Saleh "
    "Khalid Rasyid Iskandar Sulaiman Zulkifli Ramadhan Amin Hafiz Mahmud Lutfi Faisal Farhan "
    "Hidayat Nur_Hadi Abdul_Aziz Abdul_Karim Abdul_Hamid Abdul_Latif Abu_Bakar Zakaria Yahya "
    "Ikhsan Ilham Irfan Ihsan Fikri Fadli Hanif Habib Hakim Hamid Harun Jafar Kamal Malik "
    "Mansur Nasir Rahman Rauf Rofiq Safii Syamsul Wahid Yazid Zaki Anwar Bahrudin Dahlan "
    "Fathurrahman Ghozali Hasbi Jamaludin Kamaruddin Luqman Mukhlis Nasrullah Qomarudin "
    "Sholeh Subhan Syaiful Ubaidillah Zainudin Azhar Badrul Fahmi Gufron Ainul Misbah")
ARABIC_F: Final = _words(
    "Siti Nur Aisyah Fatimah Khadijah Zainab Maryam Nurul_Huda Halimah Aminah Nurhayati "
    "Rahmawati Hidayah Khotimah Munawaroh Rohmah Salamah Zahra Laila Nabila Nadia Nisa "
    "Rania Sakinah Syifa Ulfa Wardah Zulaikha Aisah Badriyah Fadhilah Hafsah Jamilah "
    "Latifah Mardiyah Nafisah Qonita Rofiah Sholihah Umi_Kalsum Yasmin Zakiyah Azizah "
    "Husna Inayah Mutiara Farida Habibah Faridah Musdalifah Nuraini Nurjanah Sa'adah")
IDN_FAMILY: Final = _words(
    "Santoso Wijaya Saputra Hidayat Kusuma Pratama Nugroho Setiawan Gunawan Susanto "
    "Kurniawan Hartono Pranoto Suharto Sukarno Wibowo Prabowo Utomo Permana Ramadhan "
    "Firmansyah Hermawan Purnama Syahputra Maulana Hakim Rahman Ismail Sulaiman Wahyudi "
    "Setiadi Hadiwijaya Sasmita Suryadi Nasrullah Iskandar Kartasasmita Mangkusubroto "
    "Wiranata Atmaja Sudirman Hamzah Fadillah Wirawan Anggara Perdana Siswanto Haryadi")
BATAK: Final = _words(
    "Siregar Nasution Harahap Simanjuntak Sihombing Lubis Hutapea Simatupang Sitompul "
    "Panjaitan Pardede Situmorang Tambunan Hutagalung Sinaga Manurung Sitorus Napitupulu "
    "Pasaribu Silalahi Ginting Sembiring Tarigan Purba Damanik Saragih Girsang Hasibuan "
    "Pohan Marpaung Matondang Simbolon Gultom Sianturi Hutabarat Samosir Naibaho Rajagukguk "
    "Pakpahan Aritonang Sibarani Munthe Tampubolon Lumbantobing Sirait Butarbutar")
EASTERN: Final = _words(
    "Lumenta Rumondor Sondakh Tumbelaka Wowor Kaunang Rampengan Tambuwun Mandagi Pangemanan "
    "Pattinama Latuconsina Tuasikal Pattimura Leiwakabessy Manuputty Sahetapy Tahapary "
    "Mote Wenda Kogoya Tabuni Rumbiak Karubaba Daeng Pallawa Makkasau Rewa Lamba Toding "
    "Rumengan Tangkilisan Pinontoan Supit Lasut Runtuwene Tuwaidan Mamahit Kalalo Worang "
    "Siwabessy Ririmasse Pelupessy Wattimena Hitipeuw Nanlohy Lekatompessy Matulessy Tupamahu "
    "Fonataba Wanggai Rumkorem Ayomi Sanggenafa Tanasale Bakarbessy Lopulalan Souisa")
CHRISTIAN: Final = _words(
    "Yohanes Petrus Paulus Markus Yosef Antonius Fransiskus Stefanus Daniel Samuel David "
    "Jonathan Ronald Robert Michael Albert Hendrik Johan Frans Benny Roy Jeffry Steven "
    "Maria Magdalena Elisabeth Theresia Agnes Veronika Yohana Ruth Ester Debora Grace Meity "
    "Alfons Benyamin Christian Decky Edwin Febri Gerald Herman Ignatius Jefri Kevin Lukas "
    "Marthen Niko Octavianus Rico Sefnat Tommy Vicky Yance Yulius Natalia Olivia Priscila "
    "Rosalina Selvi Trivena Vanda Wilhelmina Yosephine Jeane Martha Lidia Novita Feibe")
CHINESE_ID: Final = _words(
    "Wijaya Halim Gunawan Tanoto Salim Kurniawan Hartono Tanujaya Setiadi Lukito Sugiarto "
    "Widjaja Tanuwidjaja Tjandra Sutanto Hartanto Sulistio Santosa Kusnadi Budiman "
    "Hidayat Lesmana Tanudjaja Halimun Wongso Sanjaya Susilo Tandiono Chandra Irawan")
HOKKIEN_SURNAME: Final = _words("Tan Lim Liem Oei Go Lie The Ong Kwee Sie Tjoa Ang Khoe")
HOKKIEN_GIVEN: Final = _words(
    "Swie Kian Hok Liong Gwan Tjoen Hwa Bing Siang Ing Lan Kiem Sioe Tjeng Hong Bian Djin "
    "Kong Soen Tek Yan Hoa Mei Lien Nio Hoei")
BALI_ORDER: Final = ("I Wayan", "I Made", "I Nyoman", "I Ketut", "I Gede", "I Putu", "I Kadek",
                     "I Komang", "Ni Luh", "Ni Made", "Ni Wayan", "Ni Ketut", "Ni Putu",
                     "Ni Kadek", "Ni Nyoman", "Ni Komang")
BALI_GIVEN: Final = _words(
    "Sudarma Suardana Artawan Budiasa Darmawan Suastika Wiratama Mahendra Adnyana Sukerta "
    "Ariani Sriasih Suryani Astiti Widiantari Sukadana Mertayasa Arsana Antara Dharma "
    "Wirawan Suarjana Sudiarta Yasa Merta Astawa Suparta Budiarta Sutama Wardana Suweca "
    "Kusuma Putra Putri Dewi Jaya Ardana Sujana Wisnu Parwata Sumerta Juniartha Swastika")
MALAY_M: Final = _words(
    "Ahmad Mohd Muhammad Azlan Faizal Hafiz Khairul Amirul Syafiq Haziq Aiman Danial Hakim "
    "Firdaus Zulkifli Rosli Kamal Razak Ismail Shahrul Azman Hisham Nazri Rizal Fadzil")
MALAY_F: Final = _words(
    "Siti Nur Nurul Farah Aisyah Aminah Zarina Norhayati Rohani Salmah Faridah Aishah "
    "Nabilah Syazwani Izzati Hidayah Najwa Liyana Amirah Sofea")
ARAB_M: Final = _words(
    "Abdullah Mohammed Ahmed Ali Omar Khalid Faisal Saad Fahad Sultan Nasser Turki Majed "
    "Hamad Salman Yousef Ibrahim Hassan Hussein Mansour Saleh Tariq Waleed Bandar Nawaf")
ARAB_F: Final = _words(
    "Nourah Fatimah Aisha Maryam Sarah Reem Hessa Lama Haya Jawaher Latifa Mona Noura Huda")
ARAB_FAMILY: Final = _words(
    "al-Qahtani al-Harbi al-Ghamdi al-Zahrani al-Otaibi al-Dosari al-Shehri al-Mutairi "
    "al-Shammari al-Anazi al-Subaie al-Juhani al-Rashidi al-Amri al-Hajri al-Maliki "
    "Haddad Mansour Nasser Khalil Hassan Saleh Abbas")
CHINA_SURNAME: Final = _words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Zheng Liang Xie Song Tang Han Feng Deng Cao Peng")
CHINA_GIVEN: Final = _words(
    "Wei Fang Na Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Tao Ming Chao Xiu Hua Ping "
    "Gang Hui Ying Bo Lan Xin Yu Hao Yi Kai Feng Lin Jian Dong Hong")
DUTCH_GIVEN: Final = _words(
    "Jan Pieter Johannes Hendrik Cornelis Willem Daan Bram Sem Lucas Thijs Ruben Sanne "
    "Femke Lotte Anna Emma Sophie Fleur Maria Eva Julia Lisa Anouk")
DUTCH_FAMILY: Final = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
    "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
    "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer")
ENGLISH_GIVEN: Final = _words(
    "James John William Jack Thomas Oliver Liam Noah Michael David Daniel Matthew Andrew "
    "Olivia Charlotte Mia Emily Sarah Jessica Emma Grace Chloe Sophie Lucy Hannah Amelia")
ENGLISH_FAMILY: Final = _words(
    "Smith Jones Williams Brown Wilson Taylor Johnson White Martin Anderson Thompson Nguyen "
    "Thomas Walker Harris Lee Ryan Robinson Kelly King Davies Evans Wright Murphy Clarke")
INDIAN_GIVEN: Final = _words(
    "Rajesh Suresh Ramesh Amit Rahul Vijay Sanjay Anil Priya Sunita Anita Deepak Arjun Kavita")
INDIAN_FAMILY: Final = _words(
    "Kumar Sharma Singh Patel Gupta Reddy Nair Iyer Rao Verma Mehta Joshi Pillai Das")
FILIPINO_GIVEN: Final = _words(
    "Jose Juan Mark John Maria Rosa Ana Michael Jerome Ramon Cristina Liza Angelica Paolo")
FILIPINO_FAMILY: Final = _words(
    "Santos Reyes Cruz Bautista Ocampo Garcia Mendoza Torres Villanueva Ramos Aquino Castro")

# Spelling variants used for aliases (a listed person known under another spelling).
SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    "Muhammad": ("Mohammad", "Mohamad", "Muhamad", "Mohammed", "Mohd"),
    "Ahmad": ("Achmad", "Ahmed"), "Yusuf": ("Yusof", "Yousef", "Jusuf"),
    "Hasan": ("Hassan",), "Husein": ("Hussein", "Husain"), "Umar": ("Omar",),
    "Usman": ("Osman", "Utsman"), "Mustafa": ("Mustofa", "Mustapha"), "Rizki": ("Rizky", "Rizqi"),
    "Taufik": ("Taufiq",), "Syarif": ("Sjarif", "Sharif"), "Joko": ("Djoko",),
    "Slamet": ("Slamat",), "Suharto": ("Soeharto",), "Sukarno": ("Soekarno",),
    "Aisyah": ("Aishah", "Aisha"), "Khadijah": ("Kadijah", "Khadija"), "Fatimah": ("Fatima",),
    "Siti": ("Sitti",), "Nur": ("Noor",), "Abdul_Rahman": ("Abdurrahman", "Abdulrahman"),
    "Abdul_Aziz": ("Abdulaziz",), "Abu_Bakar": ("Abubakar",), "Yohanes": ("Johannes",),
    "Wahyu": ("Wahju",), "Wijaya": ("Widjaja",), "Santoso": ("Santosa",),
    "Mohammed": ("Muhammad",), "Yousef": ("Yusuf",),
}


class _Pool:
    """A name pool whose k-th entry is drawn with weight 1/(k+1)^0.6 (a long tail)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, items: Sequence[str]) -> None:
        self._items = tuple(w.replace("_", " ") for w in items)
        self._cum = tuple(itertools.accumulate(1 / (k + 1) ** 0.6 for k in range(len(items))))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> str:
        return self._items[bisect(self._cum, rng.random() * self._total)]

    def distinct(self, rng: random.Random, n: int) -> list[str]:
        """`n` different picks (fewer if the pool is that small)."""
        out: list[str] = []
        for _ in range(4 * n):
            name = self.pick(rng)
            if name not in out:
                out.append(name)
                if len(out) == n:
                    break
        return out


_P = {name: _Pool(pool) for name, pool in {
    "java_m": JAVA_M, "java_f": JAVA_F, "arabic_m": ARABIC_M, "arabic_f": ARABIC_F,
    "family": IDN_FAMILY, "batak": BATAK, "eastern": EASTERN, "christian": CHRISTIAN,
    "chinese_id": CHINESE_ID, "hokkien_s": HOKKIEN_SURNAME, "hokkien_g": HOKKIEN_GIVEN,
    "bali_order": BALI_ORDER, "bali": BALI_GIVEN, "malay_m": MALAY_M, "malay_f": MALAY_F,
    "arab_m": ARAB_M, "arab_f": ARAB_F, "arab_family": ARAB_FAMILY, "china_s": CHINA_SURNAME,
    "china_g": CHINA_GIVEN, "dutch_g": DUTCH_GIVEN, "dutch_f": DUTCH_FAMILY,
    "english_g": ENGLISH_GIVEN, "english_f": ENGLISH_FAMILY, "indian_g": INDIAN_GIVEN,
    "indian_f": INDIAN_FAMILY, "filipino_g": FILIPINO_GIVEN, "filipino_f": FILIPINO_FAMILY,
}.items()}

# (nationality, naming custom, weight): about 70% Indonesian citizens.
_ORIGINS: Final = (
    ("IDN", "javanese", 26), ("IDN", "muslim", 22), ("IDN", "batak", 6), ("IDN", "eastern", 4),
    ("IDN", "chinese_indonesian", 7), ("IDN", "balinese", 3), ("IDN", "mononym", 2),
    ("MYS", "malay", 6), ("SAU", "arab", 2), ("YEM", "arab", 1), ("EGY", "arab", 1),
    ("CHN", "chinese", 4), ("NLD", "dutch", 3), ("AUS", "english", 3), ("GBR", "english", 2),
    ("USA", "english", 2), ("IND", "indian", 2), ("PHL", "filipino", 2), ("SGP", "chinese", 1),
    ("TLS", "christian", 1),
)
_ORIGIN_CUM: Final = tuple(itertools.accumulate(w for _, _, w in _ORIGINS))


def _pick(pool: str, rng: random.Random) -> str:
    return _P[pool].pick(rng)


def _some(pool: str, rng: random.Random, n: int) -> str:
    return " ".join(_P[pool].distinct(rng, n))


def _javanese_name(rng: random.Random, male: bool, n: int) -> str:
    parts = _P["java_m" if male else "java_f"].distinct(rng, n)
    if rng.random() < 0.4:
        parts.append(_pick("family", rng))
    return " ".join(dict.fromkeys(parts))


def _muslim_name(rng: random.Random, male: bool, n: int) -> str:
    parts = [_pick("arabic_m" if male else "arabic_f", rng)]
    parts += _P["java_m" if male else "java_f"].distinct(rng, max(1, n - 1))
    if rng.random() < 0.5:
        parts.append(_pick("family", rng))
    return " ".join(dict.fromkeys(parts))


def _batak_name(rng: random.Random, male: bool, n: int) -> str:
    first = _pick("christian" if rng.random() < 0.5 else "java_m" if male else "java_f", rng)
    return f"{first} {_pick('batak', rng)}"


def _chinese_indonesian_name(rng: random.Random, male: bool, n: int) -> str:
    if rng.random() < 0.25:
        return f"{_pick('hokkien_s', rng)} {_some('hokkien_g', rng, 2)}"
    return f"{_pick('java_m' if male else 'java_f', rng)} {_pick('chinese_id', rng)}"


def _balinese_name(rng: random.Random, male: bool, n: int) -> str:
    order = _pick("bali_order", rng)
    while order.startswith("Ni") == male:
        order = _pick("bali_order", rng)
    return f"{order} {_some('bali', rng, n)}"


def _western(given: str, family: str) -> Callable[[random.Random, bool, int], str]:
    def name(rng: random.Random, male: bool, n: int) -> str:
        return f"{_some(given, rng, min(n, 2))} {_pick(family, rng)}"
    return name


def _malay_name(rng: random.Random, male: bool, n: int) -> str:
    given = _some("malay_m" if male else "malay_f", rng, min(n, 2))
    return f"{given} {'bin' if male else 'binti'} {_pick('malay_m', rng)}"


def _arab_name(rng: random.Random, male: bool, n: int) -> str:
    given = _pick("arab_m" if male else "arab_f", rng)
    return f"{given} bin {_pick('arab_m', rng)} {_pick('arab_family', rng)}"


def _chinese_name(rng: random.Random, male: bool, n: int) -> str:
    return f"{_pick('china_s', rng)} {_some('china_g', rng, min(n, 2))}"


_CUSTOMS: Final[dict[str, Callable[[random.Random, bool, int], str]]] = {
    "javanese": _javanese_name, "muslim": _muslim_name, "batak": _batak_name,
    "eastern": _western("christian", "eastern"), "christian": _western("christian", "eastern"),
    "chinese_indonesian": _chinese_indonesian_name, "balinese": _balinese_name,
    "mononym": lambda rng, male, n: _pick("java_m" if male else "java_f", rng),
    "malay": _malay_name, "arab": _arab_name, "chinese": _chinese_name,
    "dutch": _western("dutch_g", "dutch_f"), "english": _western("english_g", "english_f"),
    "indian": _western("indian_g", "indian_f"), "filipino": _western("filipino_g", "filipino_f"),
}


def _name(rng: random.Random, custom: str, male: bool) -> str:
    """A full name written the way people of `custom` write theirs."""
    return _CUSTOMS[custom](rng, male, rng.choices((1, 2, 3), (15, 55, 30))[0])


def _alias(rng: random.Random, name: str, male: bool) -> str:
    """An alias of a listed person: another spelling of the name, or another name entirely."""
    words = name.replace("Abdul ", "Abdul_").replace("Abu ", "Abu_").split()
    spelt = [rng.choice(SPELLINGS[w]) if w in SPELLINGS else w for w in words]
    if spelt != words and rng.random() < 0.7:
        return " ".join(spelt).replace("_", " ")
    # A name used on other documents: a different given name with the same last name.
    other = _P["java_m" if male else "java_f"].pick(rng)
    return f"{other} {words[-1]}".replace("_", " ") if len(words) > 1 else f"{name} {other}"


# Who orders exit prevention (UU 6/2011 Pasal 91 ayat (2)): code, reference mark, letter.
_EXIT_AUTHORITIES: Final = (("MENTERI", "IMI", "a"), ("JAKSA_AGUNG", "JA", "b"),
                            ("KAPOLRI", "POLRI", "c"), ("KPK", "KPK", "d"),
                            ("MENTERI_KEUANGAN", "KEU", "b"), ("BNN", "BNN", "e"))


def _term(ban: str, start: date, preferred: int, decided: date | None = None) -> date:
    """The last day of a term of `preferred` months from `start`, within the law on the
    day it is decided (default `start`)."""
    months = 6 if ban == "EXIT_PREVENTION" or (decided or start) < LAW_2024 else preferred
    return add_months(start, months) - timedelta(days=1)


def _decisions(u: Sequence[float], today: date, ban: str, indefinite: bool,
               ref: Callable[[str, date], str]) -> tuple[Decision, ...]:
    """An order's decisions: most in force, some expired, extended, lifted, a few not yet
    in force. Every boundary is at least 3 days from `today`, so a run crossing midnight
    sees the same statuses; `u` are six uniform draws (the same count in every case)."""
    def day(offset: float) -> date:
        return today - timedelta(days=int(offset))

    def issued(start: date, end: date | None, decided: date | None = None) -> Decision:
        decided = decided or start
        return Decision("ISSUED", ref("", decided), decided.isoformat(), start.isoformat(),
                        "" if end is None else end.isoformat())

    def extended(end: date, preferred: int) -> Decision:
        decided = end - timedelta(days=5 + int(u[2] * 20))
        new_end = _term(ban, end + timedelta(days=1), preferred, decided)
        return Decision("EXTENDED", ref("-P1", decided), decided.isoformat(),
                        (end + timedelta(days=1)).isoformat(), new_end.isoformat())

    preferred = 12  # an entry refusal under UU 63/2024: a year is common, 10 the ceiling
    kind = -1.0 if indefinite else u[0]
    if kind < 0:  # Pasal 102 ayat (2): indefinite
        out: tuple[Decision, ...] = (issued(day(30 + u[1] * 2000), None),)
    elif kind < 0.50:  # in force, first term
        start = day(3 + u[1] * 170)
        out = (issued(start, _term(ban, start, preferred)),)
    elif kind < 0.65:  # in force, extended once
        start = day((375 + u[1] * 300) if ban == "ENTRY_REFUSAL" and day(375) >= LAW_2024
                    else (190 + u[1] * 160))
        first = issued(start, _term(ban, start, preferred))
        out = (first, extended(date.fromisoformat(first.valid_until), preferred))
    elif kind < 0.88:  # expired, half of them after an extension
        start = day((380 if u[3] < 0.5 else 745) + u[1] * 1500)
        first = issued(start, _term(ban, start, preferred))
        out = ((first,) if u[3] < 0.5
               else (first, extended(date.fromisoformat(first.valid_until), preferred)))
    elif kind < 0.96:  # lifted (dicabut) before its end
        start = day(30 + u[1] * 600)
        lifted = start + timedelta(days=10 + int(u[2] * min(150, (today - start).days - 13)))
        out = (issued(start, _term(ban, start, preferred)),
               Decision("LIFTED", ref("-C", lifted), lifted.isoformat(), lifted.isoformat(), ""))
    else:  # decided, not yet in force
        start, decided = today + timedelta(days=5 + int(u[2] * 25)), day(u[1] * 5)
        out = (issued(start, _term(ban, start, preferred, decided), decided=decided),)
    return out


def _record(rng: random.Random, dates: random.Random, i: int, today: date) -> WatchlistRecord:
    nationality, custom, _ = _ORIGINS[bisect(_ORIGIN_CUM, rng.random() * _ORIGIN_CUM[-1])]
    sex = "M" if rng.random() < 0.7 else "F"
    name = _name(rng, custom, sex == "M")
    # The order's dates come from their own stream (`dates`), relative to `today`; `rng`
    # makes the same draws as before orders had a lifecycle, so every name, date of
    # birth and document of a seed stays what it was (the screening evaluation's lists).
    u = [dates.random() for _ in range(6)]
    rng.randrange(2000)
    born = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    dob = str(born.year) if rng.random() < 0.05 else born.isoformat()
    documents = [IdentityDocument("PASSPORT", f"{rng.choice('ABCXE')}{rng.randrange(10**7):07d}",
                                  nationality)]
    nik = ""
    if nationality == "IDN":
        region, serial = rng.randrange(11, 95), rng.randrange(10**4)
        day = born.day + 40 if sex == "F" else born.day  # the NIK adds 40 to a woman's day
        nik = f"{region}{rng.randrange(10**4):04d}{day:02d}{born:%m%y}{serial:04d}"
        if rng.random() < 0.3:
            documents.append(IdentityDocument("NATIONAL_ID", nik, "IDN"))
    # Penangkalan is for foreigners only (UU 6/2011 Pasal 102): Indonesians are cegah.
    ban = "EXIT_PREVENTION" if nationality == "IDN" or rng.random() < 0.2 else "ENTRY_REFUSAL"
    rng.randrange(3 if ban == "EXIT_PREVENTION" else 2)
    aliases = (_alias(rng, name, sex == "M"),) if rng.random() < 0.3 else ()
    pick = rng.randrange(len(_EXIT_AUTHORITIES))
    rng.randrange(3)
    indefinite = ban == "ENTRY_REFUSAL" and u[4] < 0.03
    if ban == "EXIT_PREVENTION":
        authority, code, letter = _EXIT_AUTHORITIES[pick]
        basis = f"UU 6/2011 Pasal 91 ayat (2) huruf {letter}"
    else:
        authority, code = "MENTERI", "IMI"
        basis = "UU 6/2011 Pasal 102 ayat (2)" if indefinite else "UU 6/2011 Pasal 98"
    case = f"IMI.{rng.randrange(1, 9)}-GR.{rng.randrange(1, 99):02d}.{i:06d}"

    def ref(suffix: str, decided: date) -> str:
        return f"KEP-{i:07d}{suffix}/{code}/{decided.year}"

    decisions = _decisions(u, today, ban, indefinite, ref)
    term = summary(decisions)
    if born > date.fromisoformat(term.valid_from):  # only for a seed date before 2005
        dob = term.valid_from[:4]
    return WatchlistRecord(
        entry_id=f"CKL-{term.valid_from[:4]}-{i:07d}", full_name=name, aliases=aliases,
        date_of_birth=dob, sex=sex, nationality=nationality,  # type: ignore[arg-type]
        documents=tuple(documents), national_id=nik, ban_type=ban,  # type: ignore[arg-type]
        legal_basis=basis, issuing_authority=authority, valid_from=term.valid_from,
        valid_until=term.valid_until, case_reference=case, decisions=decisions,
        lifted_on=term.lifted_on)


def generate(size: int, seed: int = SEED, today: date | None = None
             ) -> tuple[WatchlistRecord, ...]:
    """`size` synthetic records, identical for identical (size, seed, today).

    Dates are relative to `today` (default `reference_date()`); names,
    documents and the kind of each order do not depend on it.
    """
    rng, dates = random.Random(seed), random.Random(seed + 1)
    day = today or reference_date()
    with collector_paused():
        return tuple(_record(rng, dates, i, day) for i in range(size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a synthetic cekal watchlist")
    parser.add_argument("--size", type=int, default=5000, help="records, 1 to 1,000,000")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True, help="FILE.jsonl or FILE.csv")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 1_000_000:
        parser.error("--size must be between 1 and 1,000,000")
    records = generate(args.size, args.seed)
    writer = write_csv if args.out.suffix == ".csv" else write_jsonl
    print(f"wrote {writer(records, args.out)} records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
