"""contract.*: every column against its field in the pydantic contract models.

Types, required values, patterns, lengths, enums and ranges, read from ``column_rules``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, as_mask
from esdh_agent.core.contract import column_rules

__all__ = ["DERIVED_IDS", "contract"]

DERIVED_IDS: dict[tuple[str, str], tuple[str, str]] = {
    ("vehicles", "person_id"): ("persons", "person_id"),
    ("profiles", "person_id"): ("persons", "person_id"),
    ("profiles", "vehicle_id"): ("vehicles", "vehicle_id"),
}
"""Foreign-key columns and the column whose values they copy."""


def contract(checker: Checker, entity: str) -> None:
    """Types, required values, patterns, lengths, enums and ranges from the pydantic models."""
    table = checker.block[entity]
    for rule in column_rules(entity):
        values = table.column(rule.name)
        if rule.required:
            checker.flag(
                "contract.required",
                entity,
                rule.name,
                values.is_null(),
                f"{rule.name} is required but empty",
            )
        if rule.kind != "string":
            if rule.ge is not None or rule.le is not None:
                low = pc.less(values, rule.ge) if rule.ge is not None else None
                high = pc.greater(values, rule.le) if rule.le is not None else None
                bad = pc.or_(low, high) if low is not None and high is not None else (low or high)
                checker.flag(
                    "contract.range",
                    entity,
                    rule.name,
                    bad,
                    f"{rule.name} outside {rule.ge}-{rule.le}",
                )
            continue
        if rule.enum:
            codes = checker.codes(entity, rule.name, rule.enum)
            checker.flag(
                "contract.enum",
                entity,
                rule.name,
                (codes < 0) & as_mask(values.is_valid()),
                f"{rule.name} not one of {', '.join(rule.enum)}",
            )
        elif rule.pattern:
            source = DERIVED_IDS.get((entity, rule.name))
            if source is not None and source in checker.pattern_failures:
                # Rows that equal a checked source value share its verdict; only rows with
                # no match in the source need the regular expression.
                found = checker.index(entity, rule.name, *source)
                bad = np.zeros(len(values), dtype=bool)
                bad[found >= 0] = checker.pattern_failures[source][found[found >= 0]]
                loose = np.flatnonzero(found < 0)
                if len(loose):
                    sub = values.take(pa.array(loose))
                    bad[loose] = ~as_mask(pc.match_substring_regex(sub, rule.pattern))
                    bad[loose] &= as_mask(sub.is_valid())
            else:
                bad = as_mask(pc.invert(pc.match_substring_regex(values, rule.pattern)))
            checker.pattern_failures[(entity, rule.name)] = bad
            checker.flag(
                "contract.pattern",
                entity,
                rule.name,
                bad,
                f"{rule.name} does not match {rule.pattern}",
            )
        if rule.pattern is None and (rule.min_length is not None or rule.max_length is not None):
            length = pc.utf8_length(values)
            bad = pc.or_(
                pc.less(length, rule.min_length or 0),
                pc.greater(length, rule.max_length or 1 << 30),
            )
            checker.flag(
                "contract.length",
                entity,
                rule.name,
                bad,
                f"{rule.name} length outside {rule.min_length}-{rule.max_length}",
            )
