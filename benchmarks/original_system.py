"""The system this project replaces, re-implemented as a yardstick for ``bench_e2e.py``.

    python benchmarks/original_system.py --persons N --out DIR [--seed S]

The original (enterprise-synthetic-data-hub, v0.1 snapshot) generates with one
``random.Random(seed)`` and a Python loop over persons, keeps every row as a plain dict, derives
profiles afterwards through a pydantic model, and exports with ``csv.DictWriter`` plus one
``json.dumps(payload, indent=2)`` of the whole dataset. This module does the same work in the
same order, drawing from the generator in the same sequence, so for a given seed and size it
writes the same bytes the original writes: a faster or slower stand-in would make the
end-to-end ratio meaningless. It is written from the original's description and behaviour,
not copied from it; nothing here is used by the package.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

VERSION = "v0.1"
SLUG = VERSION.replace(".", "_")
DEFAULT_SEED = 20251101
GENERATED_AT = dt.datetime(2025, 11, 1)
MARKER = "enterprise-synthetic-data-hub v0.1"
PROFILE_NAMESPACE = uuid.UUID("ca92fd9b-5368-4924-8db6-bb1f56766c2b")

FIRST = ["Alex", "Jordan", "Taylor", "Casey", "Morgan", "Avery", "Logan"]
LAST = ["Rivera", "Nguyen", "Patel", "Garcia", "Smith", "Zhou", "Thompson"]
# state → (cities, inclusive postal code range); dict order is the draw order.
STATES: dict[str, tuple[list[str], tuple[int, int]]] = {
    "CA": (["Walnut Creek", "San Mateo"], (94596, 94950)),
    "AZ": (["Phoenix", "Tempe"], (85001, 85299)),
    "NV": (["Las Vegas", "Henderson"], (88901, 89199)),
    "OR": (["Portland", "Eugene"], (97001, 97599)),
    "WA": (["Seattle", "Tacoma"], (98001, 98599)),
}
STATE_CODES = list(STATES)
LOB_WEIGHTS = {"Personal": 0.7, "Commercial": 0.3}
MODELS = {
    "Toyota": ["Camry", "Prius", "RAV4"],
    "Ford": ["Focus", "Escape", "Maverick"],
    "Honda": ["Civic", "CR-V", "Accord"],
    "Subaru": ["Outback", "Forester"],
    "Chevrolet": ["Equinox", "Malibu", "Trax"],
}
MAKES = list(MODELS)
BODY_STYLES = {"Personal": ["Sedan", "SUV"], "Commercial": ["SUV", "Truck"]}
RISK_RATINGS = {"Personal": ["Low", "Medium"], "Commercial": ["Medium", "High"]}
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
UNIT_KINDS = ["Apt", "Suite", "Unit"]

PERSON_FIELDS = (
    "person_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "driver_license_number",
    "driver_license_state",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "postal_code",
    "country",
    "lob_type",
    "synthetic_source",
)
VEHICLE_FIELDS = (
    "vehicle_id",
    "person_id",
    "vin",
    "make",
    "model",
    "model_year",
    "body_style",
    "risk_rating",
    "lob_type",
    "garaging_state",
    "garaging_postal_code",
    "synthetic_source",
)


class Profile(BaseModel):
    """The original validates each derived profile with a frozen pydantic model, then dumps it
    back to a dict: that round trip is part of its cost, so it is kept."""

    model_config = ConfigDict(frozen=True)

    profile_id: str
    person_id: str
    vehicle_id: str
    full_name: str
    lob_type: str
    residence_state: str = Field(min_length=2, max_length=2)
    city: str
    postal_code: str
    garaging_state: str = Field(min_length=2, max_length=2)
    primary_vehicle_vin: str
    vehicle_summary: str
    risk_rating: str
    synthetic_source: str


class Metadata(BaseModel):
    """Dataset metadata, a pydantic model in the original too."""

    model_config = ConfigDict(frozen=True)

    dataset_version: str
    generated_at: dt.datetime
    record_count_persons: int = Field(ge=0)
    record_count_vehicles: int = Field(ge=0)
    record_count_profiles: int = Field(ge=0)
    notes: str | None = None


@dataclass
class Bundle:
    metadata: Metadata
    persons: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    profiles: list[dict[str, Any]]


# --- generation: one Random, one loop, plain dicts ----------------------------------------


def pick(rng: random.Random, values: Sequence[str]) -> str:
    return values[rng.randrange(len(values))]


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    """Cumulative roll over the weights in dict order (first key if rounding overshoots)."""
    roll, total = rng.random(), 0.0
    for key, weight in weights.items():
        total += weight
        if roll <= total:
            return key
    return next(iter(weights))


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def person_row(rng: random.Random, index: int) -> dict[str, Any]:
    state = pick(rng, STATE_CODES)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=rng.randint(0, 20000))
    cities, (low, high) = STATES[state]
    city = pick(rng, cities)
    postal = f"{rng.randint(low, high):05d}"
    lob = weighted(rng, LOB_WEIGHTS)
    line_2 = None if index % 3 else f"{UNIT_KINDS[index % 3]} {200 + index}"
    return {
        "person_id": new_id(rng),
        "first_name": pick(rng, FIRST),
        "last_name": pick(rng, LAST),
        "date_of_birth": born.isoformat(),
        "driver_license_number": f"{state}{rng.randint(1000000, 9999999)}",
        "driver_license_state": state,
        "address_line_1": f"{100 + index} Main Street",
        "address_line_2": line_2,
        "city": city,
        "state": state,
        "postal_code": postal,
        "country": "US",
        "lob_type": lob,
        "synthetic_source": MARKER,
    }


def vehicle_row(rng: random.Random, person: dict[str, Any]) -> dict[str, Any]:
    make = pick(rng, MAKES)
    model = pick(rng, MODELS[make])
    year = rng.randint(2008, 2024)
    lob = person["lob_type"]
    return {
        "vehicle_id": new_id(rng),
        "person_id": person["person_id"],
        "vin": "".join(rng.choice(VIN_ALPHABET) for _ in range(17)),
        "make": make,
        "model": model,
        "model_year": year,
        "body_style": pick(rng, BODY_STYLES[lob]),
        "risk_rating": pick(rng, RISK_RATINGS[lob]),
        "lob_type": lob,
        "garaging_state": person["state"],
        "garaging_postal_code": person["postal_code"],
        "synthetic_source": MARKER,
    }


def profile_rows(
    persons: list[dict[str, Any]], vehicles: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One profile per (person, vehicle) pair, joined through a person_id → vehicle dict."""
    by_person = {v["person_id"]: v for v in vehicles}
    out: list[dict[str, Any]] = []
    for p in persons:
        v = by_person.get(p["person_id"])
        if v is None:
            continue
        profile = Profile(
            profile_id=str(uuid.uuid5(PROFILE_NAMESPACE, f"{p['person_id']}:{v['vehicle_id']}")),
            person_id=p["person_id"],
            vehicle_id=v["vehicle_id"],
            full_name=f"{p['first_name']} {p['last_name']}",
            lob_type=p["lob_type"],
            residence_state=p["state"],
            city=p["city"],
            postal_code=p["postal_code"],
            garaging_state=v["garaging_state"],
            primary_vehicle_vin=v["vin"],
            vehicle_summary=f"{v['model_year']} {v['make']} {v['model']}",
            risk_rating=v["risk_rating"],
            synthetic_source=MARKER,
        )
        out.append(profile.model_dump(mode="json"))
    return out


