"""Assembling a ledger: pinned over grammar over model, every loser kept and explained."""

from __future__ import annotations

from esdh_agent.ledger.build import assemble, pinned_requirements
from esdh_agent.ledger.model import Requirement

PROSE = "Give me 600 customers in Arizona, 60% AZ."


def _req(rid: str, target: str, op: str, value: object, quote: str, **kw: object) -> Requirement:
    start = PROSE.index(quote)
    return Requirement(
        id=rid,
        target=target,  # type: ignore[arg-type]
        op=op,  # type: ignore[arg-type]
        value=value,  # type: ignore[arg-type]
        quote=quote,
        start=start,
        end=start + len(quote),
        **kw,  # type: ignore[arg-type]
    )


def test_pinned_block_becomes_requirements_with_yaml_quotes() -> None:
    pins = pinned_requirements(
        {
            "person_count": 600,
            "state_mix": {"AZ": 0.6, "NV": 0.4},
            "age_bands": [{"min_age": 16, "max_age": 17, "share": 1.0}],
            "model_year_min": 2015,
            "edge_cases": {"hyphenated_names": 0.15, "boundary_ages": 0.5},
        }
    )
    labels = [(p.id, p.target, p.key, p.op, p.value, p.quote) for p in pins]
    assert labels[0] == ("P1", "person_count", None, "eq", 600, "person_count: 600")
    assert ("P2", "state", "AZ", "share", 0.6, "state_mix: {AZ: 0.6}") in labels
    assert ("P4", "age", "16-17", "share", 1.0, "age_bands: 16-17 share 1.0") in labels
    assert ("P5", "model_year", None, "min", 2015, "model_year_min: 2015") in labels
    assert {p.target for p in pins} >= {"name_variant", "boundary_age"}
    assert all(p.source == "pinned" and p.start == -1 for p in pins)


def test_grammar_wins_over_model_and_the_conflict_is_recorded() -> None:
    grammar = [_req("R1", "person_count", "eq", 600, "600 customers")]
    model = [
        _req("M1", "person_count", "eq", 60, "600 customers"),
        _req("M2", "state", "only", ["AZ"], "in Arizona"),
    ]
    ledger = assemble("s", PROSE, {}, grammar, model)
    ids = [(r.id, r.target, r.source, r.status) for r in ledger.requirements]
    assert ids == [
        ("R1", "person_count", "grammar", "pending"),
        ("R2", "state", "model", "pending"),
    ]
    assert len(ledger.conflicts) == 1
    conflict = ledger.conflicts[0]
    assert conflict.kept == "R1" and conflict.other.value == 60
    assert conflict.other.status == "overridden"


def test_a_model_reading_that_agrees_is_not_recorded_twice() -> None:
    grammar = [_req("R1", "person_count", "eq", 600, "600 customers")]
    model = [_req("M1", "person_count", "eq", 600, "600 customers")]
    ledger = assemble("s", PROSE, {}, grammar, model)
    assert len(ledger.requirements) == 1 and not ledger.conflicts


def test_a_pinned_value_overrides_a_prose_reading_and_says_so() -> None:
    grammar = [_req("R1", "person_count", "eq", 600, "600 customers")]
    ledger = assemble("s", PROSE, {"person_count": 500}, grammar)
    prose_req = next(r for r in ledger.requirements if r.source == "grammar")
    assert prose_req.status == "overridden"
    assert "person_count: 500" in prose_req.detail
    assert ledger.conflicts[0].kept == "P1"
    # Agreeing pins leave the prose reading standing.
    agreed = assemble("s", PROSE, {"person_count": 600}, grammar)
    assert all(r.status == "pending" for r in agreed.requirements)


def test_ledger_hash_changes_with_any_requirement() -> None:
    one = assemble("s", PROSE, {}, [_req("R1", "person_count", "eq", 600, "600 customers")])
    two = assemble("s", PROSE, {}, [_req("R1", "person_count", "eq", 601, "600 customers")])
    assert one.ledger_hash() != two.ledger_hash()
    assert one.ledger_hash() == one.model_copy().ledger_hash()
