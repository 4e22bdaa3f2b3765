"""compile_ledger: requirements to plan fields, provenance and unsupported reasons."""

from __future__ import annotations

from typing import Any

import pytest

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.ledger.compile import compile_ledger
from esdh_agent.ledger.model import Requirement

BASE = GenerationPlan().model_dump(mode="json")


def req(rid: str, target: str, op: str, value: Any = None, **extra: Any) -> Requirement:
    return Requirement.model_validate(
        {"id": rid, "target": target, "op": op, "value": value, "quote": "q", **extra}
    )


def merged(fields: dict[str, Any], base: dict[str, Any] | None = None) -> GenerationPlan:
    return GenerationPlan.model_validate({**(base or BASE), **fields})


FLEET = [
    req("R1", "person_count", "eq", 600),
    req("R2", "lob", "only", ["Commercial"], tolerance="all"),
    req("R3", "state", "share", 0.6, key="AZ"),
    req("R4", "state", "share", 0.4, key="NV"),
    req("R5", "vehicles_per_person", "share", None, key="2-3", tolerance="mostly"),
    req("R6", "vehicles_per_person", "share", None, key="1", tolerance="some"),
    req("R7", "body_style", "only", ["SUV", "Truck"], tolerance="all"),
    req("R8", "body_style", "share", 0.7, key="Truck", tolerance="approx"),
    req("R9", "risk", "only", ["High", "Medium"], tolerance="all"),
    req("R10", "age", "range", [21, 70], tolerance="all"),
    req("R11", "model_year", "range", [2015, 2024], tolerance="all"),
]

EDGES = [
    req("R1", "person_count", "eq", 300),
    req("R2", "lob", "only", ["Personal"], tolerance="all"),
    req("R3", "age", "share", 0.5, key="16-17"),
    req("R4", "age", "share", 0.5, key="95-99"),
    req("R5", "boundary_age", "share", 0.5),
]


def test_commercial_fleet_compiles_to_a_valid_plan() -> None:
    out = compile_ledger(FLEET, BASE)
    assert out.unsupported == {}
    plan = merged(out.fields)
    assert plan.person_count == 600
    assert plan.lob_mix == {"Commercial": 1.0}
    assert plan.state_mix == {"AZ": 0.6, "NV": 0.4}
    assert plan.vehicles_per_person == {1: 0.3, 2: 0.35, 3: 0.35}
    assert plan.body_style_mix["Commercial"] == {"SUV": 0.3, "Truck": 0.7}
    assert set(plan.risk_mix["Commercial"]) <= {"Medium", "High"}
    assert plan.age_range() == (21, 70)
    assert (plan.model_year_min, plan.model_year_max) == (2015, 2024)
    assert out.provenance["state_mix"] == ["R3", "R4"]
    assert out.provenance["body_style_mix"] == ["R7", "R8"]
    assert out.provenance["model_year_min"] == ["R11"]
    assert "make_mix" not in out.fields  # only what the requirements set


def test_licence_age_edges_are_exactly_the_given_bands() -> None:
    out = compile_ledger(EDGES, BASE)
    plan = merged(out.fields)
    assert [(b.min_age, b.max_age, b.share) for b in plan.age_bands] == [
        (16, 17, 0.5),
        (95, 99, 0.5),
    ]
    assert plan.edge_cases.boundary_ages == 0.5
    assert plan.lob_mix == {"Personal": 1.0}
    assert out.fields["edge_cases"]["hyphenated_names"] == 0.0  # merged into the base's


def test_compiling_is_deterministic() -> None:
    assert compile_ledger(FLEET, BASE) == compile_ledger(FLEET, BASE)


def test_contradicting_shares_name_the_earlier_requirement() -> None:
    out = compile_ledger(
        [
            req("R1", "state", "share", 0.5, key="CA"),
            req("R3", "lob", "share", 0.7, key="Personal"),
            req("R4", "lob", "share", 0.7, key="Commercial"),
        ],
        BASE,
    )
    assert out.unsupported["R4"].startswith("contradicts R3")
    assert out.fields["lob_mix"] == {"Personal": 0.7, "Commercial": 0.3}
    merged(out.fields)


