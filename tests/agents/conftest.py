"""Run the slice-generation graph in-process with a scripted fake model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.workspace import Workspace

from tests.scripted import ScriptedRun, run_scripted

PASS = {"score": 0.9, "summary": "looks right", "findings": []}


FakeRun = ScriptedRun


@pytest.fixture
def run_fake(workspace: Workspace) -> Callable[..., FakeRun]:
    def start(slice_id: str, script: dict[str, list[Any]], run_id: str = "run-1") -> FakeRun:
        critics = load_agent_workspace(workspace).critics
        full = {"planner": [{}], **{f"critic:{c}": [PASS] for c in critics}, **script}
        return run_scripted(workspace, slice_id, full, run_id)

    return start
