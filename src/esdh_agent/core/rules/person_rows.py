"""domain.* rules on persons: licence age and format, ZIP/city/state triples."""

from __future__ import annotations

import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext
from esdh_agent.core.rules.common import licence_key, lookup_tables, person_ages, zip_rows

__all__ = ["LICENSED_AGES", "persons"]

LICENSED_AGES = (16, 99)


def persons(checker: Checker, ctx: ValidationContext) -> None:
    """Licence age and format, ZIP/city/state triples."""
    tables = lookup_tables(ctx.vocab)
    age = person_ages(checker, ctx.as_of)
    low, high = LICENSED_AGES
    checker.flag(
        "domain.licence_age",
        "persons",
        "date_of_birth",
        (age >= 0) & ((age < low) | (age > high)),
        f"age on {ctx.as_of} outside the licensed {low}-{high}",
    )
    checker.flag(
        "domain.licence_format",
        "persons",
        "driver_license_number",
        pc.invert(pc.match_substring_regex(licence_key(checker), tables.licence_regex)),
        "licence number does not follow its state's format",
    )
    checker.flag(
        "domain.zip_city_state",
        "persons",
        "postal_code",
        zip_rows(checker, tables, "persons", ("postal_code", "city", "state")),
        "ZIP, city and state are not a real triple",
    )
