"""The policy gate: pins win, then the request's words; model proposals are clamped, hard
limits refuse."""

from __future__ import annotations

from dataclasses import replace

from esdh_agent.agents.context import AgentWorkspace, Slice, SliceMeta, load_agent_workspace
from esdh_agent.agents.gate import gate_plan, pinned_refusals, plan_hash
from esdh_agent.agents.grounding import ground
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.workspace import Workspace


def aw_of(workspace: Workspace) -> AgentWorkspace:
    return load_agent_workspace(workspace)


def with_pins(aw: AgentWorkspace, slice_id: str, **pins: object) -> Slice:
    s = aw.slice(slice_id)
    meta = SliceMeta.model_validate({**s.meta.model_dump(), "pinned": pins, "locked": False})
    return replace(s, meta=meta)


def test_model_proposals_beyond_policy_are_clamped(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    s = with_pins(aw, "commercial-fleet", seed=1)
    gate = gate_plan(
        aw,
        s,
        {"person_count": 900_000, "dataset_version": "v9.9", "vehicles_per_person": {"9": 1.0}},
    )
    assert gate.plan["person_count"] == 100_000
    assert gate.plan["dataset_version"] == "v0.1"
    assert gate.plan["vehicles_per_person"] == {"1": 1.0}
    assert not gate.needs_approval and not gate.refused
    assert len(gate.notes) == 3


def test_pinned_requirements_escalate_or_refuse(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    assert gate_plan(aw, with_pins(aw, "over-cap", person_count=150_000), {}).needs_approval
    assert gate_plan(aw, with_pins(aw, "over-cap", dataset_version="v0.2"), {}).needs_approval
    refused = gate_plan(aw, with_pins(aw, "over-cap", person_count=3_000_000), {})
    assert "exceeds the policy cap of 2000000; no approval can allow it" in refused.refused[0]


def test_an_ungeneratable_proposal_falls_back_to_defaults(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    gate = gate_plan(
        aw, with_pins(aw, "messy-names", person_count=20), {"make_mix": {"state_mix": 1.0}}
    )
    assert "cannot be generated" in gate.notes[0]
    assert set(gate.plan["make_mix"]) == {"Chevrolet", "Ford", "Honda", "Nissan", "Toyota"}


def test_pinned_ages_the_licence_rule_never_allows_are_refused(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    impossible = gate_plan(aw, aw.slice("impossible-14"), {})
    assert impossible.refused == [
        "pinned age_bands 14-15 (share 1) ask for licensed drivers outside the licensed ages "
        "16-99 (rule domain.licence_age); no approval can allow it"
    ]
    assert pinned_refusals(aw, aw.slice("impossible-14")) == impossible.refused
    old = [
        {"min_age": 30, "max_age": 60, "share": 0.5},
        {"min_age": 95, "max_age": 104, "share": 0.5},
    ]
    refused = gate_plan(aw, with_pins(aw, "over-cap", age_bands=old), {}).refused
    assert refused and "95-104 (share 0.5)" in refused[0] and "30-60" not in refused[0]
    # The edges themselves are licensed ages: licence-age-edges pins 16-17 and 95-99.
    assert gate_plan(aw, aw.slice("licence-age-edges"), {}).refused == []
    assert pinned_refusals(aw, aw.slice("baseline")) == []
    # A band with no share asks for nobody.
    unused = [
        {"min_age": 14, "max_age": 15, "share": 0.0},
        {"min_age": 20, "max_age": 40, "share": 1.0},
    ]
    assert gate_plan(aw, with_pins(aw, "over-cap", age_bands=unused), {}).refused == []


def test_the_plan_hash_is_the_canonical_plans(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    gate = gate_plan(aw, aw.slice("baseline"), {})
    reordered = dict(reversed(list(gate.plan.items())))
    assert (
        plan_hash(reordered)
        == plan_hash(gate.plan)
        == GenerationPlan.model_validate(gate.plan).plan_hash()
    )


# -- what the request's own words decide (the grounding) -----------------------------------------


def test_the_requests_words_overrule_the_planner_and_pins_overrule_both(
    workspace: Workspace,
) -> None:
    aw = aw_of(workspace)
    proposal = {"person_count": 50, "model_year_min": 1990, "make_mix": {"Ford": 1.0}}
    unpinned = aw.slice("commercial-fleet-unpinned")
    grounding = ground(aw, None, unpinned)
    assert grounding.fields["person_count"] == 600 and grounding.fields["model_year_min"] == 2015
    gate = gate_plan(aw, unpinned, proposal, grounding)
    assert gate.plan["person_count"] == 600 and gate.plan["model_year_min"] == 2015
    assert gate.plan["make_mix"] == {"Ford": 1.0}  # no words decide makes: the planner does
    [note] = [n for n in gate.notes if n.startswith("the request's own words decide")]
    assert "model_year_min" in note and "person_count" in note and "make_mix" not in note
    # Without the grounding, the same proposal is taken as it is.
    assert gate_plan(aw, unpinned, proposal).plan["person_count"] == 50
    # A pinned value wins over the words: the pinned twin's seed and counts are its pins'.
    pinned = with_pins(aw, "commercial-fleet-unpinned", person_count=40)
    gate = gate_plan(aw, pinned, proposal, ground(aw, None, pinned))
    assert gate.plan["person_count"] == 40 and gate.plan["model_year_min"] == 2015


def test_a_locked_slice_keeps_its_defaults_whatever_the_words_say(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    baseline = aw.slice("baseline")
    grounding = ground(aw, None, baseline)
    gate = gate_plan(aw, baseline, {"make_mix": {"Ford": 1.0}}, grounding)
    assert gate.plan == gate_plan(aw, baseline, {}).plan
    assert gate.plan["make_mix"] == GenerationPlan().model_dump(mode="json")["make_mix"]
    assert not gate.refused and not gate.needs_approval


def test_the_ledgers_judgement_reaches_the_gate_naming_the_quote(workspace: Workspace) -> None:
    aw = aw_of(workspace)
    over = aw.slice("over-cap-unpinned")
    grounding = ground(aw, None, over)
    gate = gate_plan(aw, over, {}, grounding)
    assert gate.plan["person_count"] == 120_000  # asked in words: paused for, never clamped
    assert gate.needs_approval == grounding.needs_approval
    [reason] = gate.needs_approval
    assert '"120,000 persons"' in reason and "approval threshold" in reason
    texas = aw.slice("hostile-billion-texas")
    grounding = ground(aw, None, texas)
    refused = gate_plan(aw, texas, {}, grounding).refused
    assert refused == grounding.refused  # nothing else: no refused value reached the plan
    assert any('"TX 100%"' in r and "outside the policy's states" in r for r in refused)
    assert any('"every person 12 vehicles"' in r and "cap of 5" in r for r in refused)
