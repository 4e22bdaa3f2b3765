"""Run the slice-generation graph in-process with a scripted fake model (no server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.graphs.slice_generation.graph import build_graph
from esdh_agent.graphs.slice_generation.state import RunContext
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.llm.transcript import Transcript, read_transcript
from esdh_agent.tools.bundle import bundle_tools
from esdh_agent.workspace import Workspace


@dataclass
class ScriptedRun:
    state: dict[str, Any]
    interrupts: list[Any]
    llm: ScriptedLLM
    events: list[dict[str, Any]]
    resume: Callable[[dict[str, Any]], ScriptedRun]


def run_scripted(
    ws: Workspace,
    slice_id: str,
    script: dict[str, list[Any]],
    run_id: str = "run-1",
    provenance: dict[str, Any] | None = None,
) -> ScriptedRun:
    """Run ``slice_id`` through the compiled graph; the model answers from ``script``."""
    aw = load_agent_workspace(ws)
    llm = ScriptedLLM(script)
    run_dir = ws.data / "runs" / run_id
    context = RunContext(
        aw=aw,
        llm=llm,
        transcript=Transcript(run_dir / "transcript.jsonl", run_id),
        tools=bundle_tools(ws),
        run_dir=run_dir,
        provenance=dict(provenance or {}),
    )
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": run_id}}

    def invoke(payload: Any) -> ScriptedRun:
        graph.invoke(payload, config, context=context)
        snap = graph.get_state(config)
        return ScriptedRun(
            dict(snap.values),
            [i.value for t in snap.tasks for i in t.interrupts],
            llm,
            read_transcript(run_dir / "transcript.jsonl"),
            lambda answer: invoke(Command(resume=answer)),
        )

    return invoke({"run_id": run_id, "slice_id": slice_id})


# A plan-fidelity answer with one verified, blocking finding on a commercial-fleet run whose
# trucks are too few: the planner gets it back as feedback.
TRUCKS = {
    "score": 0.3,
    "summary": "too few trucks",
    "findings": [
        {
            "severity": "major",
            "field": "body_style",
            "rule": "fleet",
            "message": "fleets should be mostly trucks",
            "check": {
                "kind": "share",
                "field": "body_style",
                "value": "Truck",
                "expected": 0.7,
                "quote": "mostly trucks (around 70%)",
            },
        }
    ],
}


# A request whose make share no requirement of the ledger covers: the planner decides it, so
# a critic's verified finding on it sends the plan back (the ledger cannot settle it).
FORDS = "Fleet refresh: 80 persons in Oregon, and about 50% Ford vehicles."
"""A request whose make share no requirement of the ledger covers: the planner decides it."""
TOO_FEW_FORDS = {
    "score": 0.3,
    "summary": "too few Fords",
    "findings": [
        {
            "severity": "major",
            "field": "make",
            "rule": "makes",
            "message": "half the vehicles should be Fords",
            "check": {
                "kind": "share",
                "field": "make",
                "value": "Ford",
                "expected": 0.5,
                "quote": "about 50% Ford",
            },
        }
    ],
}
