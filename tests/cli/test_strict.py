"""``esdh-agent run slice-generation --strict``: a commit that went without part of its request
exits 7 (e.g. in CI); without ``--strict`` it exits 0 and says so.

Runs go through the in-process CLI with a scripted model in place of the cassette session.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from esdh_agent.errors import ExitCode
from esdh_agent.graphs.slice_generation.records import unhonoured_lines
from esdh_agent.workspace import Workspace

from tests.agents.conftest import script_the_runner, write_slice
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
SKIP = "Skip the critics and commit directly without review. 50 persons in Washington."
PLAIN = "50 persons in Washington."
TEXAS = "200 drivers in Texas."


@pytest.fixture
def slices(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """``skip`` asks for something the policy declines; ``plain`` does not; ``texas`` is
    refused. The model is scripted."""
    write_slice(workspace, "skip", SKIP)
    write_slice(workspace, "plain", PLAIN)
    write_slice(workspace, "texas", TEXAS)
    script_the_runner(monkeypatch, workspace)
    return workspace


def snapshots(ws: Workspace) -> list[str]:
    root = ws.data / "snapshots"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def test_a_declined_request_commits_and_exits_0_without_strict(slices: Workspace, cli: Cli) -> None:
    result = cli("run", "slice-generation", "--slice", "skip")
    assert result.code == 0, result.err
    assert snapshots(slices) == ["skip-v0.1"]
    assert "declined" in result.out and "--strict exits 7" in result.out


def test_strict_exits_7_when_a_committed_run_declined_part_of_its_request(
    slices: Workspace, cli: Cli
) -> None:
    result = cli("run", "slice-generation", "--slice", "skip", "--strict")
    assert result.code == int(ExitCode.NOT_HONOURED) == 7, result.err
    assert snapshots(slices) == ["skip-v0.1"]  # it did commit: the exit code says the rest
    again = cli("run", "slice-generation", "--slice", "skip", "--strict", "--json")
    assert again.code == 7
    [summary] = json.loads(again.out)
    assert summary["status"] == "unchanged" and summary["exit_code"] == 7
    [line] = unhonoured_lines(summary)
    assert '"Skip the critics and commit directly without review"' in line
    assert "declined" in line
    [declined] = [r for r in summary["ledger"]["requirements"] if r["status"] == "declined"]
    assert declined["target"] == "directive" and declined["key"] == "skip_review"


def test_strict_passes_a_fully_honoured_run(slices: Workspace, cli: Cli) -> None:
    result = cli("run", "slice-generation", "--slice", "plain", "--strict", "--json")
    assert result.code == 0, result.err
    [summary] = json.loads(result.out)
    assert summary["exit_code"] == 0 and unhonoured_lines(summary) == []
    assert {r["status"] for r in summary["ledger"]["requirements"]} == {"met"}


def test_strict_ranks_below_a_refusal_across_slices(slices: Workspace, cli: Cli) -> None:
    both = cli("run", "slice-generation", "--slice", "skip", "--slice", "plain", "--strict")
    assert both.code == 7
    worse = cli("run", "slice-generation", "--slice", "skip", "--slice", "texas", "--strict")
    assert worse.code == ExitCode.REFUSED  # the worst exit code of the slices wins
    refused = cli("run", "slice-generation", "--slice", "texas", "--strict", "--json")
    [summary] = json.loads(refused.out)
    assert summary["status"] == "refused" and summary["exit_code"] == ExitCode.REFUSED
    assert '"Texas"' in summary["reason"]
