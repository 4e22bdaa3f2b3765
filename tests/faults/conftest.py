"""Fixtures for fault injection: a workspace tuned for fast failure, and no real backoff.

The workspace is the ``workspace`` fixture (a fresh ``esdh-agent init``) with:

* ``mop/index.yaml``: a 0.2 s client timeout, 3 retries, 2 re-asks, and two slices (unlocked,
  nothing pinned but the dataset version) so that whatever the planner proposes reaches the
  policy gate: ``fault-drill``, whose words decide the count, states, line and vehicles (the
  planner's values for those are overruled by the request's), and ``fault-vague``, whose
  words decide nothing (so the gate's clamps of a planner's proposal show);
* ``governance/policy.yaml``: a low approval threshold (300 persons) and WA not allowed, so
  the gate's clamps are visible and every run stays small and fast.

Before the planner, the ``ground`` node asks the model about each aspect of the request the
grammar did not read (``extract:<aspect>`` nodes): :func:`extraction_nodes` derives which,
from the code, so no test pastes a count of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.grounding import ground
from esdh_agent.llm import client as client_module
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace

THRESHOLD = 300
ALLOWED_STATES = ["CA", "AZ", "NV", "OR"]
TIMEOUT = 0.2
MAX_RETRIES = 3
MAX_REASKS = 2
GOOD_PLAN = {"person_count": 120, "seed": 7, "state_mix": {"CA": 0.5, "AZ": 0.5}}
PASSING = {"score": 0.95, "summary": "matches the request", "findings": []}
SECRET = "sk-" + "fault-drill-secret-key-0123456789"  # fake; built so scanners do not flag it
DRILL = """---
id: fault-drill
version: 1.0.0
owner: qa-reliability
dataset_version: v0.1
pinned:
  dataset_version: v0.1
---
A small personal-lines book for a fault drill: about 120 persons in California and Arizona,
one vehicle each, default mixes otherwise.
"""
DRILL_PERSONS = 120  # "about 120 persons": the request's words decide the count
VAGUE = """---
id: fault-vague
version: 1.0.0
owner: qa-reliability
dataset_version: v0.1
pinned:
  dataset_version: v0.1
---
A small book for a fault drill; plan it as you see fit.
"""
SLICES = {"fault-drill": DRILL, "fault-vague": VAGUE}


def update_index(ws: Workspace, **changes: Any) -> None:
    """Set top-level keys of ``ws``'s ``mop/index.yaml`` (e.g. ``budgets``)."""
    index_path = ws.root / "mop" / "index.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    index.update(changes)
    index_path.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")


def tune_workspace(ws: Workspace, **index_changes: Any) -> None:
    """Apply the fault settings (and ``index_changes``) to ``ws``."""
    index_path = ws.root / "mop" / "index.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    index["slices"] = [*index["slices"], *SLICES]
    index["llm"].update(timeout_seconds=TIMEOUT, max_retries=MAX_RETRIES)
    index["max_reasks"] = MAX_REASKS
    index.update(index_changes)
    index_path.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
    for slice_id, text in SLICES.items():
        (ws.root / "prompts" / f"{slice_id}.md").write_text(text, encoding="utf-8")
    policy = yaml.safe_load(ws.policy_path.read_text(encoding="utf-8"))
    policy["allowed_states"] = ALLOWED_STATES
    policy["approval"]["above_persons"] = THRESHOLD
    ws.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")


@pytest.fixture
def fault_ws(workspace: Workspace) -> Workspace:
    tune_workspace(workspace)
    return workspace


def extraction_nodes(ws: Workspace, slice_id: str) -> list[str]:
    """The ``extract:<aspect>`` questions the ``ground`` node asks about ``slice_id``, in
    order, when the model reads nothing (as the fault server's default extraction answer
    does): derived by grounding the slice with a scripted model that answers nothing."""
    aw = load_agent_workspace(ws)
    llm = ScriptedLLM({})
    ground(aw, llm, aw.slice(slice_id))
    nodes = [str(c["node"]) for c in llm.calls]
    assert all(n.startswith("extract:") for n in nodes), nodes
    return nodes


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits are recorded instead of slept (every test here stays fast)."""
    waited: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", waited.append)
    return waited


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live runs send this key; it must never reach a transcript or a run record."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("ESDH_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("ESDH_LLM_MODE", raising=False)


@dataclass(frozen=True)
class RunFiles:
    """What one run left on disk, for assertions."""

    ws: Workspace
    run_id: str

    @property
    def run_dir(self) -> Path:
        return self.ws.data / "runs" / self.run_id

    def events(self) -> list[dict[str, Any]]:
        return read_transcript(self.run_dir / "transcript.jsonl")

    def of(self, kind: str, node_prefix: str = "") -> list[dict[str, Any]]:
        return [e for e in self.events() if e["type"] == kind and e["node"].startswith(node_prefix)]

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "run.json").read_text("utf-8"))
        return data

    def snapshots(self) -> list[str]:
        root = self.ws.data / "snapshots"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []

    def staging_leftovers(self) -> list[str]:
        root = self.ws.data / ".staging"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []

    def bundles(self) -> list[Path]:
        """Every staged bundle directory anywhere under data/."""
        return sorted(p for p in self.ws.data.rglob("bundle-r*") if p.is_dir())

    def manifest(self, name: str) -> dict[str, Any]:
        path = self.ws.data / "snapshots" / name / "manifest.json"
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return data
