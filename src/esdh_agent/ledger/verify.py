"""Verify a requirements ledger on generated data (and on the plan), vectorized.

Each requirement is measured where docs/requests.md says (persons, vehicles, vehicles per
person, or the plan) and judged by its tolerance class, exactly as the table there:

- shares: ``exact`` |m - v| <= 1/n + 0.005; ``approx`` |m - v| <= max(0.05, 0.1 v);
  ``mostly`` m > 0.5; ``some`` 0 < m <= 0.5; ``few`` 0 < m <= 0.2 (the vague ones also within
  ``approx`` of v when v is given); ``at_least`` m >= v - 1/n; ``at_most`` m <= v + 1/n;
  ``all`` m = 1; ``none`` m = 0. ``only`` is met when every row is one of the keys, ``exclude``
  when none is.
- counts: ``person_count eq`` exact, or within 10% when ``approx``; ``min``/``max``/``range``
  bound the row count.
- ranges (``age``, ``model_year``, vehicles per person ``eq``/``range``/``min``/``max``): every
  row inside.

Name variants follow how the generator makes them (core/generator.py), tested in this order so
each person counts once: ``max_length`` first and last name both 50 characters, ``long`` last
name over 30 characters, ``non_ascii`` a non-ASCII first or last name, ``hyphenated`` a "-" in
the last name, ``apostrophe`` a "'" in it. A boundary age is a date of birth that puts the
person on an edge of a plan age band, as the generator draws them: turning the band's min age
on the as-of date, or its max age + 1 the day after.

Returned requirements are copies with ``status`` (met/unmet), ``measured`` and a one-line
``detail``; a requirement that is not pending/met/unmet (or is a directive) is returned as is.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.rules import ages
from esdh_agent.ledger.model import VAGUE_BOUNDS, Requirement

__all__ = ["VERIFIED_STATUSES", "share_met", "verify_ledger"]

VERIFIED_STATUSES = ("pending", "met", "unmet")
_PERSON_COLUMNS = {"state": "state", "lob": "lob_type"}
_VEHICLE_COLUMNS = {"body_style": "body_style", "risk": "risk_rating"}
_ROW_BOUNDS = ("range", "min", "max")


def share_met(m: float, v: float | None, tolerance: str, n: int) -> bool:
    """Whether a measured share ``m`` of ``n`` rows meets ``v`` under ``tolerance``."""
    step = 1.0 / max(n, 1)
    near = v is None or abs(m - v) <= max(0.05, 0.1 * v)
    if tolerance == "all" or (v is not None and v >= 1.0 and tolerance == "exact"):
        return m >= 1.0 - 1e-12
    if tolerance == "none" or (v is not None and v <= 0.0 and tolerance == "exact"):
        return m <= 1e-12
    if v is None or tolerance in ("mostly", "some", "few"):
        low, high = VAGUE_BOUNDS.get(tolerance, (0.0, 1.0))
        inside = low < m <= high + 1e-12 if v is None or tolerance == "mostly" else m > 0
        return inside and near
    if tolerance == "approx":
        return near
    if tolerance == "at_least":
        return m >= v - step - 1e-12
    if tolerance == "at_most":
        return m <= v + step + 1e-12
    return abs(m - v) <= step + 0.005 + 1e-12


def _years_ago(day: dt.date, years: int) -> dt.date:
    """``day`` moved back by whole years; Feb 29 falls back to Feb 28 (as the generator)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _band(key: Any) -> tuple[int, int]:
    parts = str(key).split("-")
    return int(parts[0]), int(parts[-1])


def _np(values: Any, dtype: Any = bool) -> np.ndarray:
    """An Arrow array or chunked array as numpy (nulls as False for masks)."""
    if dtype is bool:
        values = pc.fill_null(values, False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)


