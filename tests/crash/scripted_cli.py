"""``esdh-agent`` in a child process, with a scripted model in place of the cassette session.

The kill tests SIGKILL a real process at a node of the graph and resume it in another; the
model's answers are not what they test. Scripting them (an empty plan, every LLM critic
passing) keeps the tests independent of recorded cassettes, which go stale whenever a prompt
changes. Usage: ``python -m tests.crash.scripted_cli ARGS...`` with ``ESDH_WORKSPACE`` set.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.cli.app import main
from esdh_agent.graphs.slice_generation import runner
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.workspace import Workspace

PASS = {"score": 0.9, "summary": "looks right", "findings": []}


def script_for(ws: Workspace) -> dict[str, list[Any]]:
    """An empty plan from the planner; every LLM critic of the workspace passes."""
    critics = load_agent_workspace(ws).critics
    return {"planner": [{}], **{f"critic:{c}": [PASS] for c in critics}}


def install(ws: Workspace) -> None:
    """Every run of this process answers from the script (no cassette, no network)."""
    script = script_for(ws)

    @contextlib.contextmanager
    def scripted_session(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield SimpleNamespace(client=ScriptedLLM(script), budget=SimpleNamespace(calls=0, tokens=0))

    runner.llm_session = scripted_session  # type: ignore[attr-defined]


if __name__ == "__main__":
    install(Workspace.open(Path(os.environ["ESDH_WORKSPACE"])))
    sys.exit(main(sys.argv[1:]))
