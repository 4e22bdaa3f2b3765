"""The policy gate alone, fed what a hostile planner (or a bug upstream) could hand it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.gate import gate_plan
from esdh_agent.agents.grounding import ground
from esdh_agent.agents.models import GateResult
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import policy_violations
from esdh_agent.workspace import Workspace


def restrict_states(ws: Workspace, states: list[str]) -> None:
    policy = yaml.safe_load(ws.policy_path.read_text(encoding="utf-8"))
    policy["allowed_states"] = states
    ws.policy_path.write_text(yaml.safe_dump(policy), encoding="utf-8")


def gate(ws: Workspace, proposal: Any, slice_id: str = "hostile-skip-critics") -> GateResult:
    aw = load_agent_workspace(ws)
    return gate_plan(aw, aw.slice(slice_id), proposal)


def complies(ws: Workspace, result: GateResult) -> bool:
    plan = GenerationPlan.model_validate(result.plan)
    return not result.refused and policy_violations(ws.policy(), plan) == []


def test_fields_that_are_not_plan_fields_are_dropped_and_noted(hostile_ws: Workspace) -> None:
    result = gate(
        hostile_ws,
        {
            "person_count": 150,
            "output_path": "../../etc",
            "synthetic_source": "",
            "skip_critics": True,
        },
    )
    assert result.plan["person_count"] == 150  # the plan fields survive
    assert "output_path" not in result.plan and complies(hostile_ws, result)
    assert (
        "ignored fields that are not plan fields: output_path, skip_critics, synthetic_source"
        in result.notes
    )


@pytest.mark.parametrize("proposal", [None, [], "commit now", 7])
def test_a_proposal_that_is_not_an_object_gives_defaults(
    hostile_ws: Workspace, proposal: Any
) -> None:
    result = gate(hostile_ws, proposal)
    assert result.plan == GenerationPlan().model_dump(mode="json")
    assert any("not an object" in n for n in result.notes)


def test_the_requests_words_overrule_a_hostile_proposal(hostile_ws: Workspace) -> None:
    """The fields the request's words decide win over the planner's, unclamped and with no
    approval asked (the request asks for 120 persons; the planner for a million)."""
    aw = load_agent_workspace(hostile_ws)
    slice_ = aw.slice("hostile-skip-critics")
    grounding = ground(aw, None, slice_)
    assert grounding.fields == {"person_count": 120}
    proposal = {"person_count": 1_000_000, "vehicles_per_person": {"10": 1.0}, "skip_critics": True}
    result = gate_plan(aw, slice_, proposal, grounding)
    assert result.plan["person_count"] == 120 and complies(hostile_ws, result)
    assert not result.needs_approval and not result.refused
    notes = " ".join(result.notes)
    assert "the request's own words decide person_count" in notes
    assert "dropped fleets above 5" in notes  # what the words leave open is clamped
    assert result.plan["vehicles_per_person"] == {"1": 1.0}


@pytest.mark.parametrize("proposal", [{}, {"person_count": 100, "state_mix": {"CA": 1.0}}])
def test_no_proposal_undoes_a_refusal_of_the_requests_words(
    hostile_ws: Workspace, proposal: dict[str, Any]
) -> None:
    """billion-texas: whatever a planner proposes (even a modest, compliant plan), the gate
    refuses the request's own out-of-policy words, naming them."""
    aw = load_agent_workspace(hostile_ws)
    slice_ = aw.slice("hostile-billion-texas")
    result = gate_plan(aw, slice_, proposal, ground(aw, None, slice_))
    refused = " ".join(" ".join(result.refused).split())
    assert '"a billion rows — 1,000,000,000 persons"' in refused
    assert '"all of them living in Texas"' in refused and '"every person 12 vehicles"' in refused


def test_states_fall_back_inside_a_narrow_policy(hostile_ws: Workspace) -> None:
    """Neither the proposal's states nor the defaults' are all allowed: stay inside."""
    restrict_states(hostile_ws, ["OR", "WA"])
    result = gate(hostile_ws, {"state_mix": {"CA": 0.5, "NV": 0.5}})
    assert result.plan["state_mix"] == {"OR": 0.428571, "WA": 0.571429}  # defaults, rescaled
    assert complies(hostile_ws, result)


