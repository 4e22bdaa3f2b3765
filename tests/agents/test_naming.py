"""A slice whose outcome changes under an unchanged version says how to fix it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from esdh_agent.errors import SnapshotConflict
from esdh_agent.workspace import Workspace

from tests.agents.conftest import FakeRun, write_slice


def _bump(ws: Workspace, slice_id: str, version: str) -> None:
    path = ws.root / "prompts" / f"{slice_id}.md"
    _, front, prose = path.read_text(encoding="utf-8").split("---\n", 2)
    meta = yaml.safe_load(front)
    meta["version"] = version
    path.write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{prose}", encoding="utf-8")


def test_a_changed_outcome_under_the_same_version_names_the_fix(
    workspace: Workspace, run_fake: Callable[..., FakeRun]
) -> None:
    write_slice(workspace, "nevada", "40 persons, all in Nevada.")
    first = run_fake("nevada", {}, "run-1")
    assert first.state["outcome"] == "committed"
    assert first.state["snapshot"]["name"] == "nevada-v0.1"
    # The request is read differently now (here: its words changed, its version did not).
    write_slice(workspace, "nevada", "60 persons, all in Nevada.")
    with pytest.raises(SnapshotConflict) as caught:
        run_fake("nevada", {}, "run-2")
    assert "version 1.0.0 now commits other data" in caught.value.message
    assert "bump `version:` in prompts/nevada.md (e.g. to 1.0.1)" in (caught.value.hint or "")
    # With the version bumped, the new outcome commits beside the old snapshot.
    _bump(workspace, "nevada", "1.0.1")
    bumped = run_fake("nevada", {}, "run-3")
    assert bumped.state["outcome"] == "committed"
    assert bumped.state["snapshot"]["name"] == "nevada-v0.1-s1.0.1"
    assert sorted(p.name for p in (workspace.data / "snapshots").iterdir()) == [
        "nevada-v0.1",
        "nevada-v0.1-s1.0.1",
    ]
