"""The policy gate alone, fed what a hostile planner (or a bug upstream) could hand it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.gate import gate_plan
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


def test_states_fall_back_inside_a_narrow_policy(hostile_ws: Workspace) -> None:
    """Neither the proposal's states nor the defaults' are all allowed: stay inside."""
    restrict_states(hostile_ws, ["OR", "WA"])
    result = gate(hostile_ws, {"state_mix": {"CA": 0.5, "NV": 0.5}})
    assert result.plan["state_mix"] == {"OR": 0.428571, "WA": 0.571429}  # defaults, rescaled
    assert complies(hostile_ws, result)
