"""Seeded synthetic notices and SLTD entries: plausible, reproducible, never real people.

`generate(size, seed)` returns the same data for the same arguments on any
machine (only `random.Random(seed)` is used): `size` notices and about twice
as many SLTD entries. About a third of the notices' documents are also in the
SLTD list, so document checks find both kinds of flag. `python -m
agency_adapters.interpol.synthetic --size N --out DIR [--format csv]` writes
``notices.*`` and ``sltd.*`` in the documented import format.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from agency_adapters.common import records as r
from agency_adapters.common.calendar import reference_date
from agency_adapters.common.people import (
    FAMILY_ID,
    FOREIGN,
    GIVEN_F,
    GIVEN_M,
    alias_of,
)
from agency_adapters.interpol.records import (
    CATEGORIES,
    NOTICES,
    SLTD,
    Category,
    DocumentStatus,
    DocumentType,
    IdentityDocument,
    NoticeRecord,
    NoticeStatus,
    SltdRecord,
)

SEED = 19230
DEFAULT_SIZE = 3000
NATIONALITIES = ("IDN", "IDN", "MYS", "NLD", "AUS", "SAU", "CHN", "PHL", "THA", "VNM")
MORE_FOREIGN = {
    "PHL": (("Jose", "Maria", "Juan", "Rosa", "Mark"), ("Santos", "Reyes", "Cruz", "Bautista")),
    "THA": (("Somchai", "Malee", "Niran", "Ploy"), ("Srisuk", "Chaiyaporn", "Wongsa")),
    "VNM": (("Minh", "Lan", "Tuan", "Hoa"), ("Nguyen", "Tran", "Le", "Pham")),
}
CHARGES = ("Fraud", "Drug trafficking", "Money laundering", "Homicide", "Armed robbery",
           "Trafficking in human beings", "Terrorism financing", "Corruption",
           "Participation in an organised criminal group", "Smuggling of migrants")
# Category weights: red notices dominate, as in the real system.
CATEGORY_WEIGHTS = (55, 15, 12, 4, 8, 3, 3)
STATUS_WEIGHTS = (("STOLEN", 40), ("LOST", 40), ("REVOKED", 8), ("INVALID", 7),
                  ("STOLEN_BLANK", 5))


@dataclass(frozen=True)
class Dataset:
    notices: tuple[NoticeRecord, ...]
    sltd: tuple[SltdRecord, ...]


def _name(rng: random.Random, nationality: str, sex: str) -> str:
    pools = FOREIGN | MORE_FOREIGN
    if nationality in pools:
        given, family = pools[nationality]
        return f"{rng.choice(given)} {rng.choice(family)}"
    pool = GIVEN_M if sex == "M" else GIVEN_F
    parts = [rng.choice(pool)]
    if rng.random() < 0.5:
        parts.append(rng.choice(pool))
    parts.append(rng.choice(FAMILY_ID))
    return " ".join(dict.fromkeys(parts))


def _number(rng: random.Random, country: str) -> str:
    return f"{country[0]}{rng.choice('ABCXEPR')}{rng.randrange(10**7):07d}"


def _notice(rng: random.Random, dates: random.Random, i: int, today: date) -> NoticeRecord:
    category: Category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
    nationality = rng.choice(NATIONALITIES)
    sex = rng.choice(("M", "M", "F"))
    name = _name(rng, nationality, sex)
    issued = today - timedelta(days=30 + rng.randrange(3650))
    born = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    if category == "BLACK" and rng.random() < 0.5:
        dob = ""  # an unidentified body: the name comes from a document found
    elif rng.random() < 0.05:
        dob = str(born.year)
    else:
        dob = born.isoformat()
    nationalities = [nationality]
    if rng.random() < 0.05:
        nationalities.append(rng.choice([n for n in NATIONALITIES if n != nationality]))
    documents = []
    if category != "PURPLE" or rng.random() < 0.5:
        documents.append(IdentityDocument("PASSPORT", _number(rng, nationality), nationality))
    if rng.random() < 0.2:
        documents.append(IdentityDocument("NATIONAL_ID", f"{rng.randrange(10**15, 10**16)}",
                                          nationality))
    charges = tuple(sorted(rng.sample(CHARGES, rng.choice((1, 1, 2))))) if category == "RED" else ()
    aliases = (alias_of(rng, name),) if rng.random() < 0.35 else ()
    valid_until = issued + timedelta(days=rng.choice((1825, 3650)))
    # Statuses from their own stream, so names and documents stay what they were: about
    # one notice in eight has been cancelled or withdrawn, at least 3 days ago.
    kind, when = dates.random(), dates.random()
    span = (min(valid_until, today - timedelta(days=3)) - issued).days
    status: NoticeStatus = ("ACTIVE" if span < 0 or kind >= 0.12
                            else "CANCELLED" if kind < 0.08 else "WITHDRAWN")
    changed = "" if status == "ACTIVE" else (issued + timedelta(days=int(when * span))).isoformat()
    return NoticeRecord(
        notice_id=f"{issued.year}/{i * 7 + rng.randrange(1, 8)}", category=category,
        full_name=name, aliases=aliases, sex="" if category == "BLACK" else sex,
        date_of_birth=dob, nationalities=tuple(dict.fromkeys(nationalities)),
        documents=tuple(documents),
        issuing_country=rng.choice(("IDN", "IDN", nationality, "MYS", "AUS", "NLD")),
        charges=charges, issued_on=issued.isoformat(), valid_until=valid_until.isoformat(),
        status=status, status_date=changed)


def _status(rng: random.Random) -> DocumentStatus:
    statuses = [s for s, _ in STATUS_WEIGHTS]
    status: DocumentStatus = rng.choices(statuses, [w for _, w in STATUS_WEIGHTS])[0]  # type: ignore[assignment]
    return status


def _cleared(dates: random.Random, reported: date, today: date) -> str:
    """About one SLTD entry in ten has left the list (recovered, report withdrawn)."""
    kind, when = dates.random(), dates.random()
    span = (today - timedelta(days=3) - reported).days
    if kind >= 0.1 or span < 2:
        return ""
    return (reported + timedelta(days=1 + int(when * (span - 1)))).isoformat()


def generate(size: int = DEFAULT_SIZE, seed: int = SEED, today: date | None = None) -> Dataset:
    """`size` notices and ~2*`size` SLTD entries, identical for identical (size, seed,
    today); dates are relative to `today` (default: `calendar.reference_date()`)."""
    rng, dates = random.Random(seed), random.Random(seed + 1)
    day = today or reference_date()
    notices = tuple(_notice(rng, dates, i, day) for i in range(size))
    sltd: dict[tuple[str, str, str], SltdRecord] = {}
    for notice in notices:
        for doc in notice.documents:
            if doc.type == "PASSPORT" and rng.random() < 0.33:
                reported = min(date.fromisoformat(notice.issued_on) + timedelta(
                    days=rng.randrange(400)), day - timedelta(days=1))
                sltd[(doc.type, doc.number, doc.issuing_country)] = SltdRecord(
                    number=doc.number, issuing_country=doc.issuing_country,
                    document_type=doc.type, status=rng.choice(("REVOKED", "INVALID", "STOLEN")),
                    date_reported=reported.isoformat(), reporting_country=doc.issuing_country,
                    cleared_on=_cleared(dates, reported, day))
    while len(sltd) < 2 * size:
        country = rng.choice(NATIONALITIES)
        doc_type: DocumentType = rng.choice(("PASSPORT", "PASSPORT", "PASSPORT",
                                             "TRAVEL_DOCUMENT", "NATIONAL_ID"))
        number = (_number(rng, country) if doc_type != "NATIONAL_ID"
                  else f"{rng.randrange(10**15, 10**16)}")
        reported = day - timedelta(days=1 + rng.randrange(4700))
        sltd.setdefault((doc_type, number, country), SltdRecord(
            number=number, issuing_country=country, document_type=doc_type,
            status=_status(rng), date_reported=reported.isoformat(),
            reporting_country=country if rng.random() < 0.9 else rng.choice(NATIONALITIES),
            cleared_on=_cleared(dates, reported, day)))
    return Dataset(notices=notices, sltd=tuple(sltd.values()))


def write(dataset: Dataset, directory: Path, fmt: str = "jsonl") -> tuple[Path, Path]:
    """Write ``notices.<fmt>`` and ``sltd.<fmt>`` into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    notices, sltd = directory / f"notices.{fmt}", directory / f"sltd.{fmt}"
    r.write(NOTICES, dataset.notices, notices)
    r.write(SLTD, dataset.sltd, sltd)
    return notices, sltd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write synthetic notices and SLTD entries")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    dataset = generate(args.size, args.seed)
    paths = write(dataset, args.out, args.format)
    print(f"wrote {len(dataset.notices)} notices and {len(dataset.sltd)} SLTD entries "
          f"to {', '.join(map(str, paths))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
