"""Seeded synthetic cekal watchlist: plausible, reproducible, never real people.

`generate(size, seed)` returns the same records for the same arguments on any
machine (it uses only `random.Random(seed)`). `python -m
agency_adapters.immigration.synthetic --size N --out FILE.jsonl|.csv` writes
the documented import format.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

from agency_adapters.immigration.records import (
    IdentityDocument,
    WatchlistRecord,
    write_csv,
    write_jsonl,
)

SEED = 20111
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
AUTHORITIES = ("Direktur Jenderal Imigrasi", "Jaksa Agung", "Kepala Kepolisian RI",
               "Komisi Pemberantasan Korupsi", "Menteri Keuangan", "Kepala BNN")
EXIT_BASIS = ("UU 6/2011 Pasal 91 ayat (1)", "UU 6/2011 Pasal 91 ayat (2)",
              "UU 6/2011 Pasal 94")
ENTRY_BASIS = ("UU 6/2011 Pasal 102 ayat (1)", "UU 6/2011 Pasal 105")
# Old-spelling and transliteration variants the aliases are drawn from.
VARIANTS = {"Joko": "Djoko", "Yusuf": "Yusof", "Muhammad": "Mohammed", "Aisyah": "Aishah",
            "Suharto": "Soeharto", "Sukarno": "Soekarno", "Syarif": "Sjarif",
            "Taufik": "Taufiq", "Khadijah": "Kadijah", "Rizki": "Rizqi"}


def _name(rng: random.Random, nationality: str, sex: str) -> str:
    if nationality in FOREIGN:
        given, family = FOREIGN[nationality]
        return f"{rng.choice(given)} {rng.choice(family)}"
    pool = GIVEN_M if sex == "M" else GIVEN_F
    parts = [rng.choice(pool)]
    if rng.random() < 0.6:
        parts.append(rng.choice(pool))
    if rng.random() < 0.85:
        parts.append(rng.choice(FAMILY_ID))
    return " ".join(dict.fromkeys(parts))


def alias_of(rng: random.Random, name: str) -> str:
    """A plausible alias: a spelling variant, else the name rotated, else a family name added."""
    words = name.split()
    swapped = [VARIANTS.get(w, w) for w in words]
    if swapped != words:
        return " ".join(swapped)
    if len(words) > 1:
        return " ".join(words[1:] + words[:1])
    return words[0] + " " + rng.choice(FAMILY_ID)


def _record(rng: random.Random, i: int) -> WatchlistRecord:
    nationality = "IDN" if rng.random() < 0.7 else rng.choice(sorted(FOREIGN))
    sex = rng.choice(("M", "M", "F"))
    name = _name(rng, nationality, sex)
    valid_from = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
    dob = str(born.year) if rng.random() < 0.05 else born.isoformat()
    documents = [IdentityDocument("PASSPORT", f"{rng.choice('ABCXE')}{rng.randrange(10**7):07d}",
                                  nationality)]
    nik = ""
    if nationality == "IDN":
        region, serial = rng.randrange(11, 95), rng.randrange(10**4)
        nik = f"{region}{rng.randrange(10**4):04d}{born:%d%m%y}{serial:04d}"
        if rng.random() < 0.3:
            documents.append(IdentityDocument("NATIONAL_ID", nik, "IDN"))
    ban = "EXIT_PREVENTION" if nationality == "IDN" or rng.random() < 0.2 else "ENTRY_REFUSAL"
    basis = rng.choice(EXIT_BASIS if ban == "EXIT_PREVENTION" else ENTRY_BASIS)
    aliases = (alias_of(rng, name),) if rng.random() < 0.4 else ()
    return WatchlistRecord(
        entry_id=f"CKL-{valid_from.year}-{i:07d}", full_name=name, aliases=aliases,
        date_of_birth=dob, sex=sex, nationality=nationality,  # type: ignore[arg-type]
        documents=tuple(documents), national_id=nik, ban_type=ban,  # type: ignore[arg-type]
        legal_basis=basis, issuing_authority=rng.choice(AUTHORITIES),
        valid_from=valid_from.isoformat(),
        valid_until=(valid_from + timedelta(days=rng.choice((180, 365, 730)))).isoformat(),
        case_reference=f"IMI.{rng.randrange(1, 9)}-GR.{rng.randrange(1, 99):02d}.{i:06d}")


def generate(size: int, seed: int = SEED) -> tuple[WatchlistRecord, ...]:
    """`size` synthetic records, identical for identical (size, seed)."""
    rng = random.Random(seed)
    return tuple(_record(rng, i) for i in range(size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a synthetic cekal watchlist")
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True, help="FILE.jsonl or FILE.csv")
    args = parser.parse_args(argv)
    records = generate(args.size, args.seed)
    writer = write_csv if args.out.suffix == ".csv" else write_jsonl
    print(f"wrote {writer(records, args.out)} records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
