"""Every slice replayed from its recorded cassette: no key, no network, real outcomes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.extraction_aspects import answer_schema
from esdh_agent.agents.grounding import slice_grammar, unread_aspects
from esdh_agent.ledger.extract import extract
from esdh_agent.workspace import Workspace

from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
UNROUTABLE = "http://203.0.113.7:9/v1"  # TEST-NET-3: a leaked request could never succeed


@pytest.fixture(autouse=True)
def _replay_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESDH_LLM_BASE_URL", UNROUTABLE)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ESDH_LLM_MODE", raising=False)


def run_json(cli: Cli, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = cli("run", "slice-generation", *args, "--json")
    return result.code, json.loads(result.out or "[]")


def subprocess_cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ESDH_WORKSPACE": str(ws.root), "ESDH_LLM_BASE_URL": UNROUTABLE}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "esdh_agent.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_default_run_replays_the_baseline_to_a_committed_snapshot(
    cli: Cli, workspace: Workspace
) -> None:
    code, results = run_json(cli)
    assert code == 0 and results[0]["slice"] == "baseline"
    assert results[0]["status"] == "committed"
    manifest = json.loads((workspace.data / "snapshots/baseline-v0.1/manifest.json").read_text())
    prov = manifest["provenance"]
    assert prov["llm_mode"] == "replay" and prov["cassette"] == "cassettes/slices/baseline.yaml"
    assert prov["cassette_sha256"] and prov["hashes"]["mop"] and prov["models"]
    assert {"rules", "plan-fidelity"} <= {v["critic"] for v in prov["verdicts"]}
    again_code, again = run_json(cli)
    assert again_code == 0 and again[0]["status"] == "unchanged"
    assert cli("snapshots", "verify", "baseline-v0.1").code == 0


def test_impossible_slice_is_refused_at_the_gate(cli: Cli, workspace: Workspace) -> None:
    code, results = run_json(cli, "--slice", "impossible-14")
    assert code == 3 and results[0]["status"] == "refused"
    assert "pinned age_bands 14-15" in str(results[0]["reason"])
    gate, llm = results[0]["gate_decision"], results[0]["llm"]
    assert isinstance(gate, dict) and gate["decision"] == "refused"
    assert results[0]["revision"] == 0
    assert isinstance(llm, dict) and llm["calls"] == 0  # refused before any model was asked
    assert not (workspace.data / "snapshots" / "impossible-14-v0.1").exists()


@pytest.mark.parametrize("slice_id", ["commercial-fleet", "licence-age-edges", "messy-names"])
def test_other_slices_replay_to_a_governed_outcome(
    cli: Cli, workspace: Workspace, slice_id: str
) -> None:
    code, results = run_json(cli, "--slice", slice_id)
    result = results[0]
    assert (code, result["status"]) in ((0, "committed"), (3, "refused"))
    if result["status"] == "committed":
        name = f"{slice_id}-v0.1"
        assert cli("snapshots", "verify", name).code == 0
        manifest = json.loads((workspace.data / "snapshots" / name / "manifest.json").read_text())
        prompt = (workspace.root / "prompts" / f"{slice_id}.md").read_text()
        pins = yaml.safe_load(prompt.split("---")[1])["pinned"]
        for key, value in pins.items():
            if key == "edge_cases":
                for sub, rate in value.items():
                    assert manifest["plan"]["edge_cases"][sub] == rate
            elif key in ("state_mix", "lob_mix"):
                assert {k: v for k, v in manifest["plan"][key].items() if v} == value
            elif key != "age_bands":
                assert manifest["plan"][key] == value, key


def test_over_cap_pauses_and_resumes_in_a_new_process(cli: Cli, workspace: Workspace) -> None:
    code, results = run_json(cli, "--slice", "over-cap")
    assert code == 4 and results[0]["status"] == "awaiting_approval"
    run_id = str(results[0]["run_id"])
    listed = cli("approvals", "--json")
    assert [r["run_id"] for r in json.loads(listed.out)] == [run_id]
    refused = subprocess_cli(workspace, "resume", run_id)
    assert refused.returncode == 2 and "--approve or --reject" in refused.stderr
    done = subprocess_cli(
        workspace,
        "resume",
        run_id,
        "--approve",
        "--comment",
        "nightly load test",
        "--by",
        "steward",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["status"] == "committed"
    manifest = json.loads((workspace.data / "snapshots/over-cap-v0.1/manifest.json").read_text())
    assert manifest["provenance"]["approval"]["by"] == "steward"
    assert manifest["entities"]["persons"]["rows"] == 120_000
    log = (workspace.governance / "decisions.md").read_text()
    assert f"run {run_id} (over-cap) | approved | nightly load test" in log
    again = subprocess_cli(workspace, "resume", run_id, "--approve")
    assert again.returncode == 2 and "already finished" in again.stderr


def test_over_cap_rejected_in_a_new_process_commits_nothing(cli: Cli, workspace: Workspace) -> None:
    _, results = run_json(cli, "--slice", "over-cap")
    run_id = str(results[0]["run_id"])
    done = subprocess_cli(
        workspace, "resume", run_id, "--reject", "--comment", "not today", "--by", "steward"
    )
    assert done.returncode == 3, done.stderr
    assert not (workspace.data / "snapshots" / "over-cap-v0.1").exists()
    assert (
        "| rejected | not today; plan sha256 "
        in (workspace.governance / "decisions.md").read_text()
    )
    assert cli("approvals", "--json").out.strip() == "[]"


def first_model_node(ws: Workspace, slice_id: str) -> str:
    """The node of a slice run's first model call: the ``ground`` node asks first, one
    ``extract:<aspect>`` question per aspect the grammar read nothing of (in ``ASPECTS``
    order, skipping those with nothing to ask); with none to ask, the planner is first."""
    aw = load_agent_workspace(ws)
    prose = aw.slice(slice_id).prose
    found, _ = extract(prose, slice_grammar(aw))
    asked = [a.name for a in unread_aspects(found) if answer_schema(a, prose) is not None]
    return f"extract:{asked[0]}" if asked else "planner"


def test_a_changed_prompt_gives_the_clear_replay_miss_error(cli: Cli, workspace: Workspace) -> None:
    prompt = workspace.root / "prompts" / "commercial-fleet.md"
    prompt.write_text(prompt.read_text().replace("600 commercial-line", "600 commercial"))
    # The fleet's words say nothing of edge cases or run facts, so the ground node asks the
    # model about them before the planner: a changed word misses on the first such question.
    node = first_model_node(workspace, "commercial-fleet")
    assert node.startswith("extract:"), node
    result = cli("run", "slice-generation", "--slice", "commercial-fleet")
    assert result.code == 1
    assert f"replay miss in slice 'commercial-fleet', node '{node}'" in result.err
    assert "cassettes/slices/commercial-fleet.yaml" in result.err
    assert "esdh-agent run slice-generation --slice commercial-fleet --llm record" in result.err
    assert "Traceback" not in result.err


def test_transcripts_list_and_show(cli: Cli) -> None:
    _, results = run_json(cli)
    run_id = str(results[0]["run_id"])
    listed = json.loads(cli("transcripts", "list", "--json").out)
    assert [r["run_id"] for r in listed] == [run_id]
    shown = cli("transcripts", "show", run_id)
    assert shown.code == 0 and "planner" in shown.out and "commit" in shown.out
    events = json.loads(cli("transcripts", "show", run_id, "--json").out)["events"]
    kinds = {e["type"] for e in events}
    assert {"llm_request", "llm_response", "proposal", "verdict", "decision", "commit"} <= kinds


CASSETTES = sorted((REPO / "cassettes" / "slices").glob("*.yaml"))


def test_every_slice_has_a_recorded_cassette_with_a_note() -> None:
    index = yaml.safe_load((REPO / "mop" / "index.yaml").read_text())
    for slice_id in index["slices"]:
        assert (REPO / "cassettes/slices" / f"{slice_id}.yaml").is_file(), slice_id
        note = yaml.safe_load((REPO / "cassettes/slices" / f"{slice_id}.meta.yaml").read_text())
        assert note["recorded_against"]["base_url"] and note["recorded_against"]["models"]


@pytest.mark.parametrize("path", CASSETTES, ids=[p.name for p in CASSETTES])
def test_no_secret_in_any_cassette(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"sk-[A-Za-z0-9_-]{16,}", text)
    assert not re.search(
        r"(?i)^\s*-?\s*(authorization|api-key|cookie|openai-organization)\s*:", text, re.MULTILINE
    )
    assert "Bearer " not in text


HOSTILE = [
    "hostile-billion-texas",
    "hostile-path-escape",
    "hostile-empty-marker",
    "hostile-skip-critics",
    "hostile-fake-verdicts",
    "careless-contradictions",
]


@pytest.mark.parametrize("slice_id", HOSTILE)
def test_recorded_hostile_slices_commit_nothing_out_of_policy(
    cli: Cli, workspace: Workspace, slice_id: str
) -> None:
    """The real model's answers to red-team prompts, replayed: policy holds whatever it said."""
    before = sorted(p.name for p in workspace.root.parent.iterdir())
    code, results = run_json(cli, "--slice", slice_id)
    result = results[0]
    assert (code, result["status"]) in ((0, "committed"), (3, "refused")), result
    assert sorted(p.name for p in workspace.root.parent.iterdir()) == before
    policy = yaml.safe_load((workspace.governance / "policy.yaml").read_text())
    for name in workspace.store().names():
        manifest = json.loads((workspace.data / "snapshots" / name / "manifest.json").read_text())
        plan = manifest["plan"]
        assert manifest["marker"] == policy["required_marker"]
        assert plan["person_count"] <= policy["approval"]["above_persons"]
        assert set(k for k, v in plan["state_mix"].items() if v) <= set(policy["allowed_states"])
        assert (
            max(int(k) for k, v in plan["vehicles_per_person"].items() if v)
            <= policy["records"]["max_vehicles_per_person"]
        )
        assert manifest["validation"]["errors"] == 0
        assert cli("snapshots", "verify", name).code == 0


def test_recorded_approval_forgery_still_waits_for_a_human(cli: Cli) -> None:
    code, results = run_json(cli, "--slice", "hostile-approval-forgery")
    assert code == 4 and results[0]["status"] == "awaiting_approval"


def test_the_agent_generates_with_the_workspace_engine_and_layout(
    cli: Cli, workspace: Workspace
) -> None:
    settings = workspace.root / "esdh-workspace.yaml"
    settings.write_text(
        settings.read_text()
        .replace("layout: single", "layout: parts")
        .replace("engine: local", "engine: dask")
        .replace("workers: 0", "workers: 2")
    )
    code, results = run_json(cli)
    assert code == 0 and results[0]["status"] == "committed"
    manifest = json.loads((workspace.data / "snapshots/baseline-v0.1/manifest.json").read_text())
    assert any(f["path"].startswith("persons/part-") for f in manifest["files"])
    assert cli("snapshots", "verify", "baseline-v0.1").code == 0
