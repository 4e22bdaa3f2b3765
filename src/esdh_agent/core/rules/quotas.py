"""Whole-dataset rules, part two: plan.* — the data realizes the plan's counts and quotas.

Runs once, over the tallies every block handed back: expected counts come from the plan's
shares by largest remainder, exactly as the generator deals them out.
"""

from __future__ import annotations

import itertools
from collections import Counter

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import MAX_SAMPLES, Finding
from esdh_agent.core.rng import largest_remainder

__all__ = ["conformance"]


def _quota(total: int, shares: dict[str, float]) -> dict[str, int]:
    keys = list(shares)
    counts = largest_remainder(total, [shares[k] for k in keys])
    return {k: int(c) for k, c in zip(keys, counts, strict=True) if c}


def _yes_no(total: int, rate: float) -> dict[str, int]:
    """The exact split of ``total`` rows by a rate: how many 'yes', how many 'no'."""
    return _quota(total, {"no": 1 - rate, "yes": rate})


class _Audit:
    """The findings of plan conformance, in order, and the rules it checked."""

    def __init__(self, tallies: dict[str, Counter[str]], rules: set[str]) -> None:
        self.tallies = tallies
        self.rules = rules
        self.findings: list[Finding] = []

    def found(self, tally: str) -> Counter[str]:
        return self.tallies.get(tally, Counter())

    def report(
        self,
        rule: str,
        entity: str,
        column: str,
        count: int,
        message: str,
        samples: list[str] | None = None,
    ) -> None:
        """``rule`` was checked; ``count`` rows (or keys) break it, if any."""
        self.rules.add(rule)
        if count:
            self.findings.append(
                Finding(
                    rule=rule,
                    entity=entity,
                    field=column,
                    severity="error",
                    message=message,
                    count=count,
                    samples=samples or [],
                )
            )

    def expect(
        self,
        rule: str,
        entity: str,
        column: str,
        expected: dict[str, int],
        found: Counter[str],
    ) -> None:
        """One finding listing every key whose count differs from the expected one."""
        wrong = [
            f"{key}: expected {expected.get(key, 0)}, found {found.get(key, 0)}"
            for key in sorted(set(expected) | set(found))
            if expected.get(key, 0) != found.get(key, 0)
        ]
        message = f"{column} does not match the plan's exact quotas"
        self.report(rule, entity, column, len(wrong), message, wrong[:MAX_SAMPLES])

    def count(self, entity: str, expected: int, rows: dict[str, int]) -> None:
        """plan.count: the entity has exactly ``expected`` rows."""
        found = Counter({entity: rows.get(entity, 0)})
        self.expect("plan.count", entity, "rows", {entity: expected}, found)

    def quota(self, entity: str, column: str, expected: dict[str, int], tally: str) -> None:
        """plan.quota: the rows per value of ``tally`` are exactly the expected ones."""
        self.expect("plan.quota", entity, column, expected, self.found(tally))

    def within(
        self, rule: str, entity: str, column: str, tally: str, bounds: tuple[int, int], what: str
    ) -> None:
        """``rule``: no tallied value lies outside ``bounds`` (one finding counting the rows)."""
        low, high = bounds
        outside = sum(c for value, c in self.found(tally).items() if not low <= int(value) <= high)
        self.report(rule, entity, column, outside, f"{what} outside the plan's {low}-{high}")


def conformance(
    plan: GenerationPlan, tallies: dict[str, Counter[str]], rows: dict[str, int], rules: set[str]
) -> list[Finding]:
    """The data realizes the plan's counts and exact quotas."""
    audit = _Audit(tallies, rules)
    n = plan.person_count
    audit.count("persons", n, rows)
    lob = _quota(n, {str(k): v for k, v in plan.lob_mix.items()})
    audit.quota("persons", "lob_type", lob, "lob_type")
    states = _quota(n, {str(k): v for k, v in plan.state_mix.items()})
    audit.quota("persons", "state", states, "state")
    audit.quota("persons", "address_line_2", _yes_no(n, plan.address_line_2_rate), "address_line_2")
    audit.quota("persons", "postal_code", _yes_no(n, plan.zip_plus4_rate), "zip_plus4")
    vpp: dict[str, int] = {}
    vehicles_by_lob: dict[str, int] = {}
    for name, count in lob.items():
        shares = {str(k): v for k, v in plan.vehicles_per_person.items()}
        for k, c in _quota(count, shares).items():
            vpp[f"{name}|{k}"] = c
            vehicles_by_lob[name] = vehicles_by_lob.get(name, 0) + int(k) * c
    audit.quota("vehicles", "vehicles_per_person", vpp, "vehicles_per_person")
    total_vehicles = sum(vehicles_by_lob.values())
    audit.count("vehicles", total_vehicles, rows)
    for column, attr in (("body_style", "body_style_mix"), ("risk_rating", "risk_mix")):
        expected: dict[str, int] = {}
        mix: dict[str, dict[str, float]] = getattr(plan, attr)
        for name, count in vehicles_by_lob.items():
            for value, c in _quota(count, dict(mix[name])).items():
                expected[f"{name}|{value}"] = c
        audit.quota("vehicles", column, expected, column)
    audit.quota("vehicles", "make", _quota(total_vehicles, dict(plan.make_mix)), "make")
    garaging = _yes_no(total_vehicles, plan.garaging_elsewhere_rate)
    audit.quota("vehicles", "garaging_postal_code", garaging, "garaging_elsewhere")
    audit.within("plan.age_range", "persons", "date_of_birth", "age", plan.age_range(), "ages")
    bands = sorted((b.min_age, b.max_age) for b in plan.age_bands)
    if all(a[1] < b[0] for a, b in itertools.pairwise(bands)):
        expected_bands = _quota(n, {f"{b.min_age}-{b.max_age}": b.share for b in plan.age_bands})
        found_bands: Counter[str] = Counter()
        for age, c in audit.found("age").items():
            for b in plan.age_bands:
                if b.min_age <= int(age) <= b.max_age:
                    found_bands[f"{b.min_age}-{b.max_age}"] += c
        audit.expect("plan.quota", "persons", "age_band", expected_bands, found_bands)
    years = (plan.model_year_min, plan.model_year_max)
    audit.within(
        "plan.model_year_range", "vehicles", "model_year", "model_year", years, "model years"
    )
    return audit.findings
