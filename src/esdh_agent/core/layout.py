"""Compile a plan against the vocabulary into per-block specifications.

Everything that needs global knowledge happens here, once, in the driver: exact quotas,
their spread over fixed-size blocks, and the counters that make licence numbers and VINs
unique. A ``BlockSpec`` then holds all a worker needs to generate its block on its own; the
``Layout`` carries the snapshot name the id streams are keyed on (plain data, so it travels to
worker processes and Dask workers with the rest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES, LOBS, RISKS
from esdh_agent.core.plan import BLOCK_SIZE, GenerationPlan, block_count
from esdh_agent.core.rng import allocate_to_blocks, largest_remainder, stream
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.errors import PlanError

__all__ = [
    "BLOCK_SIZE",
    "BODY_STYLES",
    "LOBS",
    "NAME_VARIANTS",
    "RISKS",
    "VIN_SERIAL_DOMAIN",
    "BlockSpec",
    "Layout",
    "ModelEntry",
    "compile_layout",
    "default_snapshot_name",
]

NAME_VARIANTS = ("plain", "hyphenated", "apostrophe", "long", "non_ascii", "max_length")
VIN_SERIAL_DOMAIN = 33 * 33 * 10**6
"""Distinct (positions 7-8, 12-17) combinations: the most vehicles one snapshot can hold."""


@dataclass(frozen=True)
class ModelEntry:
    """A catalogue model usable under the plan's model-year range."""

    make: int
    name: str
    body: int
    years: tuple[int, ...]
    wmi: tuple[str, ...]


@dataclass(frozen=True)
class BlockSpec:
    """One block: its rows, its quota counts and its counter offsets."""

    index: int
    person_start: int
    persons: int
    vehicle_start: int
    vehicles: int
    counts: dict[str, np.ndarray]
    licence_start: np.ndarray  # (states, max formats): first counter of each format


@dataclass(frozen=True)
class Layout:
    """A plan compiled against a vocabulary: shared tables plus one spec per block."""

    plan: GenerationPlan
    marker: str
    vocab: Vocabulary
    name: str  # the snapshot name: the id streams are keyed on it (rng.id_stream)
    makes: tuple[str, ...]
    models: tuple[ModelEntry, ...]
    candidates: dict[tuple[int, int], np.ndarray]  # (make, body) -> model indices
    vpp_values: tuple[int, ...]
    dob_start: np.ndarray  # by age: first day (days since epoch) with that age on as-of
    dob_end: np.ndarray  # by age: last day with that age
    totals: dict[str, np.ndarray] = field(default_factory=dict)
    blocks: tuple[BlockSpec, ...] = ()

    @property
    def person_count(self) -> int:
        return self.plan.person_count

    @property
    def vehicle_count(self) -> int:
        return sum(b.vehicles for b in self.blocks)


def default_snapshot_name(plan: GenerationPlan) -> str:
    """The name ``esdh-agent generate`` commits ``plan`` under when no ``--name`` is given.

    The dataset version (``v0.1``) when the plan is that version's default plan, i.e. equal
    to ``GenerationPlan(dataset_version=plan.dataset_version)`` field for field (compared by
    canonical JSON); otherwise ``<version>-<first 8 hex digits of the plan's SHA-256>``
    (``v0.1-1a2b3c4d``), so a plan with other options never collides with the default one.
    """
    version = plan.dataset_version
    if plan.plan_hash() == GenerationPlan(dataset_version=version).plan_hash():
        return version
    return f"{version}-{plan.plan_hash()[:8]}"


def _years_ago(as_of: dt.date, years: int) -> dt.date:
    """``as_of`` moved back by whole years; Feb 29 falls back to Feb 28."""
    year = as_of.year - years
    try:
        return as_of.replace(year=year)
    except ValueError:
        return as_of.replace(year=year, day=28)