def test_only_and_a_share_outside_it_contradict() -> None:
    out = compile_ledger(
        [req("R1", "lob", "only", ["Commercial"]), req("R2", "lob", "share", 0.3, key="Personal")],
        BASE,
    )
    assert out.unsupported["R2"].startswith("contradicts R1")
    assert out.fields["lob_mix"] == {"Commercial": 1.0}


@pytest.mark.parametrize(
    ("requirement", "words"),
    [
        (req("R1", "state", "only", ["TX"]), "TX is not a contract state"),
        (req("R1", "state", "share", 0.3, key="NY"), "NY is not a contract state"),
        (req("R1", "age", "range", [14, 70]), "outside"),
        (req("R1", "age", "max", 120), "outside"),
        (req("R1", "age", "share", 0.2, key="10-15"), "outside the licensed"),
        (req("R1", "model_year", "range", [1990, 1995]), "outside"),
        (req("R1", "model_year", "min", 2030), "outside"),
        (req("R1", "directive", "eq", key="skip_review"), "policy gate decides"),
        (req("R1", "seed", "eq", -3), "the plan rejects it"),
        (req("R1", "dataset_version", "eq", "version two"), "the plan rejects it"),
        (req("R1", "as_of_date", "eq", "2025-02-30"), "the plan rejects it"),
        (req("R1", "name_variant", "share", 0.1, key="emoji"), "not one of"),
        (req("R1", "vehicles_per_person", "share", 0.2, key="11"), "outside 1-10"),
        (req("R1", "state", "share", None, key="AZ", tolerance="exact"), "no share given"),
    ],
)
def test_what_the_plan_cannot_express_is_unsupported(requirement: Requirement, words: str) -> None:
    out = compile_ledger([requirement], BASE)
    assert words in out.unsupported["R1"]
    assert out.fields == {}


def test_only_live_requirements_compile() -> None:
    skipped = [
        req("R1", "person_count", "eq", 50, status="overridden"),
        req("R2", "person_count", "eq", 60, status="refused"),
        req("R3", "person_count", "eq", 70, status="declined"),
        req("R4", "directive", "eq", key="marker", status="refused"),
    ]
    out = compile_ledger([*skipped, req("R5", "person_count", "eq", 80, status="met")], BASE)
    assert out.fields == {"person_count": 80}
    assert out.unsupported == {}


@pytest.mark.parametrize(
    ("requirements", "count"),
    [
        ([req("R1", "person_count", "eq", 200, tolerance="approx")], 200),
        ([req("R1", "person_count", "min", 50)], 50),
        ([req("R1", "person_count", "max", 80)], 80),
        ([req("R1", "person_count", "range", [60, 150])], 100),
        ([req("R1", "person_count", "range", [61, 64])], 61),
        ([req("R1", "person_count", "min", 40), req("R2", "person_count", "max", 90)], 60),
    ],
)
def test_person_count(requirements: list[Requirement], count: int) -> None:
    assert compile_ledger(requirements, BASE).fields["person_count"] == count


def test_person_counts_that_disagree_contradict() -> None:
    out = compile_ledger(
        [req("R1", "person_count", "eq", 600), req("R2", "person_count", "max", 100)], BASE
    )
    assert out.unsupported["R2"].startswith("contradicts R1")


def test_vague_state_share_takes_the_rest_in_base_proportions() -> None:
    out = compile_ledger([req("R1", "state", "share", None, key="OR", tolerance="mostly")], BASE)
    mix = merged(out.fields).state_mix
    assert mix["OR"] == 0.7
    assert mix["CA"] == pytest.approx(0.3 * 0.4 / 0.85, abs=1e-6)
    assert sum(mix.values()) == pytest.approx(1.0)


def test_exclude_removes_a_state_and_renormalizes() -> None:
    out = compile_ledger([req("R1", "state", "exclude", ["CA"], tolerance="none")], BASE)
    mix = merged(out.fields).state_mix
    assert "CA" not in mix
    assert mix["WA"] == pytest.approx(0.2 / 0.6, abs=1e-6)


