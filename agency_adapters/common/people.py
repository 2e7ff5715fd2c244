"""Small synthetic name pools shared by the adapters' seeded data sets (never real people).

The Interpol and consular generators draw from these; they are kept unchanged
so those seeded data sets (and tests written against them) stay the same. The
large, weighted pools of the watchlist generator live in
`agency_adapters.immigration.synthetic`.
"""

from __future__ import annotations

import random

GIVEN_M = ("Muhammad", "Ahmad", "Budi", "Agus", "Joko", "Rizki", "Hendra", "Yusuf", "Abdul Rahman",
           "Dedi", "Slamet", "Bambang", "Eko", "Teguh", "Hasan", "Iwan", "Fajar", "Andi", "Surya",
           "Wahyu", "Taufik", "Syarif", "Kurniawan", "Ridwan", "Arief", "Imam", "Zainal")
GIVEN_F = ("Siti", "Dewi", "Sri", "Aisyah", "Fatimah", "Nur", "Ratna", "Putri", "Wulan", "Indah",
           "Rina", "Yuni", "Lestari", "Ayu", "Khadijah", "Maya", "Intan", "Fitri", "Nurul Huda")
FAMILY_ID = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Nugroho", "Setiawan",
             "Siregar", "Nasution", "Harahap", "Simanjuntak", "Sihombing", "Lubis", "Gunawan",
             "Halim", "Tanoto", "Suharto", "Sukarno", "Rahman", "Hakim", "Ismail", "Sulaiman")
FOREIGN = {
    "MYS": (("Ahmad", "Mohd", "Nor", "Siti", "Farah", "Azlan"), ("bin Ismail", "bin Abdullah",
            "binti Hassan", "bin Osman", "binti Yusof")),
    "NLD": (("Jan", "Pieter", "Sanne", "Femke", "Daan", "Lotte"), ("van der Berg", "de Vries",
            "Jansen", "Bakker", "Visser", "van Dijk")),
    "AUS": (("Jack", "Olivia", "William", "Charlotte", "Liam", "Mia"), ("Smith", "Jones",
            "Williams", "Brown", "Wilson", "Taylor")),
    "SAU": (("Abdullah", "Faisal", "Khalid", "Nourah", "Saad"), ("al-Qahtani", "al-Harbi",
            "al-Ghamdi", "al-Zahrani")),
    "CHN": (("Wei", "Li", "Jing", "Hui", "Ming"), ("Zhang", "Wang", "Chen", "Liu", "Huang")),
}
# Old-spelling and transliteration variants the (Interpol) aliases are drawn from.
VARIANTS = {"Joko": "Djoko", "Yusuf": "Yusof", "Muhammad": "Mohammed", "Aisyah": "Aishah",
            "Suharto": "Soeharto", "Sukarno": "Soekarno", "Syarif": "Sjarif",
            "Taufik": "Taufiq", "Khadijah": "Kadijah", "Rizki": "Rizqi"}


def alias_of(rng: random.Random, name: str) -> str:
    """A plausible alias: a spelling variant, else the name rotated, else a family name added."""
    words = name.split()
    swapped = [VARIANTS.get(w, w) for w in words]
    if swapped != words:
        return " ".join(swapped)
    if len(words) > 1:
        return " ".join(words[1:] + words[:1])
    return words[0] + " " + rng.choice(FAMILY_ID)
