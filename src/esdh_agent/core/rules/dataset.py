"""Whole-dataset rules, part one: each block hands back keys and tallies; unique.* checks keys.

``keys_and_tallies`` runs per block and hands the whole-dataset rules what they need: key
columns as 128-bit hashes (for uniqueness) and small value counts (for plan conformance).
``uniqueness`` runs once, over every block's keys in a ``KeyStore``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext
from esdh_agent.core.columns import repeated_rows
from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES, LOBS, RISKS
from esdh_agent.core.keystore import KeyStore
from esdh_agent.core.report import MAX_SAMPLES, Finding
from esdh_agent.core.rules.common import ages, licence_key

__all__ = ["keys_and_tallies", "uniqueness"]


def keys_and_tallies(checker: Checker, ctx: ValidationContext) -> None:
    """Hand back what uniqueness and plan conformance need."""
    person, vehicle = checker.block["persons"], checker.block["vehicles"]
    profile = checker.block["profiles"]
    checker.key("persons.person_id", "persons", person.column("person_id"), "person_id")
    checker.key("persons.licence", "persons", licence_key(checker, sep=" "))
    checker.key("vehicles.vehicle_id", "vehicles", vehicle.column("vehicle_id"), "vehicle_id")
    checker.key("vehicles.vin", "vehicles", vehicle.column("vin"))
    checker.key("profiles.profile_id", "profiles", profile.column("profile_id"))
    checker.key("profiles.person_id", "profiles", profile.column("person_id"), "person_id")
    if ctx.plan is None:
        return
    lob = checker.codes("persons", "lob_type", LOBS)
    checker.tally_codes("lob_type", lob, LOBS)
    checker.tally_codes(
        "state", checker.codes("persons", "state", CONTRACT_STATES), CONTRACT_STATES
    )
    age = ages(person.column("date_of_birth"), ctx.as_of)
    checker.tally("age", pa.array(age))
    checker.tally(
        "address_line_2", pc.if_else(person.column("address_line_2").is_valid(), "yes", "no")
    )
    checker.tally(
        "zip_plus4",
        pc.if_else(pc.greater(pc.utf8_length(person.column("postal_code")), 5), "yes", "no"),
    )
    owner = checker.index("vehicles", "person_id", "persons", "person_id")
    count = np.bincount(owner[owner >= 0], minlength=person.num_rows)
    pairs = [f"{name}|{k}" for name in LOBS for k in range(int(count.max(initial=0)) + 1)]
    width = int(count.max(initial=0)) + 1
    checker.tally_codes("vehicles_per_person", np.where(lob >= 0, lob * width + count, -1), pairs)
    vlob = checker.codes("vehicles", "lob_type", LOBS)
    for column, values in (("body_style", BODY_STYLES), ("risk_rating", RISKS)):
        codes = checker.codes("vehicles", column, values)
        combined = np.where((vlob >= 0) & (codes >= 0), vlob * len(values) + codes, -1)
        labels = [f"{name}|{v}" for name in LOBS for v in values]
        checker.tally_codes(column, combined, labels)
    checker.tally("make", vehicle.column("make"))
    checker.tally("model_year", vehicle.column("model_year"))
    idx = pa.array(np.maximum(owner, 0))
    elsewhere = pc.not_equal(
        vehicle.column("garaging_postal_code"), person.column("postal_code").take(idx)
    )
    checker.tally("garaging_elsewhere", pc.if_else(elsewhere, "yes", "no"))


def uniqueness(keys: KeyStore, rules: set[str]) -> list[Finding]:
    """Values that appear more than once in the whole dataset.

    Checked one hash bucket at a time (equal keys share a bucket), so only one bucket is in
    memory. The finding counts every row whose value repeats and samples the first rows in
    row order, exactly as one sort over all keys would.
    """
    findings = []
    for name in sorted(keys.names):
        entity, column = name.split(".")
        rule = f"unique.{column}"
        rules.add(rule)
        count, first = 0, np.zeros(0, dtype=np.int64)
        for records in keys.buckets(name):
            repeated = repeated_rows(records["h1"], records["h2"])
            if len(repeated):
                count += len(repeated)
                rows = np.concatenate([first, records["row"][repeated]])
                first = np.sort(rows)[:MAX_SAMPLES]
        if not count:
            continue
        findings.append(
            Finding(
                rule=rule,
                entity=entity,
                field="driver_license_number" if column == "licence" else column,
                severity="error",
                message=f"{column} values repeat",
                count=count,
                samples=[f"row {int(r)}" for r in first],
            )
        )
    return findings
