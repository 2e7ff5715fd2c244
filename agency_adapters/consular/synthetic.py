"""Seeded synthetic consular data: stay permits, notifications, passport registers.

`generate(size, seed)` returns the same data for the same arguments on any
machine (only `random.Random(seed)` is used). `size` foreign residents each get
one to three stay permits; about one in eight has a consular notification; the
passports of residents from countries with an embassy (NLD, AUS, MYS) are in
that embassy's register, a few revoked, plus passports of people never in
Indonesia. Never real people. `python -m agency_adapters.consular.synthetic
--size N --out DIR [--format csv]` writes the documented import format.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from agency_adapters.common import records as r
from agency_adapters.common.calendar import reference_date
from agency_adapters.common.people import FOREIGN
from agency_adapters.consular.records import (
    EMBASSY_COUNTRIES,
    NOTIFICATION_TYPES,
    NOTIFICATIONS,
    PASSPORTS,
    PERMITS,
    ConsularData,
    NotificationRecord,
    PassportRecord,
    PassportStatus,
    PermitRecord,
    PermitType,
    Sponsor,
)

SEED = 62021
DEFAULT_SIZE = 2000
NATIONALITIES = ("NLD", "NLD", "AUS", "AUS", "AUS", "MYS", "MYS", "CHN", "SAU")
COMPANIES = ("PT Maju Jaya Abadi", "PT Nusantara Energi", "PT Sinar Samudra Logistik",
             "PT Bali Wisata Lestari", "PT Tambang Mineral Timur", "Universitas Gadjah Mada",
             "Yayasan Pendidikan Harapan", "PT Kopi Toraja Sejahtera")
STREETS = ("Jl. Jend. Sudirman", "Jl. M.H. Thamrin", "Jl. Gatot Subroto", "Jl. Raya Kuta",
           "Jl. Malioboro", "Jl. Asia Afrika", "Jl. Pemuda")
CITIES = ("Jakarta Selatan", "Jakarta Pusat", "Denpasar", "Badung", "Yogyakarta", "Bandung",
          "Surabaya", "Medan")
AUTHORITIES = ("Kepolisian Daerah Bali", "Kepolisian Daerah Metro Jaya",
               "Kantor Imigrasi Kelas I Ngurah Rai", "Rumah Detensi Imigrasi Jakarta",
               "Rumah Sakit Umum Pusat Sanglah", "Kantor Imigrasi Kelas I Soekarno-Hatta")
SUMMARIES = {
    "ARREST": "Arrested on suspicion of a narcotics offence; held at the regional police HQ.",
    "DETENTION": "Detained at the immigration detention centre for overstaying a permit.",
    "DEATH": "Died in hospital; next of kin to be informed through the embassy.",
    "SERIOUS_INJURY": "Seriously injured in a road accident; treated in hospital.",
    "DEPORTATION": "Deported after an immigration offence; entry refusal issued.",
}


@dataclass(frozen=True)
class _Person:
    name: str
    born: date
    nationality: str
    passport: str


def _person(rng: random.Random, i: int) -> _Person:
    nationality = rng.choice(NATIONALITIES)
    given, family = FOREIGN[nationality]
    name = f"{rng.choice(given)} {rng.choice(given)} {rng.choice(family)}"
    name = " ".join(dict.fromkeys(name.split()))
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    passport = f"{nationality[0]}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{i:07d}"
    return _Person(name, born, nationality, passport)


def _sponsor(rng: random.Random) -> Sponsor:
    return Sponsor(
        name=rng.choice(COMPANIES),
        address=f"{rng.choice(STREETS)} No. {rng.randrange(1, 200)}, {rng.choice(CITIES)}",
        phone=f"+62 21 {rng.randrange(10**6, 10**7)}")


def _grant(dates: random.Random, kind: PermitType, start: date) -> tuple[date, list[date]]:
    """A term and extensions within the regulation (`permit_terms`)."""
    u, v = dates.random(), dates.random()
    if kind == "ITK":
        expires = start + timedelta(days=59)
        extensions = [expires + timedelta(days=30 * (k + 1)) for k in range(int(u * 3))]
    elif kind == "ITAS":
        expires = start + timedelta(days=365 * (1 + int(u * 2)) - 1)
        extensions = [expires + timedelta(days=365 * (k + 1)) for k in range(int(v * 3))]
    else:
        expires = start + timedelta(days=5 * 365 - 1)
        extensions = [expires + timedelta(days=5 * 365)] if v < 0.3 else []
    return expires, extensions


def _permits(rng: random.Random, dates: random.Random, person: _Person, counter: int,
             today: date) -> list[PermitRecord]:
    """One to three permits (ITK to ITAS, ITAS to ITAP by alih status), dated relative to
    `today` from their own stream `dates`; every boundary is at least 3 days from `today`."""
    out: list[PermitRecord] = []
    start = today - timedelta(days=30 + int(dates.random() * 2400))
    first: PermitType = "ITK" if dates.random() < 1 / 3 else "ITAS"
    chain: list[PermitType] = [first]
    if (first == "ITAS" and dates.random() < 0.3) or (first == "ITK" and dates.random() < 0.2):
        chain.append("ITAS" if first == "ITK" else "ITAP")
    end_draw, when_draw, why_draw = dates.random(), dates.random(), dates.random()
    for k, permit_type in enumerate(chain):
        expires, extensions = _grant(dates, permit_type, start)
        last = extensions[-1] if extensions else expires
        while any(abs((day - today).days) <= 3 for day in (start, expires, *extensions)):
            start, expires = start - timedelta(days=7), expires - timedelta(days=7)
            extensions = [day - timedelta(days=7) for day in extensions]
            last = extensions[-1] if extensions else expires
        ended, ended_on = "", ""
        converted = max(start, last - timedelta(days=20))
        if k < len(chain) - 1 and converted > today - timedelta(days=4):
            del chain[k + 1:]  # a conversion still to come is not in the data yet
        if k < len(chain) - 1:  # converted (alih status) some weeks before its expiry
            ended, ended_on = "CONVERTED", converted.isoformat()
        elif end_draw < 0.25 and (min(last, today - timedelta(days=4)) - start).days > 2:
            span = (min(last, today - timedelta(days=4)) - start).days
            ended = ("DEPARTED", "CANCELLED", "DEPORTED", "DECEASED")[int(why_draw * 4)]
            ended_on = (start + timedelta(days=1 + int(when_draw * (span - 1)))).isoformat()
        sponsor = _sponsor(rng) if permit_type != "ITK" or rng.random() < 0.5 else None
        out.append(PermitRecord(
            permit_number=f"{permit_type[:2]}{counter:06d}{k}{rng.randrange(10**4):04d}",
            type=permit_type, passport_number=person.passport,
            nationality=person.nationality, holder_name=person.name,
            issued_on=start.isoformat(), expires_on=expires.isoformat(), sponsor=sponsor,
            extensions=tuple(day.isoformat() for day in extensions),
            ended=ended,  # type: ignore[arg-type]
            ended_on=ended_on))
        if ended == "CONVERTED":
            start = date.fromisoformat(ended_on)
    return out


def generate(size: int = DEFAULT_SIZE, seed: int = SEED,
             today: date | None = None) -> ConsularData:
    """Synthetic permits, notifications and passports, identical for identical (size, seed,
    today); permit dates are relative to `today` (default `calendar.reference_date()`)."""
    rng, dates = random.Random(seed), random.Random(seed + 1)
    day = today or reference_date()
    people = [_person(rng, i) for i in range(size)]
    permits: list[PermitRecord] = []
    notifications: list[NotificationRecord] = []
    passports: list[PassportRecord] = []
    for i, person in enumerate(people):
        permits.extend(_permits(rng, dates, person, i, day))
        if rng.random() < 0.125:
            kind = rng.choice(NOTIFICATION_TYPES)
            when = date(2020, 1, 1) + timedelta(days=rng.randrange(1800))
            notifications.append(NotificationRecord(
                notification_id=f"KN-{when.year}-{i:06d}", type=kind, full_name=person.name,
                passport_number=person.passport, nationality=person.nationality,
                date=when.isoformat(), place=rng.choice(CITIES),
                authority=rng.choice(AUTHORITIES), summary=SUMMARIES[kind]))
        if person.nationality in EMBASSY_COUNTRIES:
            status: PassportStatus = ("VALID" if rng.random() < 0.95
                                      else rng.choice(("REVOKED", "LOST", "STOLEN")))
            passports.append(PassportRecord(person.passport, person.nationality, person.name,
                                            person.born.isoformat(), status))
    # Passports of nationals who never came to Indonesia.
    for i in range(size, size + size // 2):
        person = _person(rng, i)
        if person.nationality in EMBASSY_COUNTRIES:
            passports.append(PassportRecord(person.passport, person.nationality, person.name,
                                            person.born.isoformat(), "VALID"))
    return ConsularData(permits=tuple(permits), notifications=tuple(notifications),
                        passports=tuple(passports))


def write(data: ConsularData, directory: Path, fmt: str = "jsonl") -> tuple[Path, ...]:
    """Write ``permits.<fmt>``, ``notifications.<fmt>``, ``passports.<fmt>`` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = (directory / f"permits.{fmt}", directory / f"notifications.{fmt}",
             directory / f"passports.{fmt}")
    r.write(PERMITS, data.permits, paths[0])
    r.write(NOTIFICATIONS, data.notifications, paths[1])
    r.write(PASSPORTS, data.passports, paths[2])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write synthetic consular data")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    data = generate(args.size, args.seed)
    paths = write(data, args.out, args.format)
    print(f"wrote {len(data.permits)} permits, {len(data.notifications)} notifications, "
          f"{len(data.passports)} passports to {', '.join(map(str, paths))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