def _dob_windows(as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """For each age 0..121, the first and last date of birth giving that age on ``as_of``."""
    epoch = dt.date(1970, 1, 1)
    ends = [(_years_ago(as_of, age) - epoch).days for age in range(0, 123)]
    starts = [ends[age + 1] + 1 for age in range(0, 122)]
    return np.array(starts, dtype=np.int64), np.array(ends[:122], dtype=np.int64)


def _models(
    plan: GenerationPlan, vocab: Vocabulary, makes: tuple[str, ...]
) -> tuple[tuple[ModelEntry, ...], dict[tuple[int, int], np.ndarray]]:
    models: list[ModelEntry] = []
    lo, hi = plan.model_year_min, plan.model_year_max
    for m, make in enumerate(makes):
        for entry in vocab.catalogue.makes[make]:
            years = tuple(
                y for start, end in entry.years for y in range(max(start, lo), min(end, hi) + 1)
            )
            if years:
                models.append(
                    ModelEntry(
                        m, entry.model, BODY_STYLES.index(entry.body_style), years, tuple(entry.wmi)
                    )
                )
    candidates: dict[tuple[int, int], np.ndarray] = {}
    wanted_bodies = {
        BODY_STYLES.index(body)
        for lob, mix in plan.body_style_mix.items()
        if plan.lob_mix.get(lob, 0) > 0
        for body, share in mix.items()
        if share > 0
    }
    for m, make in enumerate(makes):
        if plan.make_mix[make] <= 0:
            continue
        for body in sorted(wanted_bodies):
            idx = [i for i, e in enumerate(models) if e.make == m and e.body == body]
            if not idx:
                raise PlanError(
                    f"the vehicle catalogue has no {make} {BODY_STYLES[body]} for model years "
                    f"{lo}-{hi}",
                    hint="widen the model-year range or drop that make or body style",
                )
            candidates[(m, body)] = np.array(idx, dtype=np.int64)
    return tuple(models), candidates


def _spread(seed: int, name: str, totals: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return allocate_to_blocks(totals, sizes, stream(seed, "layout", name, 0))


def _spread_nested(
    seed: int, name: str, shares: list[list[float]], parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Allocate child quotas within each parent category: (totals[p, c], blocks[b, p, c])."""
    n_blocks, n_parents = parent.shape
    n_children = len(shares[0])
    totals = np.zeros((n_parents, n_children), dtype=np.int64)
    blocks = np.zeros((n_blocks, n_parents, n_children), dtype=np.int64)
    for p in range(n_parents):
        totals[p] = largest_remainder(int(parent[:, p].sum()), shares[p])
        blocks[:, p, :] = _spread(seed, f"{name}:{p}", totals[p], parent[:, p])
    return totals, blocks


def compile_layout(
    plan: GenerationPlan,
    vocab: Vocabulary,
    marker: str,
    block_size: int = BLOCK_SIZE,
    name: str | None = None,
) -> Layout:
    """Check the plan against the vocabulary and compute every block's specification.

    ``name`` is the snapshot's name; the id streams (``person_id``, ``vehicle_id``, hence
    ``profile_id``) are keyed on it as well as on the seed, so snapshots with different names
    never share ids, and no other column depends on it. ``None`` (an unnamed generation, such
    as an API sample) means ``default_snapshot_name(plan)``: the rows are exactly those that
    ``esdh-agent generate`` commits for this plan without ``--name``.
    """
    snapshot = default_snapshot_name(plan) if name is None else name
    unknown = [m for m in plan.make_mix if m not in vocab.catalogue.makes]
    if unknown:
        raise PlanError(
            f"make_mix names {unknown[0]!r}, which is not in the vehicle catalogue",
            hint=f"use one of {', '.join(sorted(vocab.catalogue.makes))}",
        )
    seed, n = plan.seed, plan.person_count
    makes = tuple(plan.make_mix)  # canonical (alphabetical) order, see plan._canonical
    models, candidates = _models(plan, vocab, makes)

    sizes = np.full(block_count(n, block_size), block_size, dtype=np.int64)
    sizes[-1] = n - block_size * (len(sizes) - 1)

    def flat(name: str, shares: list[float]) -> tuple[np.ndarray, np.ndarray]:
        total = largest_remainder(n, shares)
        return total, _spread(seed, name, total, sizes)

    totals: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    flat_fields = {
        "lob": [plan.lob_mix.get(lob, 0.0) for lob in LOBS],
        "state": [plan.state_mix.get(s, 0.0) for s in CONTRACT_STATES],
        "age_band": [band.share for band in plan.age_bands],
        "name_variant": list(plan.edge_cases.name_variants().values()),
        "address_line_2": [1 - plan.address_line_2_rate, plan.address_line_2_rate],
        "zip_plus4": [1 - plan.zip_plus4_rate, plan.zip_plus4_rate],
        "boundary_age": [
            1 - plan.edge_cases.boundary_ages,
            plan.edge_cases.boundary_ages / 2,
            plan.edge_cases.boundary_ages / 2,
        ],
    }
    for label, shares in flat_fields.items():
        totals[label], counts[label] = flat(label, shares)

    vpp_values = tuple(sorted(plan.vehicles_per_person))
    vpp_shares = [plan.vehicles_per_person[v] for v in vpp_values]
    totals["vpp"], counts["vpp"] = _spread_nested(
        seed, "vpp", [vpp_shares] * len(LOBS), counts["lob"]
    )
    formats = vocab.licence_formats.formats
    width = max(len(formats[s]) for s in CONTRACT_STATES)
    fmt_shares = [
        [f.share for f in formats[s]] + [0.0] * (width - len(formats[s])) for s in CONTRACT_STATES
    ]
    totals["licence_format"], counts["licence_format"] = _spread_nested(
        seed, "licence_format", fmt_shares, counts["state"]
    )
    for s, state in enumerate(CONTRACT_STATES):
        for f, fmt in enumerate(formats[state]):
            if totals["licence_format"][s, f] > fmt.capacity():
                raise PlanError(
                    f"{totals['licence_format'][s, f]} {state} licences on format "
                    f"{fmt.format!r} exceed its {fmt.capacity()} distinct numbers",
                    hint="lower person_count or that state's share",
                )

    vpp = np.array(vpp_values, dtype=np.int64)
    vehicles_by_lob = (counts["vpp"] * vpp).sum(axis=2)  # (blocks, lobs)
    vehicles_per_block = vehicles_by_lob.sum(axis=1)
    if vehicles_per_block.sum() > VIN_SERIAL_DOMAIN:
        raise PlanError(f"more than {VIN_SERIAL_DOMAIN} vehicles in one snapshot")

    def lob_shares(
        mix: Mapping[Any, Mapping[Any, float]], names: tuple[str, ...]
    ) -> list[list[float]]:
        rows = []
        for lob in LOBS:
            lob_mix: Mapping[Any, float] = mix.get(lob) or {names[0]: 1.0}
            rows.append([lob_mix.get(v, 0.0) for v in names])
        return rows

    totals["body_style"], counts["body_style"] = _spread_nested(
        seed, "body_style", lob_shares(plan.body_style_mix, BODY_STYLES), vehicles_by_lob
    )
    totals["risk"], counts["risk"] = _spread_nested(
        seed, "risk", lob_shares(plan.risk_mix, RISKS), vehicles_by_lob
    )
    all_vehicles = int(vehicles_per_block.sum())
    totals["make"] = largest_remainder(all_vehicles, [plan.make_mix[m] for m in makes])
    counts["make"] = _spread(seed, "make", totals["make"], vehicles_per_block)
    rate = plan.garaging_elsewhere_rate
    totals["garaging_elsewhere"] = largest_remainder(all_vehicles, [1 - rate, rate])
    counts["garaging_elsewhere"] = _spread(
        seed, "garaging_elsewhere", totals["garaging_elsewhere"], vehicles_per_block
    )

    licence_start = np.cumsum(counts["licence_format"], axis=0) - counts["licence_format"]
    vehicle_start = np.cumsum(vehicles_per_block) - vehicles_per_block
    person_start = np.cumsum(sizes) - sizes
    blocks = tuple(
        BlockSpec(
            index=b,
            person_start=int(person_start[b]),
            persons=int(sizes[b]),
            vehicle_start=int(vehicle_start[b]),
            vehicles=int(vehicles_per_block[b]),
            counts={label: value[b] for label, value in counts.items()},
            licence_start=licence_start[b],
        )
        for b in range(len(sizes))
    )
    dob_start, dob_end = _dob_windows(plan.as_of_date)
    return Layout(
        plan=plan,
        marker=marker,
        vocab=vocab,
        name=snapshot,
        makes=makes,
        models=models,
        candidates=candidates,
        vpp_values=vpp_values,
        dob_start=dob_start,
        dob_end=dob_end,
        totals=totals,
        blocks=blocks,
    )
