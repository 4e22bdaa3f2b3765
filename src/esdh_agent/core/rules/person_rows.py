"""domain.* rules on persons: licence age and format, ZIP/city/state triples."""

from __future__ import annotations

import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext
from esdh_agent.core.rules.common import ages, licence_key, lookup_tables, not_in, zip_key

__all__ = ["LICENSED_AGES", "persons"]

LICENSED_AGES = (16, 99)


def persons(checker: Checker, ctx: ValidationContext) -> None:
    """Licence age and format, ZIP/city/state triples."""
    tables = lookup_tables(ctx.vocab)
    age = ages(checker.block["persons"].column("date_of_birth"), ctx.as_of)
    low, high = LICENSED_AGES
    checker.flag(
        "domain.licence_age",
        "persons",
        "date_of_birth",
        (age >= 0) & ((age < low) | (age > high)),
        f"age on {ctx.as_of} outside the licensed {low}-{high}",
    )
    keyed = licence_key(checker, sep=":")
    checker.flag(
        "domain.licence_format",
        "persons",
        "driver_license_number",
        pc.invert(pc.match_substring_regex(keyed, tables.licence_regex)),
        "licence number does not follow its state's format",
    )
    triple = zip_key(checker, "persons", "postal_code", "city", "state")
    checker.flag(
        "domain.zip_city_state",
        "persons",
        "postal_code",
        not_in(triple, tables.zip_city_state),
        "ZIP, city and state are not a real triple",
    )