def test_two_mostly_shares_contradict() -> None:
    out = compile_ledger(
        [
            req("R1", "body_style", "share", None, key="Truck", tolerance="mostly"),
            req("R2", "body_style", "share", None, key="SUV", tolerance="mostly"),
        ],
        BASE,
    )
    assert out.unsupported["R2"].startswith("contradicts R1")


def test_body_style_applies_to_every_line_of_business() -> None:
    out = compile_ledger(
        [req("R1", "body_style", "share", None, key="Truck", tolerance="mostly")], BASE
    )
    plan = merged(out.fields)
    assert plan.body_style_mix["Personal"]["Truck"] == 0.7
    assert plan.body_style_mix["Commercial"] == {"SUV": 0.3, "Truck": 0.7}
    assert plan.body_style_mix["Personal"]["Sedan"] == pytest.approx(0.3 * 0.55, abs=1e-6)


def test_a_line_switched_on_gets_a_body_style_and_risk_mix() -> None:
    base = GenerationPlan(
        lob_mix={"Personal": 1.0},
        body_style_mix={"Personal": {"Sedan": 1.0}},
        risk_mix={"Personal": {"Low": 1.0}},
    ).model_dump(mode="json")
    out = compile_ledger([req("R1", "lob", "share", 0.25, key="Commercial")], base)
    plan = merged(out.fields, base)
    assert plan.lob_mix == {"Personal": 0.75, "Commercial": 0.25}
    assert plan.body_style_mix["Commercial"] == {"SUV": 0.35, "Truck": 0.65}
    assert out.provenance["risk_mix"] == ["R1"]


@pytest.mark.parametrize(
    ("requirements", "mix"),
    [
        ([req("R1", "vehicles_per_person", "only", ["1"])], {1: 1.0}),
        ([req("R1", "vehicles_per_person", "eq", 2)], {2: 1.0}),
        ([req("R1", "vehicles_per_person", "range", [2, 3])], {2: 0.5, 3: 0.5}),
        ([req("R1", "vehicles_per_person", "share", 0.3, key="2")], {1: 0.7, 2: 0.3}),
        ([req("R1", "vehicles_per_person", "max", 1)], {1: 1.0}),
    ],
)
def test_vehicles_per_person(requirements: list[Requirement], mix: dict[int, float]) -> None:
    assert merged(compile_ledger(requirements, BASE).fields).vehicles_per_person == mix


def test_age_range_clips_the_base_bands() -> None:
    out = compile_ledger([req("R1", "age", "range", [21, 70])], BASE)
    bands = merged(out.fields).age_bands
    assert [(b.min_age, b.max_age) for b in bands] == [(21, 24), (25, 44), (45, 64), (65, 70)]
    # each clipped band keeps the part of its share its remaining width carries
    assert bands[0].share / bands[1].share == pytest.approx((0.12 * 4 / 9) / 0.36, rel=1e-4)


def test_age_min_past_every_base_band_is_one_band() -> None:
    out = compile_ledger([req("R1", "age", "min", 91, tolerance="at_least")], BASE)
    assert out.fields["age_bands"] == [{"min_age": 91, "max_age": 99, "share": 1.0}]


def test_age_share_keeps_its_band_and_the_rest_fill_around_it() -> None:
    out = compile_ledger(
        [req("R1", "age", "share", 0.5, key="16-17"), req("R2", "age", "max", 30)], BASE
    )
    bands = merged(out.fields).age_bands
    assert (bands[0].min_age, bands[0].max_age, bands[0].share) == (16, 17, 0.5)
    assert bands[-1].max_age == 30
    assert sum(b.share for b in bands[1:]) == pytest.approx(0.5)


def test_age_shares_over_one_contradict() -> None:
    out = compile_ledger(
        [req("R1", "age", "share", 0.6, key="16-24"), req("R2", "age", "share", 0.6, key="65-90")],
        BASE,
    )
    assert out.unsupported["R2"].startswith("contradicts R1")


