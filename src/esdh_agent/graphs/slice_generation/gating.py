"""The policy gate's nodes: the gate itself, and the human approval it may wait for.

``policy_gate`` applies the slice's pinned requirements and the policy to the planner's
proposal (``agents.gate``) and decides: *refused* (nothing may allow it: stop), *paused* (a
pinned requirement needs a human: go to ``human_approval``), or *pass* (generate). When the
pinned requirements alone are impossible, ``load_context`` sends the run here without asking
the planner, so an impossible slice costs no model call.

``human_approval`` waits with LangGraph's ``interrupt()`` until ``esdh-agent resume RUN_ID
--approve|--reject`` answers, in this process or any later one. A human's approval of the
identical plan (canonical JSON hash) of the same slice in an earlier run is reused instead of
pausing again, and recorded as such.

Each decision is one ``gate`` transcript event and the state's ``gate_decision`` (what
``run.json`` and the CLI show): the decision, every reason, a one-line message, and for a
pause the exact resume command. The ``decision`` events with the gate's plan are kept as well.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from esdh_agent.agents.gate import gate_plan, plan_hash
from esdh_agent.agents.grounding import Grounding
from esdh_agent.agents.models import (
    Approval,
    ApprovalRequest,
    GateResult,
    JsonObject,
    PlannerResult,
)
from esdh_agent.core.faults import crash_point
from esdh_agent.graphs.slice_generation.records import earlier_approval
from esdh_agent.graphs.slice_generation.state import RunContext, SliceState

__all__ = ["human_approval", "policy_gate", "resume_command"]

NOT_ASKED = "the planner was not asked: the pinned requirements alone cannot be allowed"
NOT_ASKED_LEDGER = "the planner was not asked: the request asks for what the policy refuses"


def resume_command(run_id: str) -> str:
    """The exact command that answers a paused run."""
    return f"esdh-agent resume {run_id} --approve|--reject"


def _decide(
    ctx: RunContext, decision: str, reasons: list[str], message: str, **extra: Any
) -> JsonObject:
    """Write the ``gate`` event and return it as the state's ``gate_decision``."""
    data: JsonObject = {"decision": decision, "reasons": reasons, "message": message, **extra}
    ctx.transcript.event("policy_gate", "gate", **data)
    return data


def _approved_message(approval: Approval, basis: JsonObject | None) -> str:
    earlier = (basis or {}).get("reused_from")
    if earlier:
        return (
            f"approved earlier by {earlier.get('by')} at {earlier.get('at')} "
            f"(run {earlier.get('run_id')})"
        )
    return f"approved by {approval.by} at {approval.at}"


