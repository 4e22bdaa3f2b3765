"""The slice-generation state machine.

load_context → ground → planner → policy_gate → generate → validate → critics (parallel) →
decide → commit | planner (revise with the critics' findings) | give_up. ``ground`` turns the
request into its requirements ledger (docs/requests.md); the policy gate refuses what no
approval may allow (pinned requirements impossible on their own, and requests the ledger's
judgement refuses, skip the planner),
and sends what needs a human to ``human_approval``, which pauses the run with
``interrupt()`` (see ``gating``). Conditional edges are labelled by their path maps, so the
Mermaid diagram (``esdh-agent graph``) names each way out of a node.
"""

from __future__ import annotations

import shutil
from collections.abc import Hashable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from esdh_agent.agents.conformance import CRITIC_ID as CONFORMANCE_ID
from esdh_agent.agents.gate import pinned_refusals
from esdh_agent.agents.grounding import unmet_messages
from esdh_agent.agents.models import (
    BundleRef,
    Decision,
    GateResult,
    Judge,
    SnapshotRef,
    current_verdicts,
)
from esdh_agent.agents.registry import critic_ids, get_critic
from esdh_agent.agents.render import dumps
from esdh_agent.core.faults import crash_point
from esdh_agent.core.manifest import Manifest
from esdh_agent.core.report import ValidationReport
from esdh_agent.engines.pipeline import StagedBundle, commit_bundle
from esdh_agent.errors import SnapshotConflict
from esdh_agent.graphs.slice_generation.gating import human_approval, policy_gate
from esdh_agent.graphs.slice_generation.naming import changed_outcome, snapshot_name
from esdh_agent.graphs.slice_generation.planning import ground_request, grounding_of, planner
from esdh_agent.graphs.slice_generation.records import approval_record, request_record
from esdh_agent.graphs.slice_generation.state import (
    CriticTask,
    RunContext,
    SliceInput,
    SliceState,
)
from esdh_agent.ledger.judge import quoted
from esdh_agent.ledger.model import Ledger

__all__ = ["EDGE_LABELS", "build_graph", "graph"]

INTERRUPT_NOTE = "pauses until esdh-agent resume RUN_ID --approve|--reject"


def load_context(state: SliceInput, runtime: Runtime[RunContext]) -> SliceState:
    """Check the slice and record what this run reads (hashes of every governed input)."""
    ctx = runtime.context
    slice_ = ctx.aw.slice(state["slice_id"])
    ctx.transcript.event(
        "load_context",
        "node",
        slice=slice_.id,
        slice_version=slice_.meta.version,
        pinned=slice_.meta.pinned,
        locked=slice_.meta.locked,
        hashes=ctx.aw.hashes,
    )
    return {
        "revision": 0,
        "feedback": [],
        "outcome": None,
        "decision": None,
        "pinned_refused": pinned_refusals(ctx.aw, slice_),
    }


def _bundle_dir(ctx: RunContext, revision: int) -> str:
    return str(ctx.run_dir / f"bundle-r{revision}")


