"""Run the slice-generation graph in-process with a scripted fake model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.graphs.slice_generation.graph import build_graph
from esdh_agent.graphs.slice_generation.state import RunContext
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.llm.transcript import Transcript, read_transcript
from esdh_agent.tools.bundle import bundle_tools
from esdh_agent.workspace import Workspace

PASS = {"score": 0.9, "summary": "looks right", "findings": []}


@dataclass
class FakeRun:
    state: dict[str, Any]
    interrupts: list[Any]
    llm: ScriptedLLM
    events: list[dict[str, Any]]
    resume: Callable[[dict[str, Any]], FakeRun]


@pytest.fixture
def run_fake(workspace: Workspace) -> Callable[..., FakeRun]:
    def start(slice_id: str, script: dict[str, list[Any]], run_id: str = "run-1") -> FakeRun:
        aw = load_agent_workspace(workspace)
        full = {"planner": [{}], **{f"critic:{c}": [PASS] for c in aw.critics}, **script}
        llm = ScriptedLLM(full)
        run_dir = workspace.data / "runs" / run_id
        transcript = Transcript(run_dir / "transcript.jsonl", run_id)
        ctx = RunContext(
            aw=aw,
            llm=llm,
            transcript=transcript,  # type: ignore[arg-type]
            tools=bundle_tools(workspace),
            run_dir=run_dir,
            provenance={},
        )
        graph = build_graph().compile(checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": run_id}}

        def invoke(payload: Any) -> FakeRun:
            graph.invoke(payload, config, context=ctx)
            snap = graph.get_state(config)
            return FakeRun(
                dict(snap.values),
                [i.value for t in snap.tasks for i in t.interrupts],
                llm,
                read_transcript(run_dir / "transcript.jsonl"),
                lambda answer: invoke(Command(resume=answer)),
            )

        return invoke({"run_id": run_id, "slice_id": slice_id})

    return start
