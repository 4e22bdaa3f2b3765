"""The evals library without the CLI: sessions, templates at a revision, critic checks,
recording targets, pruning, and syncing generated files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.models import Judge
from esdh_agent.errors import InputError
from esdh_agent.evals.cassettes import prune_orphans, recording_targets
from esdh_agent.evals.evaluate import (
    all_critics,
    below_accuracy,
    needs_recording,
    require_critic,
)
from esdh_agent.evals.rerun import rerun_critic
from esdh_agent.evals.session import side_job_client
from esdh_agent.evals.templates import MissingAtRevision, template_at
from esdh_agent.workspace import Workspace
from esdh_agent.workspace.sync import stale_files, write_files


def test_a_side_job_writes_its_transcript_under_data_evals(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    with side_job_client(
        workspace,
        aw,
        mode="replay",
        base_url=None,
        label="eval-x",
        cassette_path=None,
        record_command="esdh-agent critic eval x --llm record",
    ) as client:
        path = client.transcript.path
    assert path.parent.parent == workspace.paths.evals
    assert path.parent.name.endswith("-eval-x") and path.name == "transcript.jsonl"


def _commit_all(root: Path) -> None:
    who = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    for args in (["init", "-q"], [*who, "add", "."], [*who, "commit", "-qm", "start"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_template_at_a_revision(workspace: Workspace, tmp_path: Path) -> None:
    _commit_all(workspace.root)
    cassette = workspace.paths.eval_cassette("plan-fidelity")
    recorded = cassette.read_bytes()
    cassette.write_text("interactions: []\n")
    folder = tmp_path / "then"
    folder.mkdir()
    template, path = template_at(workspace, "HEAD", "plan-fidelity", folder)
    assert template.meta.id == "plan-fidelity"
    assert path.parent == folder and path.read_bytes() == recorded
    with pytest.raises(InputError, match="git revision 'no-such-rev' does not exist"):
        template_at(workspace, "no-such-rev", "plan-fidelity", folder)
    # A critic added since: its template did not exist then, in one line of our own.
    (workspace.root / "critics" / "new-critic.md").write_text("---\n")
    with pytest.raises(MissingAtRevision) as missing:
        template_at(workspace, "HEAD", "new-critic", folder)
    assert missing.value.one_line() == "critics/new-critic.md did not exist at HEAD"
    # A template whose eval cassette did not exist then: replaying it finds nothing recorded.
    who = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    for args in (["rm", "-q", "--cached", str(cassette)], [*who, "commit", "-qm", "no cassette"]):
        subprocess.run(["git", "-C", str(workspace.root), *args], check=True)
    template, path = template_at(workspace, "HEAD", "plan-fidelity", folder)
    assert template.meta.id == "plan-fidelity" and not path.exists()


def test_critics_are_checked_and_gated(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    names = all_critics(aw)
    assert names[0] == "rules" and "plan-fidelity" in names
    for name in names:
        require_critic(aw, name)
    with pytest.raises(InputError, match="unknown critic 'nope'"):
        require_critic(aw, "nope")
    rows = [
        {"now": {"critic": "a", "accuracy": 0.5}},
        {"now": {"critic": "b", "accuracy": 1.0}},
        {"now": {"critic": "c", "accuracy": None, "needs_recording": ["x"]}},
    ]
    assert below_accuracy(rows, 0.9) == ["a"]
    assert below_accuracy(rows, None) == []
    assert needs_recording(rows) == ["c"]


def test_rerun_refuses_replay_without_a_recording(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    case = Judge(slice_prompt="", pinned={}, plan={}, validation={}, profile={})
    with pytest.raises(InputError, match="made without the agent"):
        rerun_critic(workspace, aw, "plan-fidelity", case, None, mode="replay", base_url=None)


def test_recording_targets_default_to_everything_not_narrowed(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)

    def targets(slices: list[str] | None, evals: list[str] | None) -> tuple[list[str], list[str]]:
        return recording_targets(workspace, aw, slices=slices, evals=evals, stale_only=False)

    assert targets(None, None) == (list(aw.index.slices), list(aw.index.critics.llm))
    assert targets(["baseline"], None) == (["baseline"], [])
    assert targets(None, ["plan-fidelity"]) == ([], ["plan-fidelity"])


def test_prune_drops_only_the_orphans(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"interactions": [{"n": 0}, {"n": 1}, {"n": 2}], "v": 1}))
    assert prune_orphans(path, []) == 0
    assert prune_orphans(path, [0, 2]) == 2
    assert yaml.safe_load(path.read_text()) == {"interactions": [{"n": 1}], "v": 1}


def test_generated_files_are_written_then_current(tmp_path: Path) -> None:
    files = {tmp_path / "a" / "one.yaml": "one\n", tmp_path / "two.yaml": "two\n"}
    assert sorted(stale_files(files)) == sorted(files)
    assert sorted(write_files(files)) == sorted(files)
    assert stale_files(files) == []
    assert write_files(files) == []
    (tmp_path / "two.yaml").write_text("changed\n")
    assert stale_files(files) == [tmp_path / "two.yaml"]
