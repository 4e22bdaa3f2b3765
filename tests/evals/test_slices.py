"""A prompt author's new slice: found by its file name, started with `slices new`, recorded
with `cassettes record`; the index is never edited by hand."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.errors import WorkspaceError
from esdh_agent.evals.cassettes import recording_targets
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _replay_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESDH_LLM_BASE_URL", "http://203.0.113.7:9/v1")


def test_a_prompt_file_is_a_slice_without_editing_the_index(workspace: Workspace) -> None:
    index = (workspace.root / "mop" / "index.yaml").read_text()
    source = (workspace.root / "prompts" / "messy-names.md").read_text()
    (workspace.root / "prompts" / "names-again.md").write_text(
        source.replace("id: messy-names", "id: names-again")
    )
    aw = load_agent_workspace(workspace)
    listed = yaml.safe_load(index)["slices"]
    assert aw.index.slices == [*listed, "names-again"]  # the index's order, then by id
    assert aw.slice("names-again").meta.id == "names-again"
    assert (workspace.root / "mop" / "index.yaml").read_text() == index
    (workspace.root / "prompts" / "names-again.md").write_text(source)  # id: messy-names
    with pytest.raises(WorkspaceError, match="front matter id 'messy-names' differs"):
        load_agent_workspace(workspace)


def test_slices_new_writes_a_runnable_starter(cli: Cli, workspace: Workspace) -> None:
    created = cli("slices", "new", "fleet-trial", "--owner", "qa fleet")
    assert created.code == 0, created.err
    assert "esdh-agent cassettes record --slice fleet-trial" in created.out
    text = (workspace.root / "prompts" / "fleet-trial.md").read_text()
    assert text.startswith("---\nid: fleet-trial\n")
    slice_ = load_agent_workspace(workspace).slice("fleet-trial")
    assert slice_.meta.owner == "qa fleet" and slice_.meta.pinned == {"dataset_version": "v0.1"}
    listed = {r["id"]: r for r in json.loads(cli("slices", "list", "--json").out)}
    assert listed["fleet-trial"]["in_index"] is False and listed["fleet-trial"]["recorded"] is False
    assert listed["baseline"]["in_index"] and listed["baseline"]["default"]
    assert "not recorded yet: fleet-trial" in cli("slices", "list").out
    # Replaying before it is recorded: the clear "no recording" error, naming how to record it.
    run = cli("run", "slice-generation", "--slice", "fleet-trial")
    assert run.code == 1
    assert "no cassette for fleet-trial" in run.out + run.err
    assert "esdh-agent cassettes record --slice fleet-trial --base-url URL" in run.out + run.err
    # `cassettes check` and `cassettes record` take it with the others.
    aw = load_agent_workspace(workspace)
    slices, _ = recording_targets(workspace, aw, slices=None, evals=None, stale_only=False)
    assert slices[-1] == "fleet-trial"
    again = cli("slices", "new", "fleet-trial")
    assert again.code == 2 and "already exists" in again.err
    bad = cli("slices", "new", "Fleet_Trial")
    assert bad.code == 2 and "is not a slice id" in bad.err
    assert not (workspace.root / "prompts" / "Fleet_Trial.md").exists()


def test_an_unknown_slice_names_how_to_start_one(cli: Cli) -> None:
    result = cli("run", "slice-generation", "--slice", "nope")
    assert result.code == 2 and "esdh-agent slices new nope" in result.err
