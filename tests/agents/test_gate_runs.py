"""The gate across runs: what paused, refused and failed runs record, and approval reuse.

Runs go through ``runner.run_slice`` / ``resume_run`` (run.json, the decisions log, the CLI
summary) with the scripted fake model in place of the cassette session. The workspace gets a
small ``small-cap`` slice (150 persons pinned) and an approval threshold of 100, so a paused
run is quick to approve and commit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.errors import ReplayMiss
from esdh_agent.graphs.slice_generation import runner
from esdh_agent.graphs.slice_generation.records import earlier_approval, write_run
from esdh_agent.graphs.slice_generation.runner import read_run, resume_run, run_slice
from esdh_agent.llm.fake import ScriptedLLM
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace

from tests.agents.conftest import PASS
from tests.conftest import CliResult

SMALL_CAP = """---
id: small-cap
version: 1.0.0
owner: qa-performance
dataset_version: v0.1
pinned:
  dataset_version: v0.1
  seed: 150
  person_count: 150
---
A quick load test: 150 persons, above this workspace's approval threshold of 100.
"""


def set_seed(ws: Workspace, seed: int) -> None:
    path = ws.root / "prompts" / "small-cap.md"
    path.write_text(SMALL_CAP.replace("seed: 150", f"seed: {seed}"), encoding="utf-8")


@pytest.fixture
def capped(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace with ``small-cap`` and a threshold of 100; the model is scripted."""
    index_path = workspace.root / "mop" / "index.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    index["slices"] = [*index["slices"], "small-cap"]
    index_path.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
    set_seed(workspace, 150)
    policy = yaml.safe_load(workspace.policy_path.read_text(encoding="utf-8"))
    policy["approval"]["above_persons"] = 100
    workspace.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    critics = load_agent_workspace(workspace).critics
    script: dict[str, list[Any]] = {"planner": [{}], **{f"critic:{c}": [PASS] for c in critics}}

    @contextlib.contextmanager
    def scripted_session(*args: Any, **kwargs: Any) -> Iterator[Any]:
        llm = ScriptedLLM(script)
        budget = SimpleNamespace(calls=0, tokens=0)
        yield SimpleNamespace(client=llm, budget=budget)

    monkeypatch.setattr(runner, "llm_session", scripted_session)
    return workspace


