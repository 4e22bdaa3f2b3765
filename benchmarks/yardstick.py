"""The naive yardstick: the default plan done one row at a time with Faker, random, pydantic.

Kept only as a comparison for bench_core.py, never used by the product. Plain loops on
purpose, no vectorization. Shares are drawn at random per row (no exact quotas). City and
ZIP come from one Faker call over the governed ZIP table, so the rows pass the same
ZIP/city/state rule the vectorized validator runs.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter
from typing import Any

from pydantic import BaseModel, ValidationError

from esdh_agent.core.contract import PROFILE_NAMESPACE, Person, Profile, Vehicle
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.vin import VIN_ALPHABET, WEIGHTS, YEAR_CODES, transliteration_table
from esdh_agent.core.vocab import Vocabulary

__all__ = ["run_yardstick"]

VIN_CHARS = VIN_ALPHABET.decode()
VIN_VALUES = {chr(i): int(v) for i, v in enumerate(transliteration_table()) if v >= 0}
VIN_WEIGHTS = [int(w) for w in WEIGHTS]
SPELL = {"@": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "#": "0123456789"}
SPELL["*"] = SPELL["@"] + SPELL["#"]
MODELS: dict[str, type[BaseModel]] = {"persons": Person, "vehicles": Vehicle, "profiles": Profile}


def years_ago(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29
        return day.replace(year=day.year - years, day=28)


def vin_check_digit(vin: str) -> str:
    total = sum(VIN_VALUES[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


class Naive:
    """Per-row generation and validation of one plan."""

    def __init__(self, plan: GenerationPlan, vocab: Vocabulary, marker: str) -> None:
        from faker import Faker  # here, so worker processes re-importing __main__ skip it

        self.plan, self.marker = plan, marker
        self.fake = Faker("en_US")
        self.fake.seed_instance(plan.seed)
        self.rng = random.Random(plan.seed)
        zips, cities = vocab.zip_codes.to_pylist(), vocab.zip_cities.to_pylist()
        self.zips = {
            s: list(zip(zips[o : o + k], cities[o : o + k], strict=True))
            for s, (o, k) in vocab.zip_state_offsets.items()
        }
        self.triples = {(z, c, s) for s, pairs in self.zips.items() for z, c in pairs}
        self.formats = {
            s: ([f.format for f in fs], [f.share for f in fs])
            for s, fs in vocab.licence_formats.formats.items()
        }
        self.models: dict[tuple[str, str], list[tuple[str, list[int], list[str]]]] = {}
        lo, hi = plan.model_year_min, plan.model_year_max
        for make, entries in vocab.catalogue.makes.items():
            for e in entries:
                years = [y for a, b in e.years for y in range(max(a, lo), min(b, hi) + 1)]
                if years:
                    self.models.setdefault((make, e.body_style), []).append((e.model, years, e.wmi))
        self.issued: set[tuple[str, str]] = set()

    def pick(self, shares: dict[Any, float]) -> Any:
        return self.rng.choices(list(shares), weights=list(shares.values()))[0]

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def licence(self, state: str) -> str:
        formats, shares = self.formats[state]
        fmt = self.rng.choices(formats, weights=shares)[0]
        while True:  # redraw on a collision: licence numbers are unique per state
            number = "".join(self.rng.choice(SPELL[ch]) if ch in SPELL else ch for ch in fmt)
            if (state, number) not in self.issued:
                self.issued.add((state, number))
                return number

    def vin(self, wmi: str, year: int) -> str:
        chars = [*wmi, *self.rng.choices(VIN_CHARS, k=5), "0", YEAR_CODES[(year - 1980) % 30]]
        chars += self.rng.choices(VIN_CHARS, k=7)
        chars[8] = vin_check_digit("".join(chars))
        return "".join(chars)

    def person(self, lob: str, state: str) -> Person:
        plan, rng, fake = self.plan, self.rng, self.fake
        band = self.pick({band: band.share for band in plan.age_bands})
        age = rng.randint(band.min_age, band.max_age)
        oldest = years_ago(plan.as_of_date, age + 1) + dt.timedelta(days=1)
        span = (years_ago(plan.as_of_date, age) - oldest).days
        zip5, city = fake.random_element(self.zips[state])
        if rng.random() < plan.zip_plus4_rate:
            zip5 = f"{zip5}-{rng.randint(1, 9999):04d}"
        return Person(
            person_id=self.uuid4(),
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            date_of_birth=oldest + dt.timedelta(days=rng.randint(0, span)),
            driver_license_number=self.licence(state),
            driver_license_state=state,
            address_line_1=fake.street_address(),
            address_line_2=(
                fake.secondary_address() if rng.random() < plan.address_line_2_rate else None
            ),
            city=city,
            state=state,
            postal_code=zip5,
            lob_type=lob,
            synthetic_source=self.marker,
        )

    def vehicle(self, person: Person) -> Vehicle:
        lob = person.lob_type
        make, body = self.pick(self.plan.make_mix), self.pick(self.plan.body_style_mix[lob])
        model, years, wmis = self.rng.choice(self.models[(make, body)])
        year = self.rng.choice(years)
        return Vehicle(
            vehicle_id=self.uuid4(),
            person_id=person.person_id,
            vin=self.vin(self.rng.choice(wmis), year),
            make=make,
            model=model,
            model_year=year,
            body_style=body,
            risk_rating=self.pick(self.plan.risk_mix[lob]),
            lob_type=lob,
            garaging_state=person.state,
            garaging_postal_code=person.postal_code,
            synthetic_source=self.marker,
        )

    def profile(self, p: Person, v: Vehicle) -> Profile:
        return Profile(
            profile_id=str(uuid.uuid5(PROFILE_NAMESPACE, f"{p.person_id}:{v.vehicle_id}")),
            person_id=p.person_id,
            vehicle_id=v.vehicle_id,
            full_name=f"{p.first_name} {p.last_name}",
            lob_type=p.lob_type,
            residence_state=p.state,
            city=p.city,
            postal_code=p.postal_code,
            garaging_state=v.garaging_state,
            primary_vehicle_vin=v.vin,
            vehicle_summary=f"{v.model_year} {v.make} {v.model}",
            risk_rating=v.risk_rating,
            synthetic_source=self.marker,
        )

    def generate(self) -> dict[str, list[BaseModel]]:
        out: dict[str, list[BaseModel]] = {"persons": [], "vehicles": [], "profiles": []}
        for _ in range(self.plan.person_count):
            person = self.person(self.pick(self.plan.lob_mix), self.pick(self.plan.state_mix))
            owned = [self.vehicle(person) for _ in range(self.pick(self.plan.vehicles_per_person))]
            out["persons"].append(person)
            out["vehicles"] += owned
            out["profiles"].append(self.profile(person, owned[0]))
        return out

    def validate(self, rows: dict[str, list[dict[str, Any]]]) -> Counter[str]:
        """Per row: pydantic model_validate, then the same family of rules in plain Python."""
        bad: Counter[str] = Counter()
        for entity, model in MODELS.items():
            for row in rows[entity]:
                try:
                    model.model_validate(row)
                except ValidationError:
                    bad[f"contract.{entity}"] += 1
                bad["governance.marker"] += row["synthetic_source"] != self.marker
        as_of = self.plan.as_of_date
        persons: dict[str, dict[str, Any]] = {}
        licences: set[tuple[str, str]] = set()
        for row in rows["persons"]:
            bad["unique.person_id"] += row["person_id"] in persons
            persons[row["person_id"]] = row
            dob = row["date_of_birth"]
            age = as_of.year - dob.year - ((as_of.month, as_of.day) < (dob.month, dob.day))
            bad["domain.licence_age"] += not 16 <= age <= 99
            triple = (row["postal_code"][:5], row["city"], row["state"])
            bad["domain.zip_city_state"] += triple not in self.triples
            licence = (row["driver_license_state"], row["driver_license_number"])
            bad["unique.licence"] += licence in licences
            licences.add(licence)
        vehicles: dict[str, dict[str, Any]] = {}
        vins: set[str] = set()
        for row in rows["vehicles"]:
            bad["unique.vehicle_id"] += row["vehicle_id"] in vehicles
            vehicles[row["vehicle_id"]] = row
            vin = row["vin"]
            bad["unique.vin"] += vin in vins
            vins.add(vin)
            bad["fk.vehicle_person"] += row["person_id"] not in persons
            bad["domain.vin_check_digit"] += vin_check_digit(vin) != vin[8]
            bad["domain.vin_year_code"] += YEAR_CODES[(row["model_year"] - 1980) % 30] != vin[9]
        profile_ids: set[str] = set()
        profiled: set[str] = set()
        for row in rows["profiles"]:
            bad["unique.profile_id"] += row["profile_id"] in profile_ids
            profile_ids.add(row["profile_id"])
            bad["unique.profile_person"] += row["person_id"] in profiled
            profiled.add(row["person_id"])
            bad["fk.profile_person"] += row["person_id"] not in persons
            bad["fk.profile_vehicle"] += row["vehicle_id"] not in vehicles
        return +bad  # drop the zero counts


def run_yardstick(plan: GenerationPlan, vocab: Vocabulary, marker: str) -> dict[str, Any]:
    """Time naive generation and naive validation of ``plan`` separately."""
    start = time.perf_counter()
    naive = Naive(plan, vocab, marker)
    records = naive.generate()
    generate = time.perf_counter() - start
    # Dumping to dicts is outside both timings: it only prepares the validator's input.
    rows = {entity: [r.model_dump() for r in items] for entity, items in records.items()}
    del records
    start = time.perf_counter()
    bad = naive.validate(rows)
    validate = time.perf_counter() - start
    return {
        "records": sum(len(r) for r in rows.values()),
        "generate_s": generate,
        "validate_s": validate,
        "findings": sum(bad.values()),
        "findings_by_rule": dict(bad),
    }
