"""Hostile and careless slice prompts, run through the graph with a scripted hostile model.

``hostile_ws`` is a fresh workspace with the prompts of ``tests/hostile/prompts/`` installed
in its ``prompts/`` and ``mop/index.yaml`` (never in the repository's workspace), and its
policy's approval threshold lowered to 500 persons so that clamped runs stay small and fast
(the cap of 2,000,000 persons is unchanged).

``Sandbox`` records what exists around the workspace before a run, so a test can assert that
nothing appeared or changed outside it afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import policy_violations
from esdh_agent.workspace import Workspace

from tests.conftest import REPO
from tests.scripted import ScriptedRun
from tests.scripted import run_scripted as _run_scripted

PROMPTS = Path(__file__).parent / "prompts"
HOSTILE = sorted(p.stem for p in PROMPTS.glob("*.md"))
THRESHOLD = 500
LLM_CRITICS = ("plan-fidelity", "governance-privacy", "realism-coherence")
DATA_ENTRIES = {"snapshots", "runs", ".staging", ".lock", "checkpoints.sqlite"}


def install_prompts(ws: Workspace) -> None:
    """Copy the hostile prompts into ``ws`` and list them in its index; lower the threshold."""
    for path in PROMPTS.glob("*.md"):
        (ws.root / "prompts" / path.name).write_bytes(path.read_bytes())
    index_path = ws.root / "mop" / "index.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    index["slices"] = [*index["slices"], *HOSTILE]
    index_path.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
    policy = yaml.safe_load(ws.policy_path.read_text(encoding="utf-8"))
    policy["approval"]["above_persons"] = THRESHOLD
    ws.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")


@pytest.fixture
def hostile_ws(workspace: Workspace) -> Workspace:
    install_prompts(workspace)
    return workspace


# -- running the graph with a scripted model ---------------------------------------------------


def run_scripted(
    ws: Workspace, slice_id: str, script: dict[str, list[Any]], run_id: str = "run-1"
) -> ScriptedRun:
    """Run ``slice_id`` with the hostile model answering from ``script``."""
    return _run_scripted(ws, slice_id, script, run_id, provenance={"run": "hostile"})


# -- what must hold after any run ------------------------------------------------------------


def _tree(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (not under ``skip``) with its size and mtime."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in [*dirnames, *filenames]:
            path = here / name
            if skip is not None and path == skip:
                continue
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


_PYTEST_DIR = re.compile(r"pytest-(\d+|current)|garbage-.*")


@dataclass
class Sandbox:
    """What exists around a workspace, to compare after a run."""

    ws: Workspace
    outside: dict[str, Any] = field(default_factory=dict)
    governed: dict[str, str] = field(default_factory=dict)

    def take(self) -> dict[str, Any]:
        tmp = self.ws.root.parent
        return {
            "tmp": _tree(tmp, skip=self.ws.root),  # the test's own temp dir, ws excluded
            "tmp_parent": sorted(os.listdir(tmp.parent)),  # where ../../x from ws.root lands
            # pytest's own base temp dirs of other sessions come and go here; not ours.
            "tmp_grandparent": sorted(
                e for e in os.listdir(tmp.parent.parent) if not _PYTEST_DIR.fullmatch(e)
            ),
            "repo": sorted(os.listdir(REPO)),
            "cwd": sorted(os.listdir(Path.cwd())),
        }

    def governed_files(self) -> dict[str, str]:
        """Hashes of everything in the workspace but data/ and the decisions log."""
        hashes = {}
        for folder in ("prompts", "mop", "critics", "cassettes", "governance"):
            for name, digest in _digest(self.ws.root / folder).items():
                if name != "decisions.md":
                    hashes[f"{folder}/{name}"] = digest
        return hashes

    def __post_init__(self) -> None:
        self.outside = self.take()
        self.governed = self.governed_files()

    def assert_untouched(self) -> None:
        """Nothing outside the workspace changed; inside, only data/ grew."""
        assert self.take() == self.outside
        assert self.governed_files() == self.governed
        entries = {p.name for p in self.ws.data.iterdir()}
        extra = {e for e in entries if not any(e.startswith(k) for k in DATA_ENTRIES)}
        assert not extra, extra


@pytest.fixture
def sandbox(hostile_ws: Workspace) -> Sandbox:
    return Sandbox(hostile_ws)


def assert_committed_within_policy(ws: Workspace) -> list[dict[str, Any]]:
    """Every committed snapshot complies: plan, marker on every row, every critic passed."""
    policy = ws.policy()
    root = ws.data / "snapshots"
    manifests = []
    for snap in sorted(root.iterdir()) if root.is_dir() else []:
        manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
        plan = GenerationPlan.model_validate(manifest["plan"])
        assert policy_violations(policy, plan) == [], snap.name
        assert plan.person_count <= THRESHOLD  # no run here was approved
        assert plan.dataset_version in policy.approval.approved_dataset_versions
        assert snap.name == f"{manifest['provenance']['slice']}-{plan.dataset_version}"
        assert manifest["marker"] == policy.required_marker
        assert manifest["validation"]["errors"] == 0
        verdicts = manifest["provenance"]["verdicts"]
        assert {v["critic"] for v in verdicts} == {"rules", *LLM_CRITICS}
        assert all(v["passed"] for v in verdicts)
        rows = 0
        for table in snap.rglob("*.csv"):
            with table.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    assert row["synthetic_source"] == policy.required_marker, table
                    rows += 1
        assert rows == sum(e["rows"] for e in manifest["entities"].values())
        manifests.append(manifest)
    return manifests
