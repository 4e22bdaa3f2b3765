"""Graph state: plain JSON-able data only (the bundle itself lives on disk)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.tools import BaseTool

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.llm.client import LLMClient
from esdh_agent.llm.transcript import Transcript

__all__ = ["CriticTask", "RunContext", "SliceInput", "SliceState"]


class SliceInput(TypedDict):
    """What a run starts from."""

    run_id: str
    slice_id: str


class SliceState(TypedDict, total=False):
    """Everything a run knows, checkpointed after every step."""

    run_id: str
    slice_id: str
    revision: int
    planner: dict[str, Any]
    plan: dict[str, Any]
    gate: dict[str, Any]
    approval: dict[str, Any] | None
    bundle: dict[str, Any] | None
    validation: dict[str, Any] | None
    profile: dict[str, Any] | None
    verdicts: Annotated[list[dict[str, Any]], operator.add]
    feedback: list[str]
    decision: str | None
    outcome: str | None
    reason: str | None
    snapshot: dict[str, Any] | None


class CriticTask(TypedDict):
    """What one critic receives (sent in parallel, one per critic)."""

    critic: str
    revision: int
    slice_id: str
    plan: dict[str, Any]
    validation: dict[str, Any]
    profile: dict[str, Any]


@dataclass
class RunContext:
    """Per-invocation dependencies (never checkpointed)."""

    aw: AgentWorkspace
    llm: LLMClient
    transcript: Transcript
    tools: dict[str, BaseTool]
    run_dir: Path
    provenance: dict[str, Any]
