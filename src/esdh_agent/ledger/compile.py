"""Compile a requirements ledger into plan fields, deterministically.

Each field set is traced to its requirement ids (``provenance``); a requirement the plan cannot
express gets a one-line reason (``unsupported``), never an invalid plan. Only pending/met ones
compile, in list order; one contradicting earlier ones of its target is "contradicts R3 (why)".

- ``person_count``: eq/min/max give the count; a range its midpoint rounded to a multiple of 10.
- Mixes (state, lob, body_style, risk, vehicles_per_person): explicit shares as given; ``only``
  restricts the categories, ``exclude`` removes some; a share with no number takes
  ``VAGUE_SHARE`` by tolerance, split over its keys. The other allowed categories share the
  remainder in proportion to the base mix (those it gives a share); failing those, vague
  non-"mostly" and "at least" categories absorb it (then "mostly" ones), else all other allowed
  categories share it uniformly. Vague categories must fit their tolerance (mostly > 0.5, some
  <= 0.5, few <= 0.2). Shares are rounded to 6 places, the last key absorbing the rounding.
  Body style and risk apply the same requirement to each line of business with a positive
  share (each keeping its base proportions for the rest), so the overall vehicle share is the
  one asked; a line switched on without an entry gets the default plan's. Vehicle counts take
  bands ("2-3"); ``eq N`` is ``only [N]``, ``range [a, b]`` ``only a..b`` uniformly, ``min``/
  ``max`` cut.
- ``age``: range/min/max clip the base bands (each keeps the share its remaining width carries;
  one band = the range if none overlaps; outside the licensed 16-99: unsupported). ``share``
  bands keep their shares, the rest fill the base bands cut outside them (sum 1: just those).
- ``model_year``: range/min/max set ``model_year_min``/``max`` inside the contract's years.
- Rates (address_line_2, zip_plus4, name_variant, boundary_age): the share, or ``VAGUE_RATE`` by
  tolerance (``only`` 1, ``exclude`` 0), into ``*_rate`` or ``edge_cases`` (merged into the
  base's; unnamed base name variants shrink if the variants would exceed 1).
- ``seed``, ``dataset_version``, ``as_of_date``: eq sets it. ``directive``: always unsupported.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES, LOBS, RISKS, column_rules
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.rules.person_rows import LICENSED_AGES
from esdh_agent.ledger.model import VAGUE_BOUNDS, Requirement

__all__ = ["COMPILED_STATUSES", "Compiled", "compile_ledger"]

COMPILED_STATUSES = ("pending", "met")
VAGUE_SHARE = {"mostly": 0.7, "some": 0.2, "few": 0.1}  # a share with no number: "mostly trucks"
VAGUE_RATE = {"all": 1.0, "none": 0.0, "mostly": 0.7, "some": 0.2, "few": 0.05}  # a rate, likewise
_YEAR = next(rule for rule in column_rules("vehicles") if rule.name == "model_year")
MODEL_YEARS = (int(_YEAR.ge or 2000), int(_YEAR.le or 2024))  # the contract's model years
UNIVERSE: dict[str, tuple[str, ...]] = {"vehicles_per_person": tuple(map(str, range(1, 11)))}
UNIVERSE |= dict(state=CONTRACT_STATES, lob=LOBS, body_style=BODY_STYLES, risk=RISKS)
VARIANT_FIELDS = {k: f"{k}_names" for k in ("hyphenated", "apostrophe", "long", "non_ascii")}
VARIANT_FIELDS["max_length"] = "max_length_fields"
_EPS, _ROUNDING = 1e-9, 0.0015  # _ROUNDING: "one sixth" x6 written as 0.1667 sums to 1.0002
_DEFAULTS = GenerationPlan().model_dump(mode="json")


class _Unsupported(Exception):
    """The plan cannot express this requirement, whatever else the ledger asks."""


class _Clash(Exception):
    """The requirements of one target cannot all hold."""


@dataclass
class Compiled:
    """Plan fields set by the ledger, who set them, and what could not be compiled."""

    fields: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, list[str]] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)


Item = tuple[str, list[str], float | None, str]  # (only/exclude/share, keys, share, tolerance)
Builder = Callable[[list[Requirement], dict[str, Any]], dict[str, Any]]  # one target's fields


def _num(value: Any, what: str) -> float:
    if isinstance(value, str) and value.strip().isdigit():
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unsupported(f"{what} needs a number, got {value!r}")
    return float(value)


def _pair(value: Any) -> tuple[int, int]:
    """``[low, high]``, a band ``"16-17"`` or a count ``"1"``, as an inclusive range."""
    parts = value if isinstance(value, list | tuple) else str(value).split("-")
    low, high = int(_num(parts[0], "a range")), int(_num(parts[-1], "a range"))
    if len(parts) > 2 or low > high:
        raise _Unsupported(f"{value!r} is not a range like [low, high] or '16-17'")
    return low, high


def _share(r: Requirement, rates: bool = False) -> float | None:
    """The share (or, with ``rates``, the rate) a requirement gives; ``None`` when vague."""
    if rates and r.op in ("only", "exclude"):
        return 1.0 if r.op == "only" else 0.0
    if r.value is None:
        fixed = VAGUE_RATE if rates else {"all": 1.0, "none": 0.0}
        if r.tolerance not in fixed and r.tolerance not in VAGUE_SHARE:
            raise _Unsupported(f"no share given, and '{r.tolerance}' implies none")
        return fixed.get(r.tolerance)
    value = _num(r.value, "a share")
    if not 0.0 <= value <= 1.0:
        raise _Unsupported(f"share {value:g} is not between 0 and 1")
    return value


def _keys(target: str, raw: Any) -> list[str]:
    universe = UNIVERSE[target]
    if target == "vehicles_per_person":
        low, high = _pair(raw)
        if low < 1 or high > len(universe):
            raise _Unsupported(f"{low}-{high} vehicles is outside 1-{len(universe)} per person")
        return [str(n) for n in range(low, high + 1)]
    if raw not in universe:
        what = "a contract state" if target == "state" else f"a {target}"
        raise _Unsupported(f"{raw} is not {what} ({'/'.join(universe)})")
    return [str(raw)]


def _item(target: str, r: Requirement) -> Item:
    if r.op == "share":
        return ("share", _keys(target, r.key), _share(r), r.tolerance)
    if r.op not in ("only", "exclude"):
        raise _Unsupported(f"'{r.op}' does not apply to {r.target}")
    raw: list[Any] = r.value if isinstance(r.value, list) else [r.value]
    if r.op == "exclude" and target != "vehicles_per_person":  # never made: trivially held
        raw = [k for k in raw if k in UNIVERSE[target]]
    return (r.op, [k for v in raw for k in _keys(target, v)], None, r.tolerance)


def _rounded(shares: dict[str, float], order: tuple[str, ...]) -> dict[str, float]:
    keys = [k for k in order if shares.get(k, 0.0) > _EPS]
    out = {k: round(shares[k], 6) for k in keys}
    out[keys[-1]] = round(1.0 - sum(out[k] for k in keys[:-1]), 6)
    return out


def _solve(
    items: list[Item], universe: tuple[str, ...], base: dict[str, Any], nearest: bool = False
) -> dict[str, float]:
    """A mix over ``universe`` meeting every item (module docstring), or ``_Clash``. With
    ``nearest``, a remainder the base gives no category goes to the first category left
    ("nine in ten have one vehicle": the others have two), not spread over all of them."""
    allowed, explicit = list(universe), dict[str, float]()
    vague: list[tuple[list[str], str]] = []
    soft: dict[str, float] = {}
    for op, keys, value, tol in items:
        if op != "share":
            allowed = [k for k in allowed if (k in keys) == (op == "only")]
        elif value is None:
            vague.append((keys, tol))
            soft.update({k: VAGUE_SHARE[tol] / len(keys) for k in keys})
        elif any(k in explicit for k in keys):
            raise _Clash(f"{'/'.join(keys)} is given two shares")
        else:
            explicit.update({k: value / len(keys) for k in keys})
            vague += [(keys, tol)] if tol == "at_least" else []  # may take the remainder
    allowed = [k for k in allowed if explicit.get(k, 1.0) > 0]
    named = set(explicit) | {k for keys, _ in vague for k in keys}
    gone = [k for k in universe if k in named and k not in allowed and explicit.get(k, 1) > 0]
    if gone or not allowed:
        raise _Clash(f"{', '.join(gone) or 'every category'} is excluded")
    shares = {k: explicit.get(k, 0.0) + soft.get(k, 0.0) for k in allowed}
    total = sum(shares.values())
    if total > 1.0 + _ROUNDING:
        raise _Clash(f"shares add up to {total:g}")
    if total > 1:
        shares, total = {k: v / total for k, v in shares.items()}, 1.0
    rest = [k for k in allowed if k not in named]
    weights = {k: float(base.get(k, 0.0)) for k in rest if float(base.get(k, 0.0)) > _EPS}
    takers = [k for keys, tol in vague if tol != "mostly" for k in keys]
    takers = takers or [k for keys, _ in vague for k in keys]
    spread = dict.fromkeys(rest[:1] if nearest else rest, 1.0)
    weights = weights or ({} if takers else spread)
    if not weights and not takers and total < 1.0 - _EPS:
        raise _Clash(f"shares add up to {total:g}, and no other category is allowed")
    grow = weights or {k: shares[k] for k in takers}
    for k, w in grow.items():
        shares[k] = (shares[k] if k in takers else 0.0) + (1.0 - total) * w / sum(grow.values())
    for keys, tol in vague:
        got, (low, high) = sum(shares[k] for k in keys), VAGUE_BOUNDS.get(tol, (-1.0, 1.0))
        if not low < got <= high + _EPS:
            raise _Clash(f"{'/'.join(keys)} would be {got:.3g}, not {tol}")
    return _rounded(shares, universe)


def _mix_builder(target: str) -> Builder:
    field_name = f"{target}_mix"

    def build(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
        items, mix, universe = [_item(target, r) for r in reqs], ctx[field_name], UNIVERSE[target]
        out: dict[str, Any]
        if target in ("state", "lob"):
            out = {field_name: _solve(items, universe, mix)}
        else:  # per line of business: the same requirement for every line in the mix
            lobs = [lob for lob, share in ctx["lob_mix"].items() if share > 0]
            bases = {lob: mix.get(lob) or _DEFAULTS[field_name][lob] for lob in lobs}
            out = {field_name: {**mix, **{k: _solve(items, universe, v) for k, v in bases.items()}}}
        for name in ("body_style_mix", "risk_mix") if target == "lob" else ():
            missing = {k: _DEFAULTS[name][k] for k in out["lob_mix"] if not ctx[name].get(k)}
            out.update({name: {**ctx[name], **missing}} if missing else {})
        return out

    return build


def _vpp(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    """Counts as a mix: eq, range, min and max become the counts allowed."""
    items: list[Item] = []
    base = {str(k): v for k, v in ctx["vehicles_per_person"].items()}
    top = max(int(k) for k in base)
    for r in reqs:
        n = int(_num(r.value, "a count")) if r.op in ("eq", "min", "max") else 0
        bounds = {"range": r.value, "eq": [n, n], "min": [n, max(n, top)], "max": [1, n]}
        base = {} if r.op == "range" else base  # a range is shared uniformly
        if r.op in bounds:
            items.append(("only", _keys(r.target, _pair(bounds[r.op])), None, "all"))
        else:
            items.append(_item(r.target, r))
    nearest = all(op == "share" for op, _, _, _ in items)
    universe = UNIVERSE["vehicles_per_person"]
    return {"vehicles_per_person": _solve(items, universe, base, nearest)}


def _interval(
    reqs: list[Requirement], limits: tuple[int, int], what: str, clip: bool = False
) -> tuple[int, int]:
    """The values every range/min/max requirement allows, inside ``limits``; with ``clip``, a
    range reaching past the limits is cut to them (every row then still lies in the range)."""
    low, high = limits
    for r in (r for r in reqs if r.op in ("range", "min", "max")):
        v = _pair(r.value) if r.op == "range" else (int(_num(r.value, what)),) * 2
        a, b = (v[0], limits[1]) if r.op == "min" else (limits[0], v[1]) if r.op == "max" else v
        if clip and a <= b and a <= limits[1] and b >= limits[0]:
            a, b = max(a, limits[0]), min(b, limits[1])
        if a < limits[0] or b > limits[1] or a > b:
            raise _Unsupported(f"{what} {a}-{b} is outside the contract's {limits[0]}-{limits[1]}")
        low, high = max(low, a), min(high, b)
        if low > high:
            raise _Clash(f"no {what} is inside every range asked")
    return low, high


def _age(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    low, high = _interval(reqs, LICENSED_AGES, "age")
    given: list[tuple[int, int, float]] = []
    for r in reqs:
        if r.op == "share":
            (a, b), value = _pair(r.key), _share(r)
            if a < LICENSED_AGES[0] or b > LICENSED_AGES[1]:
                raise _Unsupported(f"ages {a}-{b} are outside the licensed {LICENSED_AGES}")
            given.append((a, b, VAGUE_SHARE[r.tolerance] if value is None else value))
        elif r.op not in ("range", "min", "max"):
            raise _Unsupported(f"'{r.op}' does not apply to age")
    spans = [(low - 1, low - 1), *sorted((a, b) for a, b, _ in given), (high + 1, high + 1)]
    if any(c <= b for (_, b), (c, _) in itertools.pairwise(spans)):
        raise _Clash(f"the age bands asked overlap or leave the ages {low}-{high}")
    taken = sum(s for _, _, s in given)
    if taken > 1.0 + _EPS:
        raise _Clash(f"age shares add up to {taken:g}")
    holes = [(a, b) for a, b, _ in given] + [(-1, low - 1), (high + 1, 999)]

    def _cut(parts: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for c, d in holes:
            parts = [p for x, y in parts for p in ((x, min(y, c - 1)), (max(x, d + 1), y))]
        return [(x, y) for x, y in parts if x <= y]

    pieces: list[tuple[int, int, float]] = []
    if taken < 1.0 - _EPS:
        for band in ctx["age_bands"]:
            a, b, s = int(band["min_age"]), int(band["max_age"]), float(band["share"])
            pieces += [(x, y, s * (y - x + 1) / (b - a + 1)) for x, y in _cut([(a, b)], holes)]
        if sum(s for _, _, s in pieces) <= _EPS:
            pieces = [(x, y, float(y - x + 1)) for x, y in _cut([(low, high)], holes)]
        weight = sum(s for _, _, s in pieces)
        if weight <= _EPS:
            raise _Clash(f"the age bands asked leave no ages for the other {1 - taken:g}")
        pieces = [(a, b, (1.0 - taken) * s / weight) for a, b, s in pieces]
    bands = sorted(given + pieces)
    keys = tuple(str(i) for i in range(len(bands)))
    shares = _rounded({k: s for k, (_, _, s) in zip(keys, bands, strict=True)}, keys)
    kept = [(k, a, b) for k, (a, b, _) in zip(keys, bands, strict=True) if k in shares]
    return {"age_bands": [{"min_age": a, "max_age": b, "share": shares[k]} for k, a, b in kept]}


def _model_year(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    if any(r.op not in ("range", "min", "max") for r in reqs):
        raise _Unsupported("model years take a range, a min or a max")
    low, high = _interval(reqs, MODEL_YEARS, "model year", clip=True)
    base_low, base_high = int(ctx["model_year_min"]), int(ctx["model_year_max"])
    ops = {r.op for r in reqs}
    high = max(base_high, low) if not ops & {"range", "max"} else high
    low = min(base_low, high) if not ops & {"range", "min"} else low
    return {"model_year_min": low, "model_year_max": high}


def _person_count(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    exact = [int(_num(r.value, "a count")) for r in reqs if r.op == "eq"]
    low, high = _interval([r for r in reqs if r.op != "eq"], (1, 100_000_000), "person count")
    if any(n != exact[0] or not low <= n <= high for n in exact):
        raise _Clash(f"asks for {exact[0]} persons and for another count")
    mid, ops = round((low + high) / 20) * 10, {r.op for r in reqs}
    pick = exact[0] if exact else {"min": low, "max": high}.get("".join(ops), mid)
    return {"person_count": min(max(pick, low), high)}


def _same(values: list[Any], what: str) -> Any:
    if any(v != values[0] for v in values):
        raise _Clash(f"asks for {what} {values[0]} and {values[-1]}")
    return values[0]


def _field_builder(name: str, rate: bool = False) -> Builder:
    def build(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
        if not rate and any(r.op != "eq" for r in reqs):
            raise _Unsupported(f"{name} takes 'eq' only")
        return {name: _same([_share(r, rates=True) if rate else r.value for r in reqs], name)}

    return build


def _edges(reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    edges, asked = dict(ctx["edge_cases"]), dict[str, float]()
    for r in reqs:
        if r.target == "name_variant" and r.key not in VARIANT_FIELDS:
            raise _Unsupported(f"name variant {r.key!r} is not one of {', '.join(VARIANT_FIELDS)}")
        name = "boundary_ages" if r.target == "boundary_age" else VARIANT_FIELDS[str(r.key)]
        asked[name] = _same([asked.get(name, _share(r, rates=True)), _share(r, rates=True)], name)
    edges.update(asked)
    total = sum(edges[f] for f in VARIANT_FIELDS.values() if f in asked)
    if total > 1.0 + _EPS:
        raise _Clash(f"name variants add up to {total:g}")
    others = [f for f in VARIANT_FIELDS.values() if f not in asked]
    used = sum(float(edges[f]) for f in others)
    if used > 1.0 - total:
        edges.update({f: round(float(edges[f]) * (1.0 - total) / used, 6) for f in others})
    return {"edge_cases": edges}


BUILDERS: dict[str, Builder] = {t: _field_builder(t) for t in ("seed", "dataset_version")}
BUILDERS |= {"as_of_date": _field_builder("as_of_date"), "person_count": _person_count}
BUILDERS |= {t: _mix_builder(t) for t in ("lob", "state", "body_style", "risk")}
BUILDERS |= {"age": _age, "model_year": _model_year, "vehicles_per_person": _vpp}
BUILDERS |= {t: _field_builder(f"{t}_rate", rate=True) for t in ("address_line_2", "zip_plus4")}
BUILDERS |= dict.fromkeys(("name_variant", "boundary_age"), _edges)
"""One builder per target, in compile order: lines of business before body style and risk;
name variants and boundary ages share ``edge_cases``, hence one builder."""


def _attempt(build: Builder, reqs: list[Requirement], ctx: dict[str, Any]) -> dict[str, Any]:
    """The builder's fields, checked as a whole plan (``_Unsupported`` if the plan rejects)."""
    fields = build(reqs, ctx)
    try:
        GenerationPlan.model_validate({**ctx, **fields})
    except ValidationError as error:
        raise _Unsupported(f"the plan rejects it: {error.errors()[0]['msg']}") from None
    return fields


