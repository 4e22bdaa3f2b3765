"""Real runs for the reviewers' tools: generated once by replaying the recorded cassettes.

One session-scoped workspace replays four runs (baseline committed, baseline again —
unchanged, impossible-14 refused at the gate before the planner is asked, over-cap paused
for approval); each test gets a copy of those runs in its own fresh ``workspace``, so tests
never share state and the agent runs only once. ``revised_run`` adds a scripted run a critic
sent back once with a verified finding (no recorded run has a blocking critic any more).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from esdh_agent.graphs.slice_generation.runner import read_run, run_slice
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace, init_workspace

UNROUTABLE = "http://203.0.113.7:9/v1"  # TEST-NET-3: a leaked request could never succeed


@dataclass(frozen=True)
class Runs:
    """Run ids of the generated runs, and the directory that holds them."""

    root: Path
    baseline: str
    again: str
    refused: str
    paused: str


@pytest.fixture(scope="session")
def generated_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESDH_LLM_BASE_URL", UNROUTABLE)
        mp.delenv("OPENAI_API_KEY", raising=False)
        mp.delenv("ESDH_LLM_MODE", raising=False)
        mp.delenv("ESDH_WORKSPACE", raising=False)
        ws = Workspace.open(init_workspace(tmp_path_factory.mktemp("review") / "ws"))
        results = [
            run_slice(ws, slice_id)
            for slice_id in ("baseline", "baseline", "impossible-14", "over-cap")
        ]
    statuses = [r.status for r in results]
    assert statuses == ["committed", "unchanged", "refused", "awaiting_approval"], statuses
    ids = [r.run_id for r in results]
    return Runs(ws.data / "runs", *ids)


@pytest.fixture
def runs(workspace: Workspace, generated_runs: Runs) -> Runs:
    """The generated runs, copied into this test's workspace."""
    shutil.copytree(generated_runs.root, workspace.data / "runs", dirs_exist_ok=True)
    return generated_runs


def load(ws: Workspace, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run's record and events, read the way the commands read them."""
    return read_run(ws, run_id), read_transcript(ws.data / "runs" / run_id / "transcript.jsonl")


PASS = {"score": 0.9, "summary": "looks right", "findings": []}
PERSONAL = {"Personal": {"Sedan": 0.5, "SUV": 0.5}}
FEW_TRUCKS = {"Truck": 0.2, "SUV": 0.8}
TRUCKS_70 = {"Truck": 0.7, "SUV": 0.3}


@dataclass(frozen=True)
class Revised:
    """A run a critic sent back once with a verified finding, then committed (scripted model:
    the transcript has verdicts but no model calls, so no prose either)."""

    record: dict[str, Any]
    events: list[dict[str, Any]]
    prose: str


@pytest.fixture(scope="session")
def revised_run(tmp_path_factory: pytest.TempPathFactory) -> Revised:
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.graphs.slice_generation.records import run_summary

    from tests.scripted import TRUCKS, run_scripted

    ws = Workspace.open(init_workspace(tmp_path_factory.mktemp("revised") / "ws"))
    aw = load_agent_workspace(ws)
    script: dict[str, list[Any]] = {
        "planner": [
            {"model_year_min": 2015, "body_style_mix": {**PERSONAL, "Commercial": FEW_TRUCKS}},
            {"model_year_min": 2015, "body_style_mix": {**PERSONAL, "Commercial": TRUCKS_70}},
        ],
        **{f"critic:{c}": [PASS] for c in aw.critics},
        "critic:plan-fidelity": [TRUCKS, PASS],
    }
    run = run_scripted(ws, "commercial-fleet", script, run_id="revised-1")
    assert run.state["outcome"] == "committed" and run.state["revision"] == 1
    record = {
        "run_id": "revised-1",
        "slice_id": "commercial-fleet",
        "llm_mode": "scripted",
        **run_summary(run.state, "committed"),
    }
    return Revised(record, run.events, aw.slice("commercial-fleet").prose)
