"""verify_ledger on generated tables: compiled plans meet their ledgers, wrong data does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from esdh_agent.core.contract import arrow_schema
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.ledger.compile import compile_ledger
from esdh_agent.ledger.model import Requirement
from esdh_agent.ledger.verify import share_met, verify_ledger

from tests.conftest import MARKER
from tests.ledger.test_compile import BASE, EDGES, FLEET, req


def build(plan: GenerationPlan, vocab: Vocabulary) -> dict[str, pa.Table]:
    layout = compile_layout(plan, vocab, MARKER, 97)
    blocks = [generate_block(layout, spec) for spec in layout.blocks]
    return {
        e: pa.concat_tables([b[e] for b in blocks]) for e in ("persons", "vehicles", "profiles")
    }


def plan_of(requirements: list[Requirement]) -> GenerationPlan:
    out = compile_ledger(requirements, BASE)
    assert out.unsupported == {}
    return GenerationPlan.model_validate({**BASE, **out.fields})


def statuses(checked: list[Requirement]) -> dict[str, str]:
    return {r.id: r.status for r in checked}


@pytest.mark.parametrize("ledger", [FLEET, EDGES], ids=["commercial-fleet", "licence-age-edges"])
def test_compiled_plan_generates_data_that_meets_the_ledger(
    ledger: list[Requirement], vocab: Vocabulary
) -> None:
    plan = plan_of(ledger)
    tables = build(plan, vocab)
    ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=MARKER, plan=plan)
    assert validate_tables(ctx, tables).findings == []  # the project's validator agrees
    checked = verify_ledger(ledger, plan, tables)
    assert all(r.status == "met" for r in checked), [(r.id, r.detail) for r in checked]
    assert all(r.detail for r in checked)
    assert [r.status for r in ledger] == ["pending"] * len(ledger)  # copies, not edits


def test_fleet_details_name_what_was_measured(vocab: Vocabulary) -> None:
    plan = plan_of(FLEET)
    checked = {r.id: r for r in verify_ledger(FLEET, plan, build(plan, vocab))}
    assert checked["R1"].measured == 600
    assert checked["R3"].detail == "AZ is 0.600 of 600 persons (asked 0.6 exact)"
    assert checked["R10"].detail.startswith("ages ")
    assert "asked 21–70 for every one of persons" in checked["R10"].detail
    years: Any = checked["R11"].measured
    assert 2015 <= years[0] <= years[1] <= 2024


def test_default_data_fails_the_fleet_ledger_with_measures(vocab: Vocabulary) -> None:
    plan = GenerationPlan(person_count=300)
    checked = {r.id: r for r in verify_ledger(FLEET, plan, build(plan, vocab))}
    assert checked["R1"].status == "unmet"
    assert checked["R1"].measured == 300
    assert checked["R3"].status == "unmet"
    assert checked["R3"].detail == "AZ is 0.150 of 300 persons (asked 0.6 exact)"
    assert checked["R2"].status == "unmet"
    assert checked["R2"].measured == 0.3
    ages, seen = checked["R10"], checked["R10"].measured
    assert ages.status == "unmet" and isinstance(seen, list) and int(seen[0]) < 21
    assert ages.detail.startswith(f"ages {seen[0]}–")
    assert checked["R11"].status == "unmet"
    assert checked["R5"].status == "unmet"  # everyone has exactly one vehicle


def test_every_target_on_generated_data(vocab: Vocabulary) -> None:
    ledger = [
        req("R1", "person_count", "range", [150, 250]),
        req("R2", "lob", "share", 0.25, key="Commercial"),
        req("R3", "state", "exclude", ["CA"], tolerance="none"),
        req("R4", "risk", "share", None, key="Low", tolerance="some"),
        req("R5", "body_style", "share", None, key="Sedan", tolerance="few"),
        req("R6", "age", "min", 25, tolerance="at_least"),
        req("R7", "age", "share", 0.3, key="25-34", tolerance="approx"),
        req("R8", "model_year", "min", 2018, tolerance="at_least"),
        req("R9", "vehicles_per_person", "range", [1, 3]),
        req("R10", "address_line_2", "share", 0.4, tolerance="approx"),
        req("R11", "zip_plus4", "share", 0.5),
        req("R12", "name_variant", "share", 0.1, key="hyphenated"),
        req("R13", "name_variant", "share", 0.1, key="apostrophe"),
        req("R14", "name_variant", "share", 0.1, key="long"),
        req("R15", "name_variant", "share", 0.1, key="non_ascii"),
        req("R16", "name_variant", "share", 0.1, key="max_length"),
        req("R17", "boundary_age", "share", 0.2),
        req("R18", "seed", "eq", 77),
        req("R19", "dataset_version", "eq", "v0.2"),
        req("R20", "as_of_date", "eq", "2024-02-29"),
        req("R21", "state", "share", 0.1, key="NV", tolerance="at_least"),
        req("R22", "lob", "share", 0.5, key="Personal", tolerance="at_least"),
        req("R23", "risk", "share", 0.5, key="High", tolerance="at_most"),
    ]
    plan = plan_of(ledger)
    checked = verify_ledger(ledger, plan, build(plan, vocab))
    assert all(r.status == "met" for r in checked), [(r.id, r.detail) for r in checked]
    measured = {r.id: r.measured for r in checked}
    assert measured["R12"] == measured["R16"] == 0.1  # name variants are exact quotas
    assert measured["R17"] == pytest.approx(0.2, abs=0.02)


@pytest.mark.parametrize(
    ("requirement", "status"),
    [
        (req("R1", "person_count", "eq", 110, tolerance="approx"), "met"),
        (req("R1", "person_count", "eq", 130, tolerance="approx"), "unmet"),
        (req("R1", "person_count", "eq", 101), "unmet"),
        (req("R1", "person_count", "min", 100, tolerance="at_least"), "met"),
        (req("R1", "person_count", "max", 99, tolerance="at_most"), "unmet"),
        (req("R1", "state", "only", ["CA", "AZ", "NV", "OR", "WA"], tolerance="all"), "met"),
        (req("R1", "state", "only", ["CA"], tolerance="all"), "unmet"),
        (req("R1", "state", "exclude", ["TX"], tolerance="none"), "met"),
        (req("R1", "vehicles_per_person", "eq", 1, tolerance="all"), "met"),
        (req("R1", "vehicles_per_person", "min", 2, tolerance="at_least"), "unmet"),
        (req("R1", "vehicles_per_person", "only", ["1"], tolerance="all"), "met"),
        (req("R1", "address_line_2", "share", 0.0, tolerance="none"), "unmet"),
        (req("R1", "boundary_age", "share", 0.5), "unmet"),
        (req("R1", "seed", "eq", 20251101), "met"),
        (req("R1", "as_of_date", "eq", "2025-11-02"), "unmet"),
        (req("R1", "dataset_version", "eq", "v0.1"), "met"),
    ],
)
def test_single_requirements_on_default_data(
    requirement: Requirement, status: str, vocab: Vocabulary
) -> None:
    plan = GenerationPlan(person_count=100)
    [checked] = verify_ledger([requirement], plan, build(plan, vocab))
    assert checked.status == status, checked.detail
    assert checked.detail


def test_statuses_that_are_not_verified_are_kept(vocab: Vocabulary) -> None:
    plan = GenerationPlan(person_count=50)
    kept = [
        req("R1", "directive", "eq", key="skip_review", status="refused"),
        req("R2", "person_count", "eq", 600, status="overridden"),
        req("R3", "state", "only", ["TX"], status="not_supported"),
        req("R4", "state", "share", 0.6, key="AZ", status="declined"),
        req("R5", "directive", "eq", key="marker"),
    ]
    tables = build(plan, vocab)
    assert verify_ledger(kept, plan, tables) == kept
    [again] = verify_ledger([req("R6", "person_count", "eq", 50, status="unmet")], plan, tables)
    assert again.status == "met"


def test_empty_tables_do_not_crash() -> None:
    tables = {e: arrow_schema(e).empty_table() for e in ("persons", "vehicles")}
    ledger = [
        *FLEET,
        *EDGES,
        req("R30", "name_variant", "share", 0.1, key="long"),
        req("R31", "zip_plus4", "share", 0.0, tolerance="none"),
        req("R32", "address_line_2", "share", None, tolerance="some"),
    ]
    checked = {r.id: r for r in verify_ledger(ledger, GenerationPlan(), tables)}
    assert checked["R1"].status == "unmet" and checked["R1"].measured == 0
    assert checked["R31"].status == "met"
    assert checked["R32"].status == "unmet"
    assert checked["R10"].detail.startswith("no persons to check")


def test_boundary_ages_match_the_generator_on_a_leap_day(vocab: Vocabulary) -> None:
    plan = GenerationPlan(
        person_count=400, as_of_date=dt.date(2024, 2, 29), edge_cases={"boundary_ages": 0.5}
    )
    [checked] = verify_ledger([req("R1", "boundary_age", "share", 0.5)], plan, build(plan, vocab))
    assert checked.status == "met", checked.detail


def test_a_malformed_value_is_unmet_not_a_crash(vocab: Vocabulary) -> None:
    plan = GenerationPlan(person_count=20)
    bad: Any = req("R1", "age", "range", ["young", "old"])
    [checked] = verify_ledger([bad], plan, build(plan, vocab))
    assert checked.status == "unmet"
    assert checked.detail.startswith("cannot check")


@pytest.mark.parametrize(
    ("m", "v", "tolerance", "n", "met"),
    [
        (0.602, 0.6, "exact", 600, True),
        (0.61, 0.6, "exact", 600, False),  # 0.01 > 1/600 + 0.005
        (0.5, 0.25, "exact", 4, True),  # one row of four: 1/n
        (0.5, 0.25, "exact", 8, False),
        (0.66, 0.7, "approx", 100, True),
        (0.62, 0.7, "approx", 100, False),  # max(0.05, 0.07)
        (0.24, 0.2, "approx", 100, True),  # max(0.05, 0.02)
        (0.51, None, "mostly", 100, True),
        (0.5, None, "mostly", 100, False),
        (0.6, 0.7, "mostly", 100, False),  # above half but not near 0.7
        (0.5, None, "some", 100, True),
        (0.0, None, "some", 100, False),
        (0.51, None, "some", 100, False),
        (0.2, None, "few", 100, True),
        (0.21, None, "few", 100, False),
        (0.0, None, "few", 100, False),
        (0.29, 0.3, "at_least", 100, True),
        (0.28, 0.3, "at_least", 100, False),
        (0.31, 0.3, "at_most", 100, True),
        (0.32, 0.3, "at_most", 100, False),
        (1.0, None, "all", 10, True),
        (0.9, None, "all", 10, False),
        (0.0, None, "none", 10, True),
        (0.1, None, "none", 10, False),
    ],
)
def test_tolerance_classes(m: float, v: float | None, tolerance: str, n: int, met: bool) -> None:
    assert share_met(m, v, tolerance, n) is met
