"""A re-ask never throws away what an earlier attempt of the planner got right."""

from __future__ import annotations

import json
from typing import Any

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.planner import propose
from esdh_agent.llm.protocol import CallResult
from esdh_agent.workspace import Workspace


class TwoAttempts:
    """A model whose first answer is half right and whose re-asked answer is broken."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def structured(self, **_: Any) -> CallResult[Any]:
        return CallResult(
            None, len(self.answers), "fake", ["bad"], self.answers[-1], raws=self.answers
        )


def test_valid_fields_of_an_earlier_attempt_survive_a_broken_reask(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    first = json.dumps({"person_count": 321, "state_mix": {"TX": 1.0}})
    second = json.dumps({"seed": 9, "person_count": "many"})
    result = propose(aw, TwoAttempts([first, second]), aw.slice("commercial-fleet"), [])
    assert not result.valid
    assert result.proposal == {"person_count": 321, "seed": 9}
    assert result.kept == ["person_count"]
    assert "state_mix" in result.dropped and "person_count" not in result.dropped


def test_a_later_attempt_wins_over_an_earlier_one(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    answers = [json.dumps({"person_count": 5}), json.dumps({"person_count": 6, "x": 1})]
    result = propose(aw, TwoAttempts(answers), aw.slice("commercial-fleet"), [])
    assert result.proposal == {"person_count": 6}
    assert result.kept == [] and result.dropped == ["x"]
