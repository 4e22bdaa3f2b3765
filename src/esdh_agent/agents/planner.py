"""The planner: a slice prompt (and reviewers' feedback) → a proposed GenerationPlan."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from esdh_agent.agents.context import AgentWorkspace, Slice
from esdh_agent.agents.grounding import Grounding
from esdh_agent.agents.models import PlannerResult
from esdh_agent.agents.render import planner_messages
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.errors import LLMError
from esdh_agent.llm.protocol import StructuredModel
from esdh_agent.llm.structured import extract_json

__all__ = ["propose", "salvage"]


def salvage(data: Any) -> tuple[dict[str, Any], list[str]]:
    """Keep the fields of a proposal that validate; return (fields, dropped field names)."""
    if not isinstance(data, dict):
        return {}, ["(not an object)"]
    kept = {k: v for k, v in data.items() if k in GenerationPlan.model_fields}
    dropped = sorted(k for k in data if k not in GenerationPlan.model_fields)
    for _ in range(len(kept) + 1):
        try:
            GenerationPlan.model_validate(kept)
            return kept, dropped
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if not bad:  # a rule across fields: keep nothing rather than guess
                return {}, sorted(dropped + list(kept))
            dropped += sorted(bad)
            kept = {k: v for k, v in kept.items() if k not in bad}
    return {}, sorted(dropped + list(kept))


def propose(
    aw: AgentWorkspace,
    llm: StructuredModel,
    slice_: Slice,
    feedback: list[str],
    grounding: Grounding | None = None,
) -> PlannerResult:
    """Ask the planner model; return the proposal (valid fields only) and how it went.

    Whatever the model answers, only fields of ``GenerationPlan`` that validate are kept
    (anything else is listed in ``dropped``); the policy gate then has the last word. A
    refusal stops the run with one clear error: generating defaults instead would commit
    data the slice's author did not ask for.
    """
    system, user = planner_messages(aw, slice_, feedback, grounding)
    result = llm.structured(
        node="planner",
        model=aw.model_for("planner"),
        system=system,
        user=user,
        schema=GenerationPlan,
        max_reasks=aw.index.max_reasks,
    )
    if result.value is None and result.refusal:
        raise LLMError(
            f"the planner model refused to plan slice {slice_.id!r}: {result.refusal[:200]}",
            hint="nothing was generated; reword the slice prompt or use another planner model",
        )
    if result.value is not None:
        return PlannerResult(
            proposal=result.value.model_dump(mode="json", exclude_unset=True),
            valid=True,
            attempts=result.attempts,
            mode=result.mode,
            dropped=[],
            errors=[],
        )
    # A re-ask never throws away what an earlier attempt got right: the valid fields of every
    # attempt are kept, a later attempt's winning, as long as they still validate together.
    merged: dict[str, Any] = {}
    earlier: set[str] = set()
    lost: set[str] = set()
    answers = result.raws or [result.raw]
    for index, text in enumerate(answers):
        try:
            data = extract_json(text)
        except ValueError:
            data = None
        fields, bad = salvage(data)
        lost |= set(bad)
        if index < len(answers) - 1:
            earlier |= set(fields)
        else:
            earlier -= set(fields)
        merged.update(fields)
    kept, dropped = salvage(merged)
    return PlannerResult(
        proposal=kept,
        valid=False,
        attempts=result.attempts,
        mode=result.mode,
        dropped=sorted((lost | set(dropped)) - set(kept)),
        errors=result.errors,
        kept=sorted(earlier & set(kept)),
    )