def gate_events(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    events = read_transcript(ws.paths.transcript(run_id))
    return [e for e in events if e["type"] == "gate"]


def decisions_log(ws: Workspace) -> str:
    return (ws.governance / "decisions.md").read_text(encoding="utf-8")


def test_a_paused_run_records_its_reasons_and_resume_command(capped: Workspace) -> None:
    paused = run_slice(capped, "small-cap")
    assert paused.status == "awaiting_approval"
    record = read_run(capped, paused.run_id)
    decision = record["gate_decision"]
    assert decision["decision"] == "paused"
    assert decision["reasons"] == ["person_count 150 is above the approval threshold of 100"]
    assert decision["resume_command"] == f"esdh-agent resume {paused.run_id} --approve|--reject"
    [event] = gate_events(capped, paused.run_id)
    assert event["resume_command"] == decision["resume_command"]
    assert event["reasons"] == decision["reasons"]
    # The paused run records its ledger as grounded (nothing generated yet to verify it on).
    ledger = record["ledger"]
    pinned = [r for r in ledger["requirements"] if r["source"] == "pinned"]
    assert {"target": "person_count", "value": 150, "status": "pending"}.items() <= next(
        r for r in pinned if r["target"] == "person_count"
    ).items()


def test_an_approval_covers_reruns_of_the_identical_plan(capped: Workspace) -> None:
    first = run_slice(capped, "small-cap")
    done = resume_run(capped, first.run_id, approve=True, by="steward", comment="load test")
    assert done.status == "committed"
    approval = read_run(capped, first.run_id)["approval"]
    assert approval["by"] == "steward" and len(approval["plan_hash"]) == 64
    assert approval["reused_from"] is None
    manifest = json.loads((capped.data / "snapshots/small-cap-v0.1/manifest.json").read_text())
    assert manifest["provenance"]["approval"]["plan_hash"] == approval["plan_hash"]
    assert f"run {first.run_id} (small-cap) | approved | load test; plan sha256 " in (
        decisions_log(capped)
    )

    again = run_slice(capped, "small-cap")
    assert again.status == "unchanged"  # no second pause: the same snapshot, already there
    [event] = gate_events(capped, again.run_id)
    assert event["decision"] == "pass"
    assert (
        event["message"] == f"approved earlier by steward at {approval['at']} (run {first.run_id})"
    )
    assert event["approved_earlier"] == {
        "run_id": first.run_id,
        "by": "steward",
        "at": approval["at"],
    }
    reused = read_run(capped, again.run_id)["approval"]
    assert reused["reused_from"]["run_id"] == first.run_id
    assert reused["plan_hash"] == approval["plan_hash"]
    log = decisions_log(capped)
    assert (
        f"| steward | run {again.run_id} (small-cap) | approval reused | approved earlier by "
        in log
    )
    assert f"(run {first.run_id}) for the identical plan sha256 {approval['plan_hash'][:12]}" in log

    third = run_slice(capped, "small-cap")  # a reuse of a reuse names the human's own run
    assert gate_events(capped, third.run_id)[0]["approved_earlier"]["run_id"] == first.run_id


def test_a_different_plan_or_policy_needs_its_own_approval(capped: Workspace) -> None:
    first = run_slice(capped, "small-cap")
    resume_run(capped, first.run_id, approve=True, by="steward")
    set_seed(capped, 151)
    assert run_slice(capped, "small-cap").status == "awaiting_approval"
    set_seed(capped, 150)
    policy = yaml.safe_load(capped.policy_path.read_text(encoding="utf-8"))
    policy["approval"]["above_persons"] = 120  # a governed change: the reason reads differently
    capped.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    assert run_slice(capped, "small-cap").status == "awaiting_approval"


def test_a_rejected_plan_is_not_reused(capped: Workspace) -> None:
    first = run_slice(capped, "small-cap")
    assert resume_run(capped, first.run_id, approve=False, by="steward").status == "rejected"
    assert run_slice(capped, "small-cap").status == "awaiting_approval"


def test_only_the_latest_human_decision_on_a_plan_counts(capped: Workspace) -> None:
    reasons = ["person_count 150 is above the approval threshold of 100"]

    def record(run_id: str, approved: bool, at: str) -> None:
        approval = {"approved": approved, "by": "steward", "comment": "", "at": at}
        approval.update(reasons=reasons, plan_hash="a" * 64, reused_from=None)
        run_dir = capped.paths.run_dir(run_id)
        run_dir.mkdir(parents=True)
        write_run(run_dir, {"run_id": run_id, "slice_id": "small-cap", "approval": approval})

    record("r1", True, "2026-01-01T00:00:00+00:00")
    found = earlier_approval(capped, "small-cap", "a" * 64, reasons, exclude="now")
    assert found is not None and found["run_id"] == "r1"
    assert earlier_approval(capped, "other-slice", "a" * 64, reasons, exclude="now") is None
    assert earlier_approval(capped, "small-cap", "b" * 64, reasons, exclude="now") is None
    assert earlier_approval(capped, "small-cap", "a" * 64, [*reasons, "new"], exclude="now") is None
    record("r2", False, "2026-02-01T00:00:00+00:00")
    assert earlier_approval(capped, "small-cap", "a" * 64, reasons, exclude="now") is None


# -- what the CLI prints -----------------------------------------------------------------------


def test_the_cli_summary_of_a_paused_run_shows_reasons_and_the_command(
    capped: Workspace, cli: Callable[..., CliResult]
) -> None:
    result = cli("run", "slice-generation", "--slice", "small-cap")
    assert result.code == 4
    run_id = json.loads(cli("approvals", "--json").out)[0]["run_id"]
    assert "waiting     person_count 150 is above the approval threshold of 100" in result.out
    assert f"next        esdh-agent resume {run_id} --approve|--reject" in result.out
    approvals = cli("approvals")
    assert f"esdh-agent resume {run_id} --approve|--reject" in approvals.out
    done = cli("resume", run_id, "--approve", "--by", "steward", "--comment", "ok")
    assert done.code == 0
    assert "approval    approved by steward at " in done.out
    again = cli("run", "slice-generation", "--slice", "small-cap")
    assert again.code == 0
    assert "approval    approved earlier by steward at " in again.out
    assert f"(run {run_id})" in again.out


def test_the_cli_summary_of_an_impossible_run_names_the_pinned_value(
    capped: Workspace, cli: Callable[..., CliResult]
) -> None:
    result = cli("run", "slice-generation", "--slice", "impossible-14")
    assert result.code == 3
    assert "refused     pinned age_bands 14-15 (share 1) ask for licensed drivers" in result.out
    assert "model use   0 calls" in result.out


def test_a_failed_runs_summary_carries_its_error_on_stdout(
    capped: Workspace, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextlib.contextmanager
    def missing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise ReplayMiss("no cassette for small-cap", hint="record it")
        yield  # pragma: no cover

    monkeypatch.setattr(runner, "llm_session", missing)
    result = cli("run", "slice-generation", "--slice", "small-cap")
    assert result.code == 1
    line = next(line for line in result.out.splitlines() if line.startswith("  error"))
    assert "no cassette for small-cap" in line
    listed = json.loads(cli("transcripts", "list", "--json").out)
    assert read_run(capped, listed[0]["run_id"])["error"].startswith("no cassette for small-cap")