def generate(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Generate the bundle with the deterministic core (a LangChain tool)."""
    crash_point("node:generate")
    ctx = runtime.context
    target = _bundle_dir(ctx, state["revision"])
    shutil.rmtree(target, ignore_errors=True)  # a resumed step starts clean
    name = snapshot_name(ctx, state["slice_id"], state["plan"]["dataset_version"])
    args = {"plan": state["plan"], "name": name, "target_dir": target}
    ctx.transcript.event(
        "generate", "tool_call", tool="generate_bundle", name=name, plan=state["plan"]
    )
    bundle = BundleRef.model_validate(ctx.tools["generate_bundle"].invoke(args))
    ctx.transcript.event(
        "generate",
        "tool_result",
        tool="generate_bundle",
        rows=bundle.rows,
        content_hash=bundle.content_hash,
        seconds=bundle.seconds,
    )
    return {"bundle": bundle.model_dump(mode="json")}


def validate(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Validate the bundle on disk and profile it (a LangChain tool)."""
    crash_point("node:validate")
    ctx = runtime.context
    bundle = _bundle(state)
    assert bundle is not None
    grounding = grounding_of(state)
    args = {"bundle_dir": bundle.path, "plan": state["plan"]}
    if grounding is not None:
        args["ledger"] = grounding.ledger.model_dump(mode="json")
    result = ctx.tools["validate_bundle"].invoke(args)
    report = ValidationReport.model_validate(result["report"])
    ctx.transcript.event(
        "validate",
        "tool_result",
        tool="validate_bundle",
        summary=report.summary(),
        rules=len(report.rules),
        findings=[f.model_dump(mode="json") for f in report.findings[:20]],
    )
    ledger = result.get("ledger")
    if ledger is not None:
        verified = Ledger.model_validate(ledger)
        ctx.transcript.event(
            "validate",
            "verified",
            revision=state["revision"],
            statuses={r.id: r.status for r in verified.requirements},
            unmet=unmet_messages(verified),
        )
    return {"validation": result["report"], "profile": result["profile"], "ledger": ledger}


def fan_out(state: SliceState, runtime: Runtime[RunContext]) -> list[Send]:
    """One critic task per critic, run in parallel."""
    assert state["validation"] is not None and state["profile"] is not None
    return [
        Send(
            "critic",
            CriticTask(
                critic=name,
                revision=state["revision"],
                slice_id=state["slice_id"],
                plan=state["plan"],
                validation=state["validation"],
                profile=state["profile"],
                ledger=state.get("ledger"),
            ),
        )
        for name in critic_ids(runtime.context.aw)
    ]


def critic(task: CriticTask, runtime: Runtime[RunContext]) -> SliceState:
    """One critic's verdict, whichever kind it is (the registry knows)."""
    crash_point("node:critic")
    ctx = runtime.context
    slice_ = ctx.aw.slice(task["slice_id"])
    case = Judge(
        slice_prompt=slice_.prose,
        pinned=slice_.meta.pinned,
        plan=task["plan"],
        validation=task["validation"],
        profile=task["profile"],
        ledger=task.get("ledger"),
    )
    verdict = get_critic(ctx.aw, task["critic"]).review(ctx.llm, case)
    data = verdict.model_copy(update={"revision": task["revision"]}).model_dump(mode="json")
    ctx.transcript.event(f"critic:{task['critic']}", "verdict", **data)
    return {"verdicts": [data]}


def decide(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Commit when every critic passed; else revise (bounded) or give up."""
    crash_point("node:decide")
    ctx = runtime.context
    failing = [v for v in current_verdicts(state) if not v.passed]
    ledger = Ledger.model_validate(state["ledger"]) if state.get("ledger") else None
    # An unmet requirement whose plan field the request (or a pin) set cannot change on a
    # revision: the plan already says what the words say, so the data never will.
    settled = [
        r
        for r in (ledger.by_status("unmet") if ledger else [])
        if r.plan_fields or r.source == "pinned"
    ]
    decision: Decision
    if not failing:
        decision = "commit"
    elif settled:
        decision = "give_up"
    elif state["revision"] < ctx.aw.index.max_revisions:
        decision = "revise"
    else:
        decision = "give_up"
    ctx.transcript.event(
        "decide",
        "decision",
        decision=decision,
        revision=state["revision"],
        failing=[v.critic for v in failing],
    )
    update: SliceState = {"decision": decision}
    if decision == "revise":
        feedback = [
            f"the data does not meet {quoted(r)}: {r.detail}; plan so that it does"
            for r in (ledger.by_status("unmet") if ledger else [])
        ]
        for v in failing:
            if v.critic == CONFORMANCE_ID:
                continue
            feedback += [f"{v.critic}: {f.message} ({f.reason})" for f in v.blocking]
            for key, value in v.suggested_changes.items():
                feedback.append(f"{v.critic} suggests {key} = {dumps(value)}")
        update["revision"] = state["revision"] + 1
        update["feedback"] = feedback[:12]
        _discard(state)
    elif decision == "give_up":
        _discard(state)
        names = ", ".join(v.critic for v in failing)
        update["outcome"] = "refused"
        unmet = unmet_messages(ledger) if ledger else []
        if settled:
            update["reason"] = "the data does not meet the request: " + "; ".join(unmet)
        else:
            update["reason"] = (
                f"critics refused after {state['revision'] + 1} attempt(s): {names}"
                + (f" (unmet: {'; '.join(unmet)})" if unmet else "")
            )
    return update


def _bundle(state: SliceState) -> BundleRef | None:
    data = state.get("bundle")
    return BundleRef.model_validate(data) if data else None


def _discard(state: SliceState) -> None:
    bundle = _bundle(state)
    if bundle is not None:
        shutil.rmtree(bundle.path, ignore_errors=True)


def commit(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Commit the validated bundle atomically, with the run's provenance in the manifest."""
    crash_point("node:commit")
    ctx = runtime.context
    bundle = _bundle(state)
    assert bundle is not None and state["validation"] is not None
    staged = StagedBundle(
        path=ctx.run_dir / f"bundle-r{state['revision']}",
        manifest=Manifest.model_validate(bundle.manifest),
        report=ValidationReport.model_validate(state["validation"]),
        rows=bundle.rows,
    )
    gate = state.get("gate")
    provenance = {
        **ctx.provenance,
        "run_id": state["run_id"],
        "slice": state["slice_id"],
        "slice_version": ctx.aw.slice(state["slice_id"]).meta.version,
        "revision": state["revision"],
        "models": sorted(ctx.llm.models_used),
        "verdicts": [v.provenance() for v in current_verdicts(state)],
        "approval": approval_record(state),
        "gate_notes": GateResult.model_validate(gate).notes if gate else [],
        "request": request_record(state),
    }
    try:
        result = commit_bundle(ctx.aw.ws.store(), staged, provenance)
    except SnapshotConflict as exc:
        raise changed_outcome(ctx, state["slice_id"], staged.manifest.name) or exc from None
    snapshot = SnapshotRef(
        name=result.manifest.name,
        path=str(result.path),
        status=result.status,
        content_hash=result.manifest.content_hash,
    ).model_dump(mode="json")
    ctx.transcript.event("commit", "commit", **snapshot)
    if result.status == "unchanged":
        shutil.rmtree(staged.path, ignore_errors=True)
    return {"snapshot": snapshot, "outcome": result.status}


def give_up(state: SliceState, runtime: Runtime[RunContext]) -> SliceState:
    """Stop with nothing committed."""
    runtime.context.transcript.event(
        "give_up", "decision", outcome=state.get("outcome"), reason=state.get("reason")
    )
    return {}


# Conditional edges: each routing function returns a label; the path maps send it to a node.
AFTER_LOAD: dict[Hashable, str] = {
    "ground the request": "ground",
    "pinned requirements impossible": "policy_gate",
}
AFTER_GROUND: dict[Hashable, str] = {
    "plan": "planner",
    "request refused by policy": "policy_gate",
}
AFTER_GATE: dict[Hashable, str] = {
    "refused": END,
    "needs approval": "human_approval",
    "allowed": "generate",
}
AFTER_APPROVAL: dict[Hashable, str] = {"approved": "generate", "rejected": END}
TO_CRITICS: dict[Hashable, str] = {"each critic, in parallel": "critic"}
AFTER_DECIDE: dict[Hashable, str] = {
    "all pass → commit": "commit",
    "blocking findings → revise": "planner",
    "revisions exhausted": "give_up",
}
EDGE_LABELS = [
    str(label)
    for edges in (AFTER_LOAD, AFTER_GROUND, AFTER_GATE, AFTER_APPROVAL, TO_CRITICS, AFTER_DECIDE)
    for label in edges
]
"""Every conditional edge's label, as the Mermaid diagram shows it."""


def after_load(state: SliceState) -> str:
    return "pinned requirements impossible" if state.get("pinned_refused") else "ground the request"


def after_ground(state: SliceState) -> str:
    grounding = state.get("grounding") or {}
    return "request refused by policy" if grounding.get("refused") else "plan"


def after_gate(state: SliceState) -> str:
    if state.get("outcome"):
        return "refused"
    paused = (state.get("gate_decision") or {}).get("decision") == "paused"
    return "needs approval" if paused else "allowed"


def after_approval(state: SliceState) -> str:
    return "rejected" if state.get("outcome") else "approved"


def after_decide(state: SliceState) -> str:
    decision = state.get("decision")
    if decision == "commit":
        return "all pass → commit"
    return "blocking findings → revise" if decision == "revise" else "revisions exhausted"


def build_graph() -> StateGraph[SliceState, RunContext, SliceInput, SliceState]:
    builder = StateGraph(SliceState, context_schema=RunContext, input_schema=SliceInput)
    builder.add_node("load_context", load_context)
    builder.add_node("ground", ground_request)
    builder.add_node("planner", planner)
    builder.add_node("policy_gate", policy_gate)
    builder.add_node("human_approval", human_approval, metadata={"interrupt": INTERRUPT_NOTE})
    builder.add_node("generate", generate)
    builder.add_node("validate", validate)
    builder.add_node("critic", critic, input_schema=CriticTask)  # type: ignore[call-overload]
    builder.add_node("decide", decide)
    builder.add_node("commit", commit)
    builder.add_node("give_up", give_up)
    # Read the workspace, then plan (unless the pinned requirements alone are impossible).
    builder.add_edge(START, "load_context")
    builder.add_conditional_edges("load_context", after_load, AFTER_LOAD)
    # Ground the request in its words; a request the policy refuses is not planned.
    builder.add_conditional_edges("ground", after_ground, AFTER_GROUND)
    builder.add_edge("planner", "policy_gate")
    # The gate stops refused runs, waits for a human when needed, else generates.
    builder.add_conditional_edges("policy_gate", after_gate, AFTER_GATE)
    builder.add_conditional_edges("human_approval", after_approval, AFTER_APPROVAL)
    builder.add_edge("generate", "validate")
    # Every critic judges the same bundle, in parallel.
    builder.add_conditional_edges("validate", fan_out, TO_CRITICS)
    builder.add_edge("critic", "decide")
    # Commit, revise with the findings, or give up after the last revision.
    builder.add_conditional_edges("decide", after_decide, AFTER_DECIDE)
    builder.add_edge("commit", END)
    builder.add_edge("give_up", END)
    return builder


graph = build_graph().compile()
"""The uncheckpointed graph, for LangGraph Studio (langgraph.json)."""
