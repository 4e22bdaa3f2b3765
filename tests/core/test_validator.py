"""The validator finds seeded defects, each under its rule id, and collects them all."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import ValidationReport
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.core.vocab import Vocabulary

from tests.conftest import MARKER
from tests.core.test_generator import build

Tables = dict[str, pa.Table]


@pytest.fixture(scope="module")
def clean(vocab: Vocabulary) -> tuple[GenerationPlan, Tables]:
    plan = GenerationPlan(person_count=200, vehicles_per_person={1: 0.5, 2: 0.5})
    return plan, build(plan, vocab)


def set_cell(tables: Tables, entity: str, column: str, row: int, value: object) -> Tables:
    table = tables[entity]
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    new = table.set_column(index, table.field(column), pa.array(values, table.field(column).type))
    return {**tables, entity: new}


def check(vocab: Vocabulary, plan: GenerationPlan | None, tables: Tables) -> ValidationReport:
    as_of = (plan or GenerationPlan()).as_of_date
    return validate_tables(
        ValidationContext(vocab=vocab, as_of=as_of, marker=MARKER, plan=plan), tables
    )


def rules_of(report: ValidationReport) -> set[str]:
    return {f.rule for f in report.findings if f.severity == "error"}


def test_clean_data_has_no_findings(vocab: Vocabulary, clean: tuple[GenerationPlan, Tables]):
    plan, tables = clean
    report = check(vocab, plan, tables)
    assert report.ok and report.findings == []
    assert len(report.rules) >= 35


def vin_with_bad_check(t: Tables) -> Tables:
    vin = t["vehicles"].column("vin")[0].as_py()
    wrong = "0" if vin[8] != "0" else "1"
    return set_cell(t, "vehicles", "vin", 0, vin[:8] + wrong + vin[9:])


def vin_with_bad_year(t: Tables) -> Tables:
    vin = t["vehicles"].column("vin")[0].as_py()
    return set_cell(t, "vehicles", "model_year", 0, 2000 if vin[9] != "Y" else 2001)


def twelve_year_old(t: Tables) -> Tables:
    import datetime as dt

    return set_cell(t, "persons", "date_of_birth", 3, dt.date(2013, 5, 5))


DEFECTS: list[tuple[str, Callable[[Tables], Tables], str]] = [
    ("licensed 12-year-old", twelve_year_old, "domain.licence_age"),
    ("VIN check digit", vin_with_bad_check, "domain.vin_check_digit"),
    ("VIN year code", vin_with_bad_year, "domain.vin_year_code"),
    (
        "VIN WMI of another make",
        lambda t: set_cell(
            t,
            "vehicles",
            "make",
            0,
            "Ford" if t["vehicles"].column("make")[0].as_py() != "Ford" else "Honda",
        ),
        "domain.vin_wmi",
    ),
    (
        "lowercase letter in VIN",
        lambda t: set_cell(
            t, "vehicles", "vin", 1, "a" + t["vehicles"].column("vin")[1].as_py()[1:]
        ),
        "contract.pattern",
    ),
    ("unknown lob", lambda t: set_cell(t, "persons", "lob_type", 0, "Retail"), "contract.enum"),
    (
        "city not of the ZIP",
        lambda t: set_cell(t, "persons", "city", 0, "Springfield"),
        "domain.zip_city_state",
    ),
    (
        "CA licence in AZ format",
        lambda t: set_cell(
            t,
            "persons",
            "driver_license_number",
            next(
                i
                for i, s in enumerate(t["persons"].column("driver_license_state").to_pylist())
                if s == "CA"
            ),
            "123456789",
        ),
        "domain.licence_format",
    ),
    (
        "missing marker",
        lambda t: set_cell(t, "persons", "synthetic_source", 0, "prod-copy"),
        "governance.marker",
    ),
    (
        "SSN in an address",
        lambda t: set_cell(t, "persons", "address_line_2", 0, "SSN 123-45-6789"),
        "governance.sensitive_shape",
    ),
    (
        "real-looking phone",
        lambda t: set_cell(t, "persons", "address_line_2", 0, "call 415-867-5309"),
        "governance.sensitive_shape",
    ),
    (
        "card number",
        lambda t: set_cell(t, "persons", "address_line_1", 0, "4111 1111 1111 1111 Main St"),
        "governance.sensitive_shape",
    ),
    (
        "e-mail",
        lambda t: set_cell(t, "persons", "address_line_2", 0, "jo@gmail.com"),
        "governance.sensitive_shape",
    ),
    (
        "vehicle of nobody",
        lambda t: set_cell(t, "vehicles", "person_id", 0, "00000000-0000-4000-8000-000000000000"),
        "fk.vehicle_person",
    ),
    (
        "duplicate person id",
        lambda t: set_cell(
            t, "persons", "person_id", 1, t["persons"].column("person_id")[0].as_py()
        ),
        "unique.person_id",
    ),
    (
        "duplicate VIN",
        lambda t: set_cell(t, "vehicles", "vin", 1, t["vehicles"].column("vin")[0].as_py()),
        "unique.vin",
    ),
    (
        "profile copy drift",
        lambda t: set_cell(t, "profiles", "full_name", 0, "Someone Else"),
        "profile.copied_field",
    ),
    (
        "profile id not derived",
        lambda t: set_cell(t, "profiles", "profile_id", 0, "0e9b3a5c-1d2e-5f00-8a00-000000000000"),
        "profile.id_derivation",
    ),
    (
        "personal truck",
        lambda t: set_cell(
            t,
            "vehicles",
            "body_style",
            t["vehicles"].column("lob_type").to_pylist().index("Personal"),
            "Truck",
        ),
        "domain.lob_body_style",
    ),
    (
        "commercial low risk",
        lambda t: set_cell(
            t,
            "vehicles",
            "risk_rating",
            t["vehicles"].column("lob_type").to_pylist().index("Commercial"),
            "Low",
        ),
        "domain.lob_risk",
    ),
    (
        "required value missing",
        lambda t: set_cell(t, "persons", "city", 2, None),
        "contract.required",
    ),
    (
        "name too long",
        lambda t: set_cell(t, "persons", "first_name", 0, "A" * 51),
        "contract.length",
    ),
]


@pytest.mark.parametrize(("label", "defect", "rule"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_seeded_defect_is_found_under_its_rule(
    vocab: Vocabulary,
    clean: tuple[GenerationPlan, Tables],
    label: str,
    defect: Callable[[Tables], Tables],
    rule: str,
) -> None:
    _plan, tables = clean
    report = check(vocab, None, defect(tables))
    assert rule in rules_of(report), (label, [f.rule for f in report.findings])
    finding = next(f for f in report.findings if f.rule == rule)
    assert finding.count >= 1 and finding.samples


def test_all_findings_are_collected_not_just_the_first(
    vocab: Vocabulary, clean: tuple[GenerationPlan, Tables]
) -> None:
    _, tables = clean
    for _, defect, _ in DEFECTS[:6]:
        tables = defect(tables)
    report = check(vocab, None, tables)
    assert {d[2] for d in DEFECTS[:6]} <= rules_of(report)


def test_plan_conformance_catches_a_wrong_mix(
    vocab: Vocabulary, clean: tuple[GenerationPlan, Tables]
) -> None:
    plan, tables = clean
    other = plan.model_copy(update={"lob_mix": {"Personal": 0.5, "Commercial": 0.5}})
    report = check(vocab, other, tables)
    quota = [f for f in report.findings if f.rule == "plan.quota" and f.field == "lob_type"]
    assert quota and "expected 100" in quota[0].samples[0]


def test_every_row_in_ca_when_az_was_asked(vocab: Vocabulary) -> None:
    asked = GenerationPlan(person_count=50, state_mix={"AZ": 1.0})
    produced = build(GenerationPlan(person_count=50, state_mix={"CA": 1.0}), vocab)
    report = check(vocab, asked, produced)
    assert any(f.rule == "plan.quota" and f.field == "state" for f in report.findings)


def test_plan_override_of_lob_rules_is_respected(vocab: Vocabulary) -> None:
    plan = GenerationPlan(
        person_count=100, lob_mix={"Personal": 1.0}, body_style_mix={"Personal": {"Truck": 1.0}}
    )
    tables = build(plan, vocab)
    assert set(pc.unique(tables["vehicles"].column("body_style")).to_pylist()) == {"Truck"}
    assert check(vocab, plan, tables).ok
    assert "domain.lob_body_style" in rules_of(check(vocab, None, tables))


def test_licensed_fourteen_year_olds_are_generated_then_refused(vocab: Vocabulary) -> None:
    from esdh_agent.core.plan import AgeBand

    plan = GenerationPlan(person_count=20, age_bands=[AgeBand(min_age=14, max_age=14, share=1)])
    report = check(vocab, plan, build(plan, vocab))
    age = next(f for f in report.findings if f.rule == "domain.licence_age")
    assert age.count == 20