class _Data:
    """The measures of one dataset, each computed once, when first asked for."""

    def __init__(self, plan: GenerationPlan, tables: dict[str, pa.Table]) -> None:
        self.plan = plan
        self.persons = tables["persons"]
        self.vehicles = tables["vehicles"]

    @cached_property
    def ages(self) -> np.ndarray:
        if not self.persons.num_rows:
            return np.zeros(0, dtype=np.int64)
        return ages(self.persons.column("date_of_birth"), self.plan.as_of_date)

    @cached_property
    def vehicle_counts(self) -> np.ndarray:
        """Vehicles owned by each person (0 for none)."""
        if not self.persons.num_rows:
            return np.zeros(0, dtype=np.int64)
        owners = self.vehicles.column("person_id")
        tally = pc.value_counts(owners) if self.vehicles.num_rows else None
        if tally is None or not len(tally):
            return np.zeros(self.persons.num_rows, dtype=np.int64)
        index = pc.index_in(self.persons.column("person_id"), value_set=tally.field("values"))
        counts = _np(tally.field("counts"), np.int64)
        idx = _np(pc.fill_null(index, -1), np.int64)
        return np.where(idx >= 0, counts[np.maximum(idx, 0)], 0)

    @cached_property
    def name_variants(self) -> dict[str, np.ndarray]:
        """Each person's name variant, one per person (module docstring)."""
        first, last = self.persons.column("first_name"), self.persons.column("last_name")
        first_len, last_len = pc.utf8_length(first), pc.utf8_length(last)
        tests = {
            "max_length": _np(pc.and_(pc.equal(first_len, 50), pc.equal(last_len, 50))),
            "long": _np(pc.greater(last_len, 30)),
            "non_ascii": ~_np(pc.and_(pc.string_is_ascii(first), pc.string_is_ascii(last))),
            "hyphenated": _np(pc.match_substring(last, "-")),
            "apostrophe": _np(pc.match_substring(last, "'")),
        }
        taken = np.zeros(self.persons.num_rows, dtype=bool)
        out: dict[str, np.ndarray] = {}
        for name, test in tests.items():
            out[name] = test & ~taken
            taken |= test
        return out

    @cached_property
    def boundary(self) -> np.ndarray:
        """Persons born on a band edge's date (module docstring)."""
        as_of, one = self.plan.as_of_date, dt.timedelta(days=1)
        edges = [_years_ago(as_of, b.min_age) for b in self.plan.age_bands]
        edges += [_years_ago(as_of, b.max_age + 1) + one for b in self.plan.age_bands]
        hit = pc.is_in(self.persons.column("date_of_birth"), value_set=pa.array(edges, pa.date32()))
        return _np(hit)


def _keys_mask(r: Requirement, data: _Data) -> tuple[np.ndarray, str, int, str]:
    """Rows matching the requirement's key(s): (mask, label of the keys, n, row noun)."""
    raw: Any = r.value if r.op in ("only", "exclude") else [r.key]
    keys: list[Any] = raw if isinstance(raw, list) else [raw]
    label = "/".join(str(k) for k in keys) if keys != [None] else r.target
    for columns, table, noun in (
        (_PERSON_COLUMNS, data.persons, "persons"),
        (_VEHICLE_COLUMNS, data.vehicles, "vehicles"),
    ):
        if r.target in columns:
            wanted = pa.array([str(k) for k in keys], pa.string())
            mask = _np(pc.is_in(table.column(columns[r.target]), value_set=wanted))
            return mask, label, table.num_rows, noun
    if r.target in ("age", "vehicles_per_person"):
        source = data.ages if r.target == "age" else data.vehicle_counts
        mask = np.zeros(len(source), dtype=bool)
        for key in keys:
            low, high = _band(key)
            mask |= (source >= low) & (source <= high)
        noun = "persons" if r.target == "age" else "persons (by vehicles owned)"
        return mask, ("aged " if r.target == "age" else "owning ") + label, len(source), noun
    n = data.persons.num_rows
    if r.target == "address_line_2":
        return (
            _np(pc.is_valid(data.persons.column("address_line_2"))),
            "with a unit line",
            n,
            "persons",
        )
    if r.target == "zip_plus4":
        postal = pc.utf8_length(data.persons.column("postal_code"))
        return _np(pc.equal(postal, 10)), "with ZIP+4", n, "persons"
    if r.target == "name_variant":
        variants = data.name_variants
        mask = variants.get(str(r.key), np.zeros(n, dtype=bool))
        return mask, f"with {r.key} names", n, "persons"
    return data.boundary, "on an age-band edge", n, "persons"


