"""Properties of generated data, checked independently of the validator where it matters."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esdh_agent.core import rng
from esdh_agent.core.contract import CONTRACT_STATES, PROFILE_NAMESPACE
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import BLOCK_SIZE, compile_layout, default_snapshot_name
from esdh_agent.core.plan import AgeBand, EdgeCases, GenerationPlan, block_count
from esdh_agent.core.rng import largest_remainder
from esdh_agent.core.store import check_name
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.core.vocab import Vocabulary

from tests.conftest import MARKER

VALUES = {**{str(d): d for d in range(10)}}
VALUES.update(dict(zip("ABCDEFGH", range(1, 9), strict=True)))
VALUES.update(dict(zip("JKLMN", range(1, 6), strict=True)))
VALUES.update({"P": 7, "R": 9})
VALUES.update(dict(zip("STUVWXYZ", range(2, 10), strict=True)))
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def vin_ok(vin: str) -> bool:
    """Independent textbook check-digit computation."""
    total = sum(VALUES[c] * w for c, w in zip(vin, WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if total == 10 else str(total))


def age_on(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def build(
    plan: GenerationPlan, vocab: Vocabulary, block_size: int = 97, name: str | None = None
) -> dict[str, pa.Table]:
    layout = compile_layout(plan, vocab, MARKER, block_size, name=name)
    blocks = [generate_block(layout, spec) for spec in layout.blocks]
    return {
        e: pa.concat_tables([b[e] for b in blocks]) for e in ("persons", "vehicles", "profiles")
    }


def shares(draw: st.DrawFn, keys: list[str]) -> dict[str, float]:
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
    weights = [draw(st.integers(1, 9)) for _ in chosen]
    total = sum(weights)
    values = [round(w / total, 6) for w in weights]
    values[-1] = round(1 - sum(values[:-1]), 6)
    return dict(zip(chosen, values, strict=True))


@st.composite
def plans(draw: st.DrawFn) -> GenerationPlan:
    lo = draw(st.integers(16, 90))
    hi = draw(st.integers(lo, 99))
    mid = draw(st.integers(lo, hi))
    bands = [AgeBand(min_age=lo, max_age=mid, share=0.5)]
    if mid < hi:
        bands.append(AgeBand(min_age=mid + 1, max_age=hi, share=0.5))
    else:
        bands = [AgeBand(min_age=lo, max_age=hi, share=1.0)]
    rates = [draw(st.sampled_from([0.0, 0.05, 0.1, 0.2])) for _ in range(6)]
    return GenerationPlan(
        seed=draw(st.integers(0, 2**63 - 1)),
        person_count=draw(st.integers(1, 400)),
        as_of_date=draw(st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31))),
        lob_mix=shares(draw, ["Personal", "Commercial"]),
        state_mix=shares(draw, list(CONTRACT_STATES)),
        vehicles_per_person={int(k): v for k, v in shares(draw, ["1", "2", "3"]).items()},
        make_mix=shares(draw, ["Toyota", "Ford", "Honda", "Chevrolet", "Nissan"]),
        age_bands=bands,
        model_year_min=draw(st.integers(2000, 2012)),
        model_year_max=2024,
        address_line_2_rate=rates[0],
        zip_plus4_rate=rates[1],
        garaging_elsewhere_rate=rates[2],
        edge_cases=EdgeCases(
            hyphenated_names=rates[3],
            non_ascii_names=rates[4],
            max_length_fields=rates[5],
            boundary_ages=0.1,
            apostrophe_names=0.05,
            long_names=0.05,
        ),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans())
def test_generated_data_honours_every_rule(plan: GenerationPlan, vocab: Vocabulary) -> None:
    tables = build(plan, vocab)
    persons = tables["persons"].to_pylist()
    vehicles = tables["vehicles"].to_pylist()
    profiles = tables["profiles"].to_pylist()

    # Exact quotas: "25% commercial" means exactly that.
    lobs = Counter(p["lob_type"] for p in persons)
    expected = largest_remainder(plan.person_count, list(plan.lob_mix.values()))
    assert [lobs[k] for k in plan.lob_mix] == expected.tolist()
    assert len(persons) == len(profiles) == plan.person_count

    zips = {
        (z, c, s)
        for z, c, s in zip(
            vocab.zip_codes.to_pylist(),
            vocab.zip_cities.to_pylist(),
            _zip_states(vocab),
            strict=True,
        )
    }
    lo, hi = plan.age_range()
    by_id = {}
    for p in persons:
        assert uuid.UUID(p["person_id"]).version == 4
        assert lo <= age_on(p["date_of_birth"], plan.as_of_date) <= hi
        assert (p["postal_code"][:5], p["city"], p["state"]) in zips
        assert re.fullmatch(r"[A-Z0-9-]{5,16}", p["driver_license_number"])
        assert p["synthetic_source"] == MARKER
        by_id[p["person_id"]] = p
    assert len(by_id) == len(persons)
    licences = {(p["driver_license_state"], p["driver_license_number"]) for p in persons}
    assert len(licences) == len(persons)

    first_vehicle: dict[str, dict[str, object]] = {}
    for v in vehicles:
        owner = by_id[v["person_id"]]
        assert uuid.UUID(v["vehicle_id"]).version == 4
        assert vin_ok(v["vin"]) and not set("IOQ") & set(v["vin"])
        assert plan.model_year_min <= v["model_year"] <= plan.model_year_max
        assert v["lob_type"] == owner["lob_type"]
        assert v["garaging_state"] == owner["state"]
        allowed = {"Personal": {"Sedan", "SUV"}, "Commercial": {"SUV", "Truck"}}
        assert v["body_style"] in allowed[v["lob_type"]]
        first_vehicle.setdefault(v["person_id"], v)
    assert len({v["vin"] for v in vehicles}) == len(vehicles)

    for prof in profiles:
        v = first_vehicle[prof["person_id"]]
        assert prof["vehicle_id"] == v["vehicle_id"]
        assert prof["profile_id"] == str(
            uuid.uuid5(PROFILE_NAMESPACE, f"{prof['person_id']}:{prof['vehicle_id']}")
        )
        assert prof["vehicle_summary"] == f"{v['model_year']} {v['make']} {v['model']}"

    ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=MARKER, plan=plan)
    report = validate_tables(ctx, tables)
    assert report.findings == [], report.findings[:3]


def _zip_states(vocab: Vocabulary) -> list[str]:
    states: list[str] = []
    for state in CONTRACT_STATES:
        states += [state] * vocab.zip_state_offsets[state][1]
    return states


def test_same_plan_and_seed_give_identical_tables(vocab: Vocabulary) -> None:
    plan = GenerationPlan(person_count=500, vehicles_per_person={1: 0.5, 2: 0.5})
    a, b = build(plan, vocab), build(plan, vocab)
    for entity in a:
        assert a[entity].equals(b[entity])
    other = build(plan.model_copy(update={"seed": plan.seed + 1}), vocab)
    assert not other["persons"].equals(a["persons"])


ID_COLUMNS = {
    "persons.person_id",
    "vehicles.vehicle_id",
    "vehicles.person_id",
    "profiles.profile_id",
    "profiles.person_id",
    "profiles.vehicle_id",
}


def test_the_snapshot_name_changes_the_ids_and_nothing_else(vocab: Vocabulary) -> None:
    """Two snapshots of one plan and seed under different names load into one database: their
    ids are disjoint, and every other column is the same bytes."""
    plan = GenerationPlan(person_count=500, vehicles_per_person={1: 0.5, 2: 0.5})
    a, b = build(plan, vocab, name="team-a"), build(plan, vocab, name="team-b")
    assert build(plan, vocab, name="team-a")["profiles"].equals(a["profiles"])
    differing = {
        f"{entity}.{column}"
        for entity, table in a.items()
        for column in table.column_names
        if not table.column(column).equals(b[entity].column(column))
    }
    assert differing == ID_COLUMNS
    for entity, column in (
        ("persons", "person_id"),
        ("vehicles", "vehicle_id"),
        ("profiles", "profile_id"),
    ):
        ids_a = set(a[entity].column(column).to_pylist())
        ids_b = set(b[entity].column(column).to_pylist())
        assert len(ids_a) == len(ids_b) == a[entity].num_rows and not ids_a & ids_b


def test_an_unnamed_generation_is_the_default_named_snapshot(vocab: Vocabulary) -> None:
    plan = GenerationPlan(person_count=50)
    unnamed = compile_layout(plan, vocab, MARKER)
    assert unnamed.name == default_snapshot_name(plan) == f"v0.1-{plan.plan_hash()[:8]}"
    block = generate_block(unnamed, unnamed.blocks[0])
    named = build(plan, vocab, block_size=BLOCK_SIZE, name=default_snapshot_name(plan))
    assert all(block[entity].equals(named[entity]) for entity in block)


def test_default_snapshot_names() -> None:
    assert default_snapshot_name(GenerationPlan()) == "v0.1"
    assert default_snapshot_name(GenerationPlan(seed=20251101, person_count=200)) == "v0.1"
    assert default_snapshot_name(GenerationPlan(dataset_version="v0.2")) == "v0.2"
    other = GenerationPlan(person_count=1000)
    assert re.fullmatch(r"v0\.1-[0-9a-f]{8}", default_snapshot_name(other))
    reordered = GenerationPlan(lob_mix={"Commercial": 0.3, "Personal": 0.7})
    assert default_snapshot_name(reordered) == "v0.1"  # canonical key order
    names = {
        default_snapshot_name(GenerationPlan(seed=s, dataset_version=v))
        for s in (1, 2)
        for v in ("v0.1", "v0.2")
    }
    assert len(names) == 4 and all(check_name(n) == n for n in names)


def test_blocks_do_not_depend_on_each_other(vocab: Vocabulary) -> None:
    """Generating block 3 alone gives the same rows as generating all blocks in order."""
    plan = GenerationPlan(person_count=1000)
    layout = compile_layout(plan, vocab, MARKER, 100)
    in_order = [generate_block(layout, spec) for spec in layout.blocks]
    alone = generate_block(layout, layout.blocks[3])
    assert alone["persons"].equals(in_order[3]["persons"])
    assert alone["vehicles"].equals(in_order[3]["vehicles"])


@pytest.mark.parametrize(
    ("field", "changed"),
    [
        ("address_line_1", {"persons.address_line_1"}),
        ("first_name", {"persons.first_name", "profiles.full_name"}),
        (
            "model_year",
            {
                "vehicles.model_year",
                "vehicles.vin",
                "profiles.vehicle_summary",
                "profiles.primary_vehicle_vin",
            },
        ),
    ],
)
def test_a_field_stream_changes_only_that_field(
    vocab: Vocabulary, monkeypatch: pytest.MonkeyPatch, field: str, changed: set[str]
) -> None:
    """Adding or changing one field's stream leaves every other column's values alone."""
    plan = GenerationPlan(person_count=400, vehicles_per_person={1: 0.5, 2: 0.5})
    before = build(plan, vocab)
    real = rng.stream

    def perturbed(seed: int, entity: str, name: str, block: int) -> np.random.Generator:
        return real(seed + 1 if name == field else seed, entity, name, block)

    monkeypatch.setattr(rng, "stream", perturbed)  # the generator's streams (BlockStreams)
    after = build(plan, vocab)
    differing = {
        f"{entity}.{column}"
        for entity, table in before.items()
        for column in table.column_names
        if not table.column(column).equals(after[entity].column(column))
    }
    assert differing == changed


def test_edge_cases_are_present_and_valid(vocab: Vocabulary) -> None:
    plan = GenerationPlan(
        person_count=400,
        edge_cases=EdgeCases(
            hyphenated_names=0.1,
            apostrophe_names=0.1,
            long_names=0.1,
            non_ascii_names=0.1,
            max_length_fields=0.1,
            boundary_ages=0.2,
        ),
        age_bands=[
            AgeBand(min_age=16, max_age=17, share=0.5),
            AgeBand(min_age=95, max_age=99, share=0.5),
        ],
    )
    persons = build(plan, vocab)["persons"].to_pylist()
    last = [p["last_name"] for p in persons]
    assert sum("'" in n for n in last) >= 40
    assert sum(not (p["first_name"] + p["last_name"]).isascii() for p in persons) >= 40
    assert sum(len(p["first_name"]) == 50 and len(p["last_name"]) == 50 for p in persons) == 40
    assert sum(len(p["address_line_1"]) == 100 for p in persons) == 40
    assert sum(31 <= len(n) <= 50 and "-" in n for n in last) >= 40
    ages = Counter(age_on(p["date_of_birth"], plan.as_of_date) for p in persons)
    assert set(ages) <= {16, 17, 95, 96, 97, 98, 99}
    # Band edges: turned 16 / 95 on the as-of date, or turn 18 / 100 the day after.
    edges = {dt.date(2009, 11, 1), dt.date(1930, 11, 1), dt.date(2007, 11, 2), dt.date(1925, 11, 2)}
    at_edge = Counter(p["date_of_birth"] for p in persons if p["date_of_birth"] in edges)
    assert sum(at_edge.values()) >= 80  # boundary_ages: 20% of 400 (others may land there)
    assert set(at_edge) == edges


def test_feb_29_as_of_date_keeps_ages_exact(vocab: Vocabulary) -> None:
    plan = GenerationPlan(
        person_count=300, as_of_date=dt.date(2024, 2, 29), edge_cases=EdgeCases(boundary_ages=0.5)
    )
    for p in build(plan, vocab)["persons"].to_pylist():
        assert 16 <= age_on(p["date_of_birth"], plan.as_of_date) <= 90


@pytest.mark.parametrize("persons", [1, 50, 99, 100, 101, 250])
def test_block_count_is_the_number_of_blocks_the_layout_makes(
    vocab: Vocabulary, persons: int
) -> None:
    layout = compile_layout(GenerationPlan(person_count=persons), vocab, MARKER, 100)
    assert block_count(persons, 100) == len(layout.blocks)
    assert block_count(200_000) == 4  # three full blocks of 65,536 and one of 3,392