def generate(persons: int, seed: int) -> Bundle:
    if persons <= 0:
        raise ValueError("persons must be positive")
    rng = random.Random(seed)
    person_list: list[dict[str, Any]] = []
    vehicle_list: list[dict[str, Any]] = []
    for index in range(persons):
        person = person_row(rng, index)
        person_list.append(person)
        vehicle_list.append(vehicle_row(rng, person))
    profiles = profile_rows(person_list, vehicle_list)
    metadata = Metadata(
        dataset_version=VERSION,
        generated_at=GENERATED_AT,
        record_count_persons=len(person_list),
        record_count_vehicles=len(vehicle_list),
        record_count_profiles=len(profiles),
        notes=f"Deterministic snapshot generated from rule-based distributions (seed={seed}).",
    )
    return Bundle(metadata, person_list, vehicle_list, profiles)


# --- export: DictWriter, one big json.dumps, metadata, manifest, readme ---------------------


def write_csv(path: Path, rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> None:
    """Header, then one ``writerow`` per record of a fresh dict with None → ''."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({f: "" if row.get(f) is None else row.get(f) for f in fields})


def export(bundle: Bundle, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "persons_csv": out / f"persons_{SLUG}.csv",
        "vehicles_csv": out / f"vehicles_{SLUG}.csv",
        "dataset_json": out / f"dataset_{SLUG}.json",
        "metadata_json": out / f"metadata_{SLUG}.json",
        "manifest_json": out / f"snapshot_manifest_{SLUG}.json",
        "readme": out / f"README_SNAPSHOT_{SLUG.upper()}.md",
    }
    write_csv(paths["persons_csv"], bundle.persons, PERSON_FIELDS)
    write_csv(paths["vehicles_csv"], bundle.vehicles, VEHICLE_FIELDS)
    meta = bundle.metadata.model_dump(mode="json")
    payload = {
        "metadata": meta,
        "persons": bundle.persons,
        "vehicles": bundle.vehicles,
        "profiles": bundle.profiles,
    }
    paths["dataset_json"].write_text(json.dumps(payload, indent=2), encoding="utf-8")
    paths["metadata_json"].write_text(json.dumps(meta, indent=2), encoding="utf-8")
    manifest = {
        "dataset_version": bundle.metadata.dataset_version,
        "generated_at": bundle.metadata.generated_at.isoformat(),
        "record_counts": {
            "persons": len(bundle.persons),
            "vehicles": len(bundle.vehicles),
            "profiles": len(bundle.profiles),
        },
        "files": {k: paths[k].name for k in list(paths)[:4]},
        "notes": bundle.metadata.notes,
    }
    paths["manifest_json"].write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    listing = [
        f"- {paths['persons_csv'].name} (persons CSV)",
        f"- {paths['vehicles_csv'].name} (vehicles CSV)",
        f"- {paths['dataset_json'].name} (combined JSON bundle)",
        f"- {paths['metadata_json'].name} (metadata JSON)",
        f"- {paths['manifest_json'].name} (manifest)",
    ]
    readme = [f"# Snapshot {VERSION}", "", "Files exported by the CLI:", *listing, ""]
    readme += ["Re-generate via:", "```bash", "python benchmarks/original_system.py", "```"]
    paths["readme"].write_text("\n".join(readme), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-implementation of the original v0.1 system.")
    parser.add_argument("--persons", type=int, default=200, help="persons (one vehicle each)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the one Random")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    bundle = generate(args.persons, args.seed)
    paths = export(bundle, args.out)
    m = bundle.metadata
    print(
        f"original_system: {m.record_count_persons:,} persons, {m.record_count_vehicles:,} "
        f"vehicles, {m.record_count_profiles:,} profiles in {time.perf_counter() - start:.2f} s "
        f"→ {', '.join(p.name for p in paths.values())}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
