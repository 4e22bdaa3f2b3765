"""Run the slice-generation graph in-process with a scripted fake model.

``run_fake`` drives the compiled graph directly (``tests.scripted.run_scripted``); the
helpers below put a slice of the test's own into the workspace and let the runner (run.json,
the CLI) use the scripted model instead of a cassette session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.graphs.slice_generation import runner
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.workspace import Workspace

from tests.scripted import ScriptedRun, run_scripted

PASS = {"score": 0.9, "summary": "looks right", "findings": []}


FakeRun = ScriptedRun


def full_script(ws: Workspace, script: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """``script`` over a default one: an empty plan, and every LLM critic passing."""
    critics = load_agent_workspace(ws).critics
    return {"planner": [{}], **{f"critic:{c}": [PASS] for c in critics}, **script}


@pytest.fixture
def run_fake(workspace: Workspace) -> Callable[..., FakeRun]:
    def start(slice_id: str, script: dict[str, list[Any]], run_id: str = "run-1") -> FakeRun:
        return run_scripted(workspace, slice_id, full_script(workspace, script), run_id)

    return start


def write_slice(
    ws: Workspace, slice_id: str, prose: str, pinned: dict[str, Any] | None = None
) -> None:
    """A slice of the test's own at prompts/<id>.md (any prompts/*.md is a slice)."""
    meta: dict[str, Any] = {
        "id": slice_id,
        "version": "1.0.0",
        "owner": "qa-tests",
        "dataset_version": "v0.1",
    }
    if pinned:
        meta["pinned"] = pinned
    front = yaml.safe_dump(meta, sort_keys=False)
    path = ws.root / "prompts" / f"{slice_id}.md"
    path.write_text(f"---\n{front}---\n{prose}\n", encoding="utf-8")


def set_approval_threshold(ws: Workspace, persons: int) -> None:
    """A test policy: more persons than ``persons`` need a human's approval."""
    policy = yaml.safe_load(ws.policy_path.read_text(encoding="utf-8"))
    policy["approval"]["above_persons"] = persons
    ws.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")


def script_the_runner(
    monkeypatch: pytest.MonkeyPatch, ws: Workspace, script: dict[str, list[Any]] | None = None
) -> None:
    """Runs through ``runner`` (and so the CLI) answer from ``script``, not a cassette."""
    full = full_script(ws, script or {})

    @contextlib.contextmanager
    def scripted_session(*args: Any, **kwargs: Any) -> Iterator[Any]:
        llm = ScriptedLLM(full)
        yield SimpleNamespace(client=llm, budget=SimpleNamespace(calls=0, tokens=0))

    monkeypatch.setattr(runner, "llm_session", scripted_session)
