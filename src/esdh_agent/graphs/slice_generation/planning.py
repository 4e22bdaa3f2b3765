"""The planning nodes: ground the request in its words, then ask the planner model."""

from __future__ import annotations

from langgraph.runtime import Runtime

from esdh_agent.agents.grounding import Grounding, ground
from esdh_agent.agents.models import PlannerResult
from esdh_agent.agents.planner import propose, salvage
from esdh_agent.core.faults import crash_point
from esdh_agent.graphs.slice_generation.state import RunContext, SliceState

__all__ = ["ground_request", "grounding_of", "planner"]


def ground_request(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """The request's requirements ledger: grounded in its words, compiled, judged."""
    crash_point("node:ground")
    ctx = runtime.context
    slice_ = ctx.aw.slice(state["slice_id"])
    grounding = ground(ctx.aw, ctx.llm, slice_).model_dump(mode="json")
    ctx.transcript.event("ground", "ledger", **grounding)
    return {"grounding": grounding}


def planner(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Ask the planner model for a GenerationPlan (re-asking on invalid JSON).

    Valid fields of an earlier answer are kept when a later answer leaves them out or gets
    them wrong: a re-ask never throws away what the model already got right.
    """
    crash_point("node:planner")
    ctx = runtime.context
    slice_ = ctx.aw.slice(state["slice_id"])
    grounding = grounding_of(state)
    result = propose(ctx.aw, ctx.llm, slice_, state.get("feedback", []), grounding)
    earlier = state.get("planner")
    if earlier:
        previous = PlannerResult.model_validate(earlier).proposal
        kept = sorted(k for k in previous if k not in result.proposal)
        if kept:
            merged = {**{k: previous[k] for k in kept}, **result.proposal}
            kept_fields, _ = salvage(merged)
            kept = sorted(k for k in kept if k in kept_fields)
            result = result.model_copy(
                update={
                    "proposal": {**{k: previous[k] for k in kept}, **result.proposal},
                    "kept": kept,
                }
            )
    data = result.model_dump(mode="json")
    ctx.transcript.event("planner", "proposal", revision=state.get("revision", 0), **data)
    return {"planner": data}


def grounding_of(state: SliceState) -> Grounding | None:
    data = state.get("grounding")
    return Grounding.model_validate(data) if data else None