def _holds(build: Builder, reqs: list[Requirement], ctx: dict[str, Any]) -> bool:
    try:
        _attempt(build, reqs, ctx)
    except (_Clash, _Unsupported):
        return False
    return True


def compile_ledger(requirements: list[Requirement], base: dict[str, Any]) -> Compiled:
    """The plan fields ``requirements`` set over ``base`` (a full plan dict, JSON mode)."""
    out = Compiled()
    groups: dict[Builder, list[Requirement]] = {}
    for r in requirements:
        if r.status in COMPILED_STATUSES and r.target == "directive":
            out.unsupported[r.id] = "asks about the run, not the data; the policy gate decides"
        elif r.status in COMPILED_STATUSES:
            groups.setdefault(BUILDERS[r.target], []).append(r)
    ctx = dict(base)
    for build in dict.fromkeys(BUILDERS.values()):
        accepted: list[Requirement] = []
        for r in groups.get(build, []):
            try:
                _attempt(build, [*accepted, r], ctx)
            except _Unsupported as why:
                out.unsupported[r.id] = str(why)
            except _Clash as clash:
                culprits = [a.id for a in accepted if not _holds(build, [a, r], ctx)]
                named = ", ".join(culprits or [a.id for a in accepted])
                out.unsupported[r.id] = f"contradicts {named} ({clash})"
            else:
                accepted.append(r)
        for name, value in (_attempt(build, accepted, ctx) if accepted else {}).items():
            out.fields[name] = ctx[name] = value
            ids = out.provenance.setdefault(name, [])
            ids.extend(r.id for r in accepted if r.id not in ids)
    return out