def policy_gate(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Apply pinned requirements and policy: refuse, pause for a human, or pass."""
    crash_point("node:policy_gate")
    ctx = runtime.context
    slice_ = ctx.aw.slice(state["slice_id"])
    planned = state.get("planner")
    result = PlannerResult.model_validate(planned) if planned else None
    proposal = result.proposal if result is not None else {}
    data = state.get("grounding")
    grounding = Grounding.model_validate(data) if data else None
    valid = result is not None and (result.valid or bool(result.proposal))
    gate = gate_plan(ctx.aw, slice_, proposal, grounding, proposal_valid=valid)
    if result is not None and not result.valid:
        shown = ", ".join(result.dropped) or "everything"
        gate.notes.append(
            f"the planner's answer was invalid after {result.attempts} attempt(s); "
            f"dropped: {shown}"
            + (f"; kept from an earlier answer: {', '.join(result.kept)}" if result.kept else "")
        )
    if grounding is not None:
        gate.notes += [f"declined {line}" for line in grounding.declined]
    if not planned:
        gate.notes.append(NOT_ASKED if not (grounding and grounding.refused) else NOT_ASKED_LEDGER)
    gate_json = gate.model_dump(mode="json")
    digest = plan_hash(gate.plan)
    if gate.refused:
        ctx.transcript.event("policy_gate", "decision", outcome="refused", **gate_json)
        reason = "; ".join(gate.refused)
        decision = _decide(ctx, "refused", gate.refused, f"refused: {reason}", plan_hash=digest)
        return {
            "gate": gate_json,
            "gate_decision": decision,
            "outcome": "refused",
            "reason": reason,
        }
    update: SliceState = {"gate": gate_json, "awaiting": None}
    given = state.get("approval")
    approval = Approval.model_validate(given) if given is not None else None
    basis = state.get("approval_basis")
    message = "within policy"
    if gate.needs_approval:
        if approval is None or not approval.covers(gate.needs_approval):
            earlier = earlier_approval(
                ctx.aw.ws, slice_.id, digest, gate.needs_approval, exclude=state["run_id"]
            )
            if earlier is None:
                return {**update, **_pause(state, ctx, gate, digest)}
            approval = Approval(
                approved=True,
                by=earlier["by"],
                comment=earlier["comment"],
                at=earlier["at"],
                reasons=earlier["reasons"],
            )
            basis = {
                "plan_hash": digest,
                "reused_from": {k: earlier[k] for k in ("run_id", "by", "at")},
            }
            update["approval_basis"] = basis
        message = _approved_message(approval, basis)
    ctx.transcript.event("policy_gate", "decision", outcome="pass", **gate_json)
    reused = (basis or {}).get("reused_from") if gate.needs_approval else None
    decision = _decide(
        ctx,
        "pass",
        gate.needs_approval,
        message,
        plan_hash=digest,
        **({"approved_earlier": reused} if reused else {}),
    )
    return {
        **update,
        "gate_decision": decision,
        "plan": gate.plan,
        "approval": approval.model_dump(mode="json") if approval is not None else None,
    }


def _pause(state: SliceState, ctx: RunContext, gate: GateResult, digest: str) -> SliceState:
    """Ask for a human: the request, the event with the reasons and the resume command."""
    command = resume_command(state["run_id"])
    request = ApprovalRequest(
        run_id=state["run_id"],
        slice=state["slice_id"],
        reasons=gate.needs_approval,
        plan={k: gate.plan[k] for k in ("person_count", "dataset_version", "seed")},
    )
    reasons = "; ".join(gate.needs_approval)
    message = f"paused for a human approval: {reasons}; answer with: {command}"
    gate_json = gate.model_dump(mode="json")
    ctx.transcript.event(
        "policy_gate",
        "decision",
        outcome="awaiting_approval",
        reason=f"answer with: {command}",
        **gate_json,
    )
    decision = _decide(
        ctx, "paused", gate.needs_approval, message, resume_command=command, plan_hash=digest
    )
    return {"gate_decision": decision, "awaiting": request.model_dump(mode="json")}


def human_approval(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Wait for a human's answer (``interrupt()``); then go on, or stop when rejected."""
    ctx = runtime.context
    request = state.get("awaiting") or {}
    answer = interrupt(request)
    gate = GateResult.model_validate(state["gate"])
    approval = Approval(
        approved=bool(answer.get("approved")),
        by=str(answer.get("by", "unknown"))[:80],
        comment=str(answer.get("comment", ""))[:300],
        at=str(answer.get("at") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
        reasons=gate.needs_approval,
    )
    approval_json = approval.model_dump(mode="json")
    ctx.transcript.event("human_approval", "approval", **approval_json)
    digest = plan_hash(gate.plan)
    update: SliceState = {
        "approval": approval_json,
        "approval_basis": {"plan_hash": digest, "reused_from": None},
        "awaiting": None,
    }
    comment = f": {approval.comment}" if approval.comment else ""
    if not approval.approved:
        message = f"rejected by {approval.by} at {approval.at}{comment}"
        decision = _decide(ctx, "rejected", gate.needs_approval, message, plan_hash=digest)
        return {
            **update,
            "gate_decision": decision,
            "outcome": "rejected",
            "reason": f"rejected by {approval.by}: {approval.comment}",
        }
    ctx.transcript.event("policy_gate", "decision", outcome="pass", **gate.model_dump(mode="json"))
    message = f"approved by {approval.by} at {approval.at}{comment}"
    decision = _decide(ctx, "approved", gate.needs_approval, message, plan_hash=digest)
    return {**update, "gate_decision": decision, "plan": gate.plan}