def test_model_year_bounds() -> None:
    out = compile_ledger([req("R1", "model_year", "min", 2020, tolerance="at_least")], BASE)
    assert out.fields == {"model_year_min": 2020, "model_year_max": 2024}
    out = compile_ledger([req("R1", "model_year", "max", 2003, tolerance="at_most")], BASE)
    assert out.fields == {"model_year_min": 2003, "model_year_max": 2003}
    merged(out.fields)


@pytest.mark.parametrize(
    ("tolerance", "op", "value", "rate"),
    [
        ("none", "share", 0.0, 0.0),
        ("none", "share", None, 0.0),
        ("all", "share", None, 1.0),
        ("some", "share", None, 0.2),
        ("few", "share", None, 0.05),
        ("mostly", "share", None, 0.7),
        ("approx", "share", 0.4, 0.4),
        ("all", "only", None, 1.0),
        ("none", "exclude", None, 0.0),
    ],
)
def test_rates(tolerance: str, op: str, value: float | None, rate: float) -> None:
    out = compile_ledger(
        [
            req("R1", "address_line_2", op, value, tolerance=tolerance),
            req("R2", "zip_plus4", op, value, tolerance=tolerance),
        ],
        BASE,
    )
    assert out.fields == {"address_line_2_rate": rate, "zip_plus4_rate": rate}


def test_name_variants_and_boundary_ages_go_to_edge_cases() -> None:
    out = compile_ledger(
        [
            req("R1", "name_variant", "share", 0.15, key="hyphenated"),
            req("R2", "name_variant", "share", None, key="non_ascii", tolerance="some"),
            req("R3", "name_variant", "share", 0.1, key="max_length"),
            req("R4", "boundary_age", "share", 0.25),
            req("R5", "name_variant", "share", 0.9, key="long"),
        ],
        BASE,
    )
    edges = merged(out.fields).edge_cases
    assert (edges.hyphenated_names, edges.non_ascii_names) == (0.15, 0.2)
    assert (edges.max_length_fields, edges.boundary_ages, edges.long_names) == (0.1, 0.25, 0.0)
    assert out.unsupported["R5"].startswith("contradicts")
    assert out.provenance["edge_cases"] == ["R1", "R2", "R3", "R4"]


def test_plan_facts() -> None:
    out = compile_ledger(
        [
            req("R1", "seed", "eq", 77),
            req("R2", "dataset_version", "eq", "v0.2"),
            req("R3", "as_of_date", "eq", "2025-11-01"),
            req("R4", "seed", "eq", 78),
        ],
        BASE,
    )
    assert out.fields == {"seed": 77, "dataset_version": "v0.2", "as_of_date": "2025-11-01"}
    assert out.unsupported["R4"].startswith("contradicts R1")


def test_a_model_year_range_reaching_past_the_contract_is_cut_to_it() -> None:
    """Every vehicle of 2016-2024 lies in "2016-2025": the range is honoured, not refused."""
    out = compile_ledger([req("R1", "model_year", "range", [2016, 2025])], BASE)
    assert out.fields == {"model_year_min": 2016, "model_year_max": 2024}
    assert not out.unsupported


def test_shares_written_to_four_places_may_sum_just_above_one() -> None:
    """Six sixths written as 0.1667 sum to 1.0002: rounding, not a contradiction."""
    reqs = [
        req(f"R{i}", "state", "share", 0.1667, key=key)
        for i, key in enumerate(("CA", "AZ", "NV", "OR", "WA"), start=1)
    ]
    reqs.append(req("R6", "state", "share", 0.1667, key="CA"))
    clash = compile_ledger(reqs, BASE)
    assert "R6" in clash.unsupported  # CA given twice is still a clash
    out = compile_ledger(
        [
            req("R1", "body_style", "share", 0.6667, key="SUV"),
            req("R2", "body_style", "share", 0.1667, key="Sedan"),
            req("R3", "body_style", "share", 0.1667, key="Truck"),
        ],
        BASE,
    )
    assert not out.unsupported
    mix = out.fields["body_style_mix"]["Personal"]
    assert abs(sum(mix.values()) - 1.0) < 1e-9 and abs(mix["SUV"] - 0.6667) < 0.001
