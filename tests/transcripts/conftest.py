"""Real runs for the reviewers' tools: generated once by replaying the recorded cassettes.

One session-scoped workspace replays four runs (baseline committed, baseline again —
unchanged, impossible-14 refused at the gate before the planner is asked, over-cap paused
for approval); each test gets a copy of those runs in its own fresh ``workspace``, so tests
never share state and the agent runs only once. ``revised_run`` adds a scripted run a critic
sent back once with a verified finding (no recorded run has a blocking critic any more), on a
slice of its own whose make share no requirement of the ledger covers.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from esdh_agent.graphs.slice_generation.runner import read_run, run_slice
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace, init_workspace

from tests.scripted import FORDS, TOO_FEW_FORDS

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

# A slice of the revised run's own: its words ground the count and the state, but no
# requirement of the ledger covers the make share ("about 50% Ford" is not a ledger target),
# so the planner decides it and a critic's check on it can send the plan back. (A slice whose
# words set the checked field, such as commercial-fleet's "mostly trucks (around 70%)", has it
# right on the first plan: the ledger wins over the planner, and the finding is satisfied.)
FORDS_PINNED = {"person_count": 80}
HALF_FORDS = {"Ford": 0.5, "Toyota": 0.5}


def _write_fords(ws: Workspace) -> None:
    """The ``fords`` slice at prompts/fords.md (any prompts/*.md is a slice)."""
    meta = {
        "id": "fords",
        "version": "1.0.0",
        "owner": "qa-tests",
        "dataset_version": "v0.1",
        "pinned": FORDS_PINNED,
    }
    front = yaml.safe_dump(meta, sort_keys=False)
    (ws.root / "prompts" / "fords.md").write_text(f"---\n{front}---\n{FORDS}\n", "utf-8")


@dataclass(frozen=True)
class Revised:
    """A run a critic sent back once with a verified finding, then committed (scripted model:
    the transcript has verdicts but no model calls)."""

    record: dict[str, Any]
    events: list[dict[str, Any]]
    prose: str


@pytest.fixture(scope="session")
def revised_run(tmp_path_factory: pytest.TempPathFactory) -> Revised:
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.graphs.slice_generation.records import run_summary

    from tests.scripted import run_scripted

    ws = Workspace.open(init_workspace(tmp_path_factory.mktemp("revised") / "ws"))
    _write_fords(ws)
    aw = load_agent_workspace(ws)
    script: dict[str, list[Any]] = {
        # the first answer leaves the makes at their default (a fifth Fords); the second fixes them
        "planner": [{"model_year_min": 2015}, {"model_year_min": 2015, "make_mix": HALF_FORDS}],
        **{f"critic:{c}": [PASS] for c in aw.critics},
        "critic:plan-fidelity": [TOO_FEW_FORDS, PASS],
    }
    run = run_scripted(ws, "fords", script, run_id="revised-1")
    assert run.state["outcome"] == "committed" and run.state["revision"] == 1
    record = {
        "run_id": "revised-1",
        "slice_id": "fords",
        "llm_mode": "scripted",
        **run_summary(run.state, "committed"),
    }
    return Revised(record, run.events, aw.slice("fords").prose)
