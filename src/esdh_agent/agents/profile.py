"""A compact statistical profile of a bundle, plus a few sample rows: what critics see.

Critics never see the whole dataset. The profile is also what the framework checks a
critic's claims against, so its fields are the vocabulary of those checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.rules import ages

__all__ = ["CATEGORICAL", "build_profile", "observed_share"]

CATEGORICAL = {
    "lob_type": "persons",
    "state": "persons",
    "driver_license_state": "persons",
    "body_style": "vehicles",
    "risk_rating": "vehicles",
    "make": "vehicles",
}
SAMPLE_COLUMNS = {
    "persons": (
        "first_name",
        "last_name",
        "date_of_birth",
        "driver_license_state",
        "driver_license_number",
        "city",
        "state",
        "postal_code",
        "lob_type",
    ),
    "vehicles": (
        "vin",
        "make",
        "model",
        "model_year",
        "body_style",
        "risk_rating",
        "garaging_state",
    ),
}


def _shares(column: pa.ChunkedArray | pa.Array) -> dict[str, float]:
    total = len(column)
    counts = pc.value_counts(column).to_pylist()
    return {
        str(c["values"]): round(c["counts"] / total, 4)
        for c in sorted(counts, key=lambda c: (-c["counts"], str(c["values"])))
        if c["values"] is not None
    }


def build_profile(tables: dict[str, pa.Table], as_of: dt.date, samples: int = 3) -> dict[str, Any]:
    """Counts, category shares, age and model-year ranges, rates and sample rows."""
    persons, vehicles = tables["persons"], tables["vehicles"]
    age = ages(persons.column("date_of_birth"), as_of)
    years = vehicles.column("model_year").to_numpy()
    last = persons.column("last_name")
    first = persons.column("first_name")
    n = max(persons.num_rows, 1)
    per_person = (
        np.bincount(
            np.unique(
                vehicles.column("person_id").to_numpy(zero_copy_only=False), return_inverse=True
            )[1]
        )
        if vehicles.num_rows
        else np.zeros(0, dtype=np.int64)
    )
    profile: dict[str, Any] = {
        "counts": {name: t.num_rows for name, t in tables.items()},
        "shares": {
            field: _shares(tables[entity].column(field)) for field, entity in CATEGORICAL.items()
        },
        "age": {
            "min": int(age.min()) if len(age) else None,
            "max": int(age.max()) if len(age) else None,
            "mean": round(float(age.mean()), 1) if len(age) else None,
        },
        "model_year": {
            "min": int(years.min()) if len(years) else None,
            "max": int(years.max()) if len(years) else None,
        },
        "vehicles_per_person": {
            str(k): int(v) for k, v in zip(*np.unique(per_person, return_counts=True), strict=True)
        },
        "rates": {
            "address_line_2": round(
                float(
                    persons.column("address_line_2")
                    .is_valid()
                    .to_numpy(zero_copy_only=False)
                    .mean()
                ),
                4,
            )
            if persons.num_rows
            else 0.0,
            "zip_plus4": round(
                float(
                    pc.sum(pc.greater(pc.utf8_length(persons.column("postal_code")), 5)).as_py()
                    or 0
                )
                / n,
                4,
            ),
        },
        "names": {
            "hyphenated": int(pc.sum(pc.match_substring(last, "-")).as_py() or 0),
            "apostrophe": int(pc.sum(pc.match_substring(last, "'")).as_py() or 0),
            "non_ascii": int(
                pc.sum(
                    pc.invert(pc.string_is_ascii(pc.binary_join_element_wise(first, last, " ")))
                ).as_py()
                or 0
            ),
            "at_max_length_50": int(pc.sum(pc.equal(pc.utf8_length(first), 50)).as_py() or 0),
        },
        "samples": {
            entity: [
                {k: (str(v) if isinstance(v, dt.date) else v) for k, v in row.items()}
                for row in tables[entity].select(list(columns)).slice(0, samples).to_pylist()
            ]
            for entity, columns in SAMPLE_COLUMNS.items()
        },
    }
    return profile


def observed_share(profile: dict[str, Any], field: str, value: str) -> float | None:
    """The share of ``value`` in a categorical ``field`` (None when unknown field)."""
    shares = profile.get("shares", {}).get(field)
    if shares is None:
        return None
    return float(shares.get(value, 0.0))