def _share(r: Requirement, data: _Data) -> tuple[bool, Any, str]:
    mask, label, n, noun = _keys_mask(r, data)
    m = int(np.count_nonzero(mask)) / n if n else 0.0
    value: Any = r.value
    v = None if value is None or r.op != "share" else float(value)
    if r.op == "only":
        ok, asked = m >= 1.0 - 1e-12, f"only {label}"
    elif r.op == "exclude":
        ok, asked = m <= 1e-12, f"none {label}"
    else:
        ok, asked = (
            share_met(m, v, r.tolerance, n),
            f"{'' if v is None else f'{v:g} '}{r.tolerance}",
        )
    return ok, round(m, 4), f"{label} is {m:.3f} of {n} {noun} (asked {asked})"


def _rows(r: Requirement, values: np.ndarray, what: str, noun: str) -> tuple[bool, Any, str]:
    """Every row inside the asked bound(s)."""
    value: Any = r.value
    low: int | None = int(value[0] if r.op == "range" else value) if r.op != "max" else None
    high: int | None = int(value[-1] if r.op == "range" else value) if r.op != "min" else None
    asked = {
        "range": f"{low}–{high}",
        "min": f"at least {low}",
        "max": f"at most {high}",
        "eq": f"exactly {low}",
    }[r.op]
    if not len(values):
        return True, None, f"no {noun} to check (asked {what} {asked} for every one)"
    seen_low, seen_high = int(values.min()), int(values.max())
    ok = (low is None or seen_low >= low) and (high is None or seen_high <= high)
    got = f"{seen_low}–{seen_high}" if seen_low != seen_high else str(seen_low)
    return ok, [seen_low, seen_high], f"{what} {got} (asked {asked} for every one of {noun})"


def _person_count(r: Requirement, data: _Data) -> tuple[bool, Any, str]:
    n = data.persons.num_rows
    value: Any = r.value
    if r.op == "range":
        ok = int(value[0]) <= n <= int(value[-1])
    else:
        v = int(value)
        ok = {
            "min": n >= v,
            "max": n <= v,
            "eq": abs(n - v) <= 0.1 * v if r.tolerance == "approx" else n == v,
        }.get(r.op, False)
    return ok, n, f"{n} persons (asked {r.label()})"


def _plan_fact(r: Requirement, plan: GenerationPlan) -> tuple[bool, Any, str]:
    actual: Any = getattr(plan, r.target)
    shown = actual.isoformat() if isinstance(actual, dt.date) else actual
    return str(shown) == str(r.value), shown, f"the plan's {r.target} is {shown} (asked {r.value})"


def _measure(r: Requirement, data: _Data) -> tuple[bool, Any, str]:
    if r.target in ("seed", "dataset_version", "as_of_date"):
        return _plan_fact(r, data.plan)
    if r.target == "person_count":
        return _person_count(r, data)
    if r.target == "age" and r.op in _ROW_BOUNDS:
        return _rows(r, data.ages, "ages", "persons")
    if r.target == "model_year":
        years = _np(data.vehicles.column("model_year"), np.int64)
        return _rows(r, years, "model years", "vehicles")
    if r.target == "vehicles_per_person" and r.op in (*_ROW_BOUNDS, "eq"):
        return _rows(r, data.vehicle_counts, "vehicles per person", "persons")
    return _share(r, data)


def verify_ledger(
    requirements: list[Requirement], plan: GenerationPlan, tables: dict[str, pa.Table]
) -> list[Requirement]:
    """Copies of ``requirements`` with status met/unmet, measured and detail filled in."""
    data = _Data(plan, tables)
    out: list[Requirement] = []
    for r in requirements:
        if r.status not in VERIFIED_STATUSES or r.target == "directive":
            out.append(r.model_copy())
            continue
        try:
            ok, measured, detail = _measure(r, data)
        except (TypeError, ValueError) as error:  # a malformed value: say so, do not crash
            ok, measured, detail = False, None, f"cannot check {r.label()}: {error}"
        status = "met" if ok else "unmet"
        out.append(r.model_copy(update={"status": status, "measured": measured, "detail": detail}))
    return out
