"""Kill the process (SIGKILL) at every step of a commit and at every node of the graph.

Afterwards: every visible snapshot verifies, nothing partial is visible, the next run cleans
the staging leftovers (or a resumed run continues from its last checkpoint) and ends with the
complete snapshot. Agent runs answer from a scripted model (``tests.crash.scripted_cli``), so
they do not depend on recorded cassettes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from esdh_agent.snapshots.operations import verify
from esdh_agent.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
UNROUTABLE = "http://203.0.113.7:9/v1"
COMMIT_POINTS = [
    "write_data",
    "before_manifest",
    "before_fsync",
    "before_rename",
    "after_rename",
    "after_dir_fsync",
]
NODE_POINTS = [
    "node:ground",
    "node:planner",
    "node:policy_gate",
    "node:generate",
    "node:validate",
    "node:critic",
    "node:decide",
    "node:commit",
]


def esdh(
    ws: Workspace, *args: str, crash: str | None = None, scripted: bool = False
) -> subprocess.CompletedProcess[str]:
    """``esdh-agent ARGS`` in a child process; ``scripted``: the model answers from a script."""
    env = {**os.environ, "ESDH_WORKSPACE": str(ws.root), "ESDH_LLM_BASE_URL": UNROUTABLE}
    env.pop("ESDH_CRASH_AT", None)
    env.pop("OPENAI_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if crash:
        env["ESDH_CRASH_AT"] = crash
    module = "tests.crash.scripted_cli" if scripted else "esdh_agent.cli.app"
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def agent(ws: Workspace, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    """An agent command (run, resume) with the scripted model."""
    return esdh(ws, *args, crash=crash, scripted=True)


def visible_snapshots_verify(ws: Workspace) -> list[str]:
    store = ws.store()
    names = store.names()
    for name in names:
        assert verify(store, name).ok, name
    root = ws.data / "snapshots"
    # Nothing partial: every directory in snapshots/ is a complete, verified snapshot.
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == names
    return names


def staging(ws: Workspace) -> list[str]:
    folder = ws.data / ".staging"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("point", COMMIT_POINTS)
def test_generate_killed_at_each_commit_step(workspace: Workspace, point: str) -> None:
    args = ("generate", "--persons", "300", "--name", "killed", "--format", "csv,parquet")
    killed = esdh(workspace, *args, crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    names = visible_snapshots_verify(workspace)
    committed = point in ("after_rename", "after_dir_fsync")
    assert names == (["killed"] if committed else [])
    again = esdh(workspace, *args)
    assert again.returncode == 0, again.stderr
    assert ("Unchanged" if committed else "Committed") in again.stdout
    assert staging(workspace) == []  # the dead process's staging area was cleaned
    assert visible_snapshots_verify(workspace) == ["killed"]


def run_record(ws: Workspace) -> dict[str, object]:
    (run_dir,) = list((ws.data / "runs").iterdir())
    data: dict[str, object] = json.loads((run_dir / "run.json").read_text())
    return data


@pytest.mark.parametrize("point", [*NODE_POINTS, "before_rename", "after_rename"])
def test_agent_run_killed_at_each_node_resumes(workspace: Workspace, point: str) -> None:
    killed = agent(workspace, "run", "slice-generation", crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    record = run_record(workspace)
    assert record["status"] == "running"
    visible_snapshots_verify(workspace)
    note = esdh(workspace, "approvals")
    assert note.returncode == 0
    listed = agent(workspace, "run", "slice-generation", "--slice", "impossible-14", "--json")
    assert f"run {record['run_id']} (baseline) was interrupted" in listed.stderr
    resumed = agent(workspace, "resume", str(record["run_id"]), "--json")
    assert resumed.returncode == 0, resumed.stderr
    status = json.loads(resumed.stdout)[0]["status"]
    assert status in ("committed", "unchanged")
    assert "baseline-v0.1" in visible_snapshots_verify(workspace)


def test_paused_run_killed_while_resuming_resumes_again(workspace: Workspace) -> None:
    paused = agent(workspace, "run", "slice-generation", "--slice", "over-cap", "--json")
    assert paused.returncode == 4, paused.stderr
    run_id = json.loads(paused.stdout)[0]["run_id"]
    killed = agent(workspace, "resume", run_id, "--approve", crash="node:generate")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = agent(workspace, "resume", run_id, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["status"] == "committed"
    visible_snapshots_verify(workspace)


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from esdh_agent.cli.app import main
    from esdh_agent.engines.writer import BlockWriter

    real_write = BlockWriter._write
    calls = {"n": 0}

    def write(self: object, name: str, data: object) -> None:
        calls["n"] += 1
        if calls["n"] > 4:  # the headers fit, the data does not
            raise OSError(errno.ENOSPC, "No space left on device", name)
        real_write(self, name, data)  # type: ignore[arg-type]

    monkeypatch.setattr(BlockWriter, "_write", write)
    os.chdir(workspace.root)
    code = main(["generate", "--persons", "2000", "--name", "full"])
    err = capsys.readouterr().err
    assert code == 1
    assert "No space left on device" in err and "nothing was committed" in err
    assert "Traceback" not in err
    assert staging(workspace) == [] and workspace.store().names() == []


def test_a_small_filesystem_fills_up_cleanly(tmp_path: Path) -> None:
    from esdh_agent.workspace import init_workspace

    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("no permission to mount a small test filesystem here")
    try:
        ws = Workspace.open(init_workspace(mount / "ws"))
        result = esdh(ws, "generate", "--persons", "60000", "--name", "big")
        assert result.returncode == 1
        assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
        assert ws.store().names() == [] and staging(ws) == []
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
