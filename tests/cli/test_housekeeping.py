"""Pruning snapshots and runs: dry run by default, dependencies and waiting runs protected."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from esdh_agent.workspace import Workspace

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _replay_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESDH_LLM_BASE_URL", "http://203.0.113.7:9/v1")


def test_snapshot_prune_is_a_dry_run_until_applied(cli: Cli, workspace: Workspace) -> None:
    for i in range(4):
        assert cli("generate", "--persons", "20", "--seed", str(i), "--name", f"s{i}").code == 0
    manifest_path = workspace.data / "snapshots/s3/manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["provenance"]["depends_on"] = ["s0"]
    manifest_path.write_text(json.dumps(manifest))
    dry = json.loads(cli("snapshots", "prune", "--keep", "1", "--json").out)
    assert dry["applied"] is False and sorted(dry["remove"]) == ["s1", "s2"]
    assert dry["protected"] == {"s0": "s3 depends on it"}
    assert workspace.store().names() == ["s0", "s1", "s2", "s3"]
    done = cli("snapshots", "prune", "--keep", "1", "--apply")
    assert done.code == 0 and "removed 2" in done.out
    assert workspace.store().names() == ["s0", "s3"]
    assert not (workspace.data / ".staging").exists() or not any(
        (workspace.data / ".staging").iterdir()
    )
    assert cli("snapshots", "prune").code == 2  # nothing said about what to prune


def test_run_prune_keeps_waiting_runs_and_drops_checkpoints(cli: Cli, workspace: Workspace) -> None:
    assert cli("run", "slice-generation").code == 0
    assert cli("run", "slice-generation", "--slice", "impossible-14").code == 3
    assert cli("run", "slice-generation", "--slice", "over-cap").code == 4
    plan = json.loads(cli("runs", "prune", "--keep", "0", "--json").out)
    assert len(plan["remove"]) == 2 and len(plan["protected"]) == 1
    assert list(plan["protected"].values()) == ["waiting for approval"]
    assert cli("runs", "prune", "--keep", "0", "--apply").code == 0
    remaining = json.loads(cli("transcripts", "list", "--json").out)
    assert [r["status"] for r in remaining] == ["awaiting_approval"]
    leftovers = json.loads(cli("runs", "prune", "--keep", "5", "--json").out)["leftovers"]
    assert not any("checkpoints of deleted run" in item for item in leftovers)