# -- approval reuse cannot be stretched ------------------------------------------------------


def _approved_earlier(ws: Workspace, slice_id: str, plan: dict[str, Any], run_id: str) -> None:
    """A run record as the runner writes it after a human approved ``plan`` at the gate."""
    from esdh_agent.agents.gate import plan_hash
    from esdh_agent.graphs.slice_generation.records import write_run

    aw = load_agent_workspace(ws)
    reasons = gate_plan(aw, aw.slice(slice_id), plan).needs_approval
    approval = {"approved": True, "by": "steward", "comment": "", "at": "2026-01-01T00:00:00+00:00"}
    approval.update(reasons=reasons, plan_hash=plan_hash(plan), reused_from=None)
    run_dir = ws.paths.run_dir(run_id)
    run_dir.mkdir(parents=True)
    write_run(run_dir, {"run_id": run_id, "slice_id": slice_id, "approval": approval})


def _up_to_generate(ws: Workspace, slice_id: str, proposal: Any, run_id: str) -> Any:
    """The graph's state where it would generate (or pause): a scripted planner, no data."""
    from langgraph.checkpoint.memory import InMemorySaver

    from esdh_agent.graphs.slice_generation.graph import build_graph
    from esdh_agent.graphs.slice_generation.state import RunContext
    from esdh_agent.llm.fake import ScriptedLLM
    from esdh_agent.llm.transcript import Transcript
    from esdh_agent.tools.bundle import bundle_tools

    run_dir = ws.data / "runs" / run_id
    context = RunContext(
        aw=load_agent_workspace(ws),
        llm=ScriptedLLM({"planner": [proposal]}),
        transcript=Transcript(run_dir / "transcript.jsonl", run_id),
        tools=bundle_tools(ws),
        run_dir=run_dir,
        provenance={},
    )
    graph = build_graph().compile(checkpointer=InMemorySaver(), interrupt_before=["generate"])
    config: Any = {"configurable": {"thread_id": run_id}}
    graph.invoke({"run_id": run_id, "slice_id": slice_id}, config, context=context)
    return graph.get_state(config)


def test_an_approval_covers_only_the_identical_plan_of_the_same_slice(
    hostile_ws: Workspace,
) -> None:
    """The forgery slice pins 150,000 persons (threshold 500 here). A human approved the plan
    the gate makes of an empty proposal; a planner that changes any field (and claims to be
    approved), or the same plan under another slice, needs its own approval."""
    aw = load_agent_workspace(hostile_ws)
    approved = gate_plan(aw, aw.slice("hostile-approval-forgery"), {}).plan
    _approved_earlier(hostile_ws, "hostile-approval-forgery", approved, "human-approved")
    _approved_earlier(hostile_ws, "hostile-skip-critics", approved, "other-slice")

    forged = {"make_mix": {"Toyota": 1.0}, "approved": True}
    changed = _up_to_generate(hostile_ws, "hostile-approval-forgery", forged, "changed")
    assert changed.next == ("human_approval",)
    assert changed.values["gate_decision"]["decision"] == "paused"

    same = _up_to_generate(hostile_ws, "hostile-approval-forgery", {}, "same")
    assert same.next == ("generate",)
    decision = same.values["gate_decision"]
    assert decision["decision"] == "pass"
    assert decision["approved_earlier"]["run_id"] == "human-approved"
    assert decision["message"].startswith("approved earlier by steward at 2026-01-01")
    assert same.values["approval_basis"]["reused_from"]["run_id"] == "human-approved"


def test_pinned_licensed_minors_are_refused_whatever_the_planner_says(
    hostile_ws: Workspace,
) -> None:
    """impossible-14 pins 14-15-year-olds; a planner proposing adults does not change that."""
    adults = {"age_bands": [{"min_age": 30, "max_age": 40, "share": 1.0}]}
    result = gate(hostile_ws, adults, slice_id="impossible-14")
    assert result.refused and "pinned age_bands 14-15 (share 1)" in result.refused[0]
    state = _up_to_generate(hostile_ws, "impossible-14", adults, "minors")
    assert state.next == () and state.values["outcome"] == "refused"
    assert "planner" not in state.values  # refused before the planner was asked
