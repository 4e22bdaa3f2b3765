"""contract.*: every column against its field in the pydantic contract models.

Types, required values, patterns, lengths, enums and ranges, read from ``column_rules``.
Patterns are checked on the column's bytes where ``shapes`` can (the same verdict as the
regular expression), lengths in characters without a pass over ASCII columns.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, as_mask, scalar
from esdh_agent.core.contract import UUID5_PATTERN, ColumnRule, column_rules
from esdh_agent.core.rules.common import failures, pattern_failures
from esdh_agent.core.rules.profile_rows import derived_ids
from esdh_agent.core.shapes import char_lengths

__all__ = ["DERIVED_IDS", "contract"]

DERIVED_IDS: dict[tuple[str, str], tuple[str, str]] = {
    ("vehicles", "person_id"): ("persons", "person_id"),
    ("profiles", "person_id"): ("persons", "person_id"),
    ("profiles", "vehicle_id"): ("vehicles", "vehicle_id"),
}
"""Foreign-key columns and the column whose values they copy."""


@lru_cache(maxsize=8)
def _rules(entity: str) -> tuple[ColumnRule, ...]:
    return tuple(column_rules(entity))


def _derived_failures(checker: Checker, entity: str, rule: ColumnRule) -> np.ndarray | None:
    """Pattern verdicts of a foreign key whose source column was checked: rows equal to a
    source value share its verdict; only rows with no match in the source are matched."""
    source = DERIVED_IDS.get((entity, rule.name))
    if source is None or source not in checker.pattern_failures or rule.pattern is None:
        return None
    values = checker.column(entity, rule.name)
    found = checker.index(entity, rule.name, *source)
    bad = np.zeros(len(values), dtype=bool)
    hit = found >= 0
    bad[hit] = checker.pattern_failures[source][found[hit]]
    loose = np.flatnonzero(~hit)
    if len(loose):
        bad[loose] = failures(values.take(pa.array(loose)), rule.pattern)
    checker.pattern_failures[(entity, rule.name)] = bad
    checker.patterns[(entity, rule.name)] = rule.pattern
    return bad


def _profile_id_failures(checker: Checker, pattern: str) -> np.ndarray | None:
    """A profile id equal to the UUIDv5 derived from its person and vehicle ids matches the
    UUIDv5 pattern (every derived id does): only the other rows are matched."""
    if pattern != UUID5_PATTERN:
        return None
    same = derived_ids(checker)[1]
    bad = np.zeros(len(same), dtype=bool)
    rest = np.flatnonzero(~same)
    if len(rest):
        bad[rest] = failures(checker.column("profiles", "profile_id").take(pa.array(rest)), pattern)
    checker.pattern_failures[("profiles", "profile_id")] = bad
    checker.patterns[("profiles", "profile_id")] = pattern
    return bad


def contract(checker: Checker, entity: str) -> None:
    """Types, required values, patterns, lengths, enums and ranges from the pydantic models."""
    for rule in _rules(entity):
        values = checker.column(entity, rule.name)
        if rule.required:
            if values.null_count:
                message = f"{rule.name} is required but empty"
                checker.flag("contract.required", entity, rule.name, values.is_null(), message)
            else:
                checker.checked("contract.required")
        if rule.kind != "string":
            if rule.ge is not None or rule.le is not None:
                low = pc.less(values, scalar(rule.ge)) if rule.ge is not None else None
                high = pc.greater(values, scalar(rule.le)) if rule.le is not None else None
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
            failed = _derived_failures(checker, entity, rule)
            if failed is None and (entity, rule.name) == ("profiles", "profile_id"):
                failed = _profile_id_failures(checker, rule.pattern)
            if failed is None:
                failed = pattern_failures(checker, entity, rule.name, rule.pattern)
            checker.flag(
                "contract.pattern",
                entity,
                rule.name,
                failed,
                f"{rule.name} does not match {rule.pattern}",
            )
        if rule.pattern is None and (rule.min_length is not None or rule.max_length is not None):
            length, valid = char_lengths(values)
            low, high = rule.min_length or 0, rule.max_length or 1 << 30
            bad = valid & ((length < low) | (length > high))
            checker.flag(
                "contract.length",
                entity,
                rule.name,
                bad,
                f"{rule.name} length outside {rule.min_length}-{rule.max_length}",
            )
