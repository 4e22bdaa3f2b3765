"""Graph state: plain JSON-able data only (the bundle itself lives on disk).

Each structured field holds the JSON of a model in ``esdh_agent.agents.models`` (named in
its comment): nodes validate it on the way in and dump it on the way out, so checkpoints
never depend on where a class lives.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol, TypedDict

from langchain_core.tools import BaseTool

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.models import Decision, JsonObject, Outcome
from esdh_agent.llm.protocol import StructuredModel
from esdh_agent.llm.transcript import Transcript

__all__ = ["CriticTask", "RunContext", "RunModel", "SliceInput", "SliceState"]


class SliceInput(TypedDict):
    """What a run starts from."""

    run_id: str
    slice_id: str


class SliceState(TypedDict, total=False):
    """Everything a run knows, checkpointed after every step (and what nodes return)."""

    run_id: str
    slice_id: str
    revision: int
    pinned_refused: list[str]  # what the pinned requirements alone make impossible
    grounding: JsonObject | None  # agents.grounding.Grounding: the request's ledger, judged
    ledger: JsonObject | None  # ledger.model.Ledger verified on this revision's data
    planner: JsonObject  # PlannerResult
    plan: JsonObject  # the GenerationPlan the gate settled on
    gate: JsonObject  # GateResult
    gate_decision: JsonObject | None  # the gate's last decision (see graphs...gating)
    awaiting: JsonObject | None  # ApprovalRequest, while the run waits for a human
    approval: JsonObject | None  # Approval
    approval_basis: JsonObject | None  # {"plan_hash": ..., "reused_from": {run_id, by, at}}
    bundle: JsonObject | None  # BundleRef
    validation: JsonObject | None  # core.report.ValidationReport
    profile: JsonObject | None  # agents.profile.build_profile (free-form)
    verdicts: Annotated[list[JsonObject], operator.add]  # Verdict, every revision's
    feedback: list[str]
    decision: Decision | None
    outcome: Outcome | None
    reason: str | None
    snapshot: JsonObject | None  # SnapshotRef


class CriticTask(TypedDict):
    """What one critic receives (sent in parallel, one per critic)."""

    critic: str
    revision: int
    slice_id: str
    plan: JsonObject
    validation: JsonObject
    profile: JsonObject
    ledger: JsonObject | None


class RunModel(StructuredModel, Protocol):
    """The run's model client: structured calls, and which models answered them."""

    @property
    def models_used(self) -> set[str]: ...


@dataclass
class RunContext:
    """Per-invocation dependencies (never checkpointed)."""

    aw: AgentWorkspace
    llm: RunModel
    transcript: Transcript
    tools: dict[str, BaseTool]
    run_dir: Path
    provenance: JsonObject
