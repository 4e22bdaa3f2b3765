"""Whole-dataset rules, part one: each block hands back keys and tallies; unique.* checks keys.

``keys_and_tallies`` runs per block and hands the whole-dataset rules what they need: key
columns as 128-bit hashes (for uniqueness) and small value counts (for plan conformance).
``uniqueness`` runs once, over every block's keys in a ``KeyStore``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from esdh_agent.core.checker import Checker, ValidationContext, as_mask
from esdh_agent.core.columns import repeated_rows
from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES, LOBS, RISKS
from esdh_agent.core.keystore import KeyStore
from esdh_agent.core.report import MAX_SAMPLES, Finding
from esdh_agent.core.rules.common import licence_key, person_ages
from esdh_agent.core.rules.vehicle_rows import garaged_elsewhere
from esdh_agent.core.shapes import char_lengths

__all__ = ["keys_and_tallies", "uniqueness"]


def keys_and_tallies(checker: Checker, ctx: ValidationContext) -> None:
    """Hand back what uniqueness and plan conformance need."""
    person, vehicle = checker.block["persons"], checker.block["vehicles"]
    checker.key("persons.person_id", "persons", person.column("person_id"), "person_id")
    checker.key("persons.licence", "persons", licence_key(checker))
    checker.key("vehicles.vehicle_id", "vehicles", vehicle.column("vehicle_id"), "vehicle_id")
    checker.key("vehicles.vin", "vehicles", vehicle.column("vin"), "vin")
    checker.key("profiles.profile_id", "profiles", checker.column("profiles", "profile_id"))
    profile_person = checker.column("profiles", "person_id")
    checker.key("profiles.person_id", "profiles", profile_person, "person_id")
    if ctx.plan is None:
        return
    lob = checker.codes("persons", "lob_type", LOBS)
    checker.tally_codes("lob_type", lob, LOBS)
    checker.tally_codes(
        "state", checker.codes("persons", "state", CONTRACT_STATES), CONTRACT_STATES
    )
    checker.tally("age", person_ages(checker, ctx.as_of))
    unit = as_mask(checker.column("persons", "address_line_2").is_valid())
    checker.tally_yes_no("address_line_2", unit)
    length, valid = char_lengths(checker.column("persons", "postal_code"))
    checker.tally_yes_no("zip_plus4", length > 5, valid)
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
    checker.tally("make", checker.column("vehicles", "make"))
    checker.tally("model_year", checker.column("vehicles", "model_year"))
    elsewhere = garaged_elsewhere(checker)
    checker.tally_yes_no("garaging_elsewhere", as_mask(elsewhere), as_mask(elsewhere.is_valid()))


def _repeated_rows(read: Callable[[], Iterator[np.ndarray]]) -> np.ndarray:
    """The rows of one bucket (from ``read``) whose key repeats."""
    found = [records["row"][repeated_rows(records["h1"], records["h2"])] for records in read()]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _repeats(keys: KeyStore, name: str, threads: int) -> Iterator[np.ndarray]:
    """The rows of ``name`` whose key repeats, bucket by bucket (in no particular order).

    With more than one thread, buckets are read and checked on ``threads`` threads (reading
    files and numpy's sorts do not hold the GIL), with at most ``2 * threads`` buckets
    submitted at once, so no more than ``threads`` buckets are in memory.
    """
    if threads <= 1:
        yield from map(_repeated_rows, keys.readers(name))
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="esdh-unique") as pool:
        window: deque[Future[np.ndarray]] = deque()
        for read in keys.readers(name):
            window.append(pool.submit(_repeated_rows, read))
            if len(window) >= 2 * threads:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def uniqueness(keys: KeyStore, rules: set[str], threads: int = 1) -> list[Finding]:
    """Values that appear more than once in the whole dataset.

    Checked one hash bucket at a time (equal keys share a bucket), so only a few buckets are
    in memory (see ``_repeats`` for ``threads``). The finding counts every row whose value
    repeats and samples the first rows in row order, exactly as one sort over all keys would,
    whatever the order in which buckets are checked.
    """
    findings = []
    for name in sorted(keys.names):
        entity, column = name.split(".")
        rule = f"unique.{column}"
        rules.add(rule)
        count, first = 0, np.zeros(0, dtype=np.int64)
        for rows in _repeats(keys, name, threads):
            if len(rows):
                count += len(rows)
                first = np.sort(np.concatenate([first, rows]))[:MAX_SAMPLES]
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
