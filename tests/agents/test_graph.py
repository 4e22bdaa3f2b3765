"""The graph driven by a scripted fake model: every outcome, without a model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from esdh_agent.agents.context import PLACEHOLDERS
from esdh_agent.workspace import Workspace

from tests.agents.conftest import PASS, FakeRun, write_slice
from tests.scripted import FORDS, TOO_FEW_FORDS

Runner = Callable[..., FakeRun]

HALLUCINATION = {
    "score": 0.1,
    "summary": "everything is wrong",
    "findings": [
        {
            "severity": "critical",
            "field": "make",
            "rule": "x",
            "message": "should be all Toyota",
            "check": {
                "kind": "share",
                "field": "make",
                "value": "Toyota",
                "expected": 1.0,
                "quote": "we want only Toyota cars",
            },
        }
    ],
}


def snapshots(ws: Workspace) -> list[str]:
    root = ws.data / "snapshots"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def test_baseline_commits_whatever_the_critics_imagine(
    run_fake: Runner, workspace: Workspace
) -> None:
    run = run_fake(
        "baseline",
        {
            "planner": ['{"person_count": -5, "lob_mix": {"Personal": 7}}'],  # invalid, salvaged
            "critic:plan-fidelity": [HALLUCINATION],
            "critic:realism-coherence": ["not json at all"],
        },
    )
    assert run.state["outcome"] == "committed"
    assert snapshots(workspace) == ["baseline-v0.1"]
    verdicts = {v["critic"]: v for v in run.state["verdicts"]}
    assert verdicts["plan-fidelity"]["passed"]
    assert verdicts["plan-fidelity"]["findings"][0]["status"] == "advisory"
    assert verdicts["realism-coherence"]["abstained"]
    manifest = json.loads((workspace.data / "snapshots/baseline-v0.1/manifest.json").read_text())
    prov = manifest["provenance"]
    assert prov["run_id"] == "run-1" and prov["slice"] == "baseline"
    assert {v["critic"] for v in prov["verdicts"]} == {
        "rules",
        "request",
        "plan-fidelity",
        "governance-privacy",
        "realism-coherence",
    }
    assert manifest["plan"]["person_count"] == 200 and manifest["seed"] == 20251101
    # The request critic verified the prose on the data; the manifest holds that ledger.
    assert verdicts["request"]["passed"] and not verdicts["request"]["abstained"]
    ledger = prov["request"]["ledger"]
    assert ledger["requirements"] and all(
        r["status"] == "met" for r in ledger["requirements"] if r["source"] == "pinned"
    )


def gate_events(run: FakeRun) -> list[dict[str, Any]]:
    return [e for e in run.events if e["type"] == "gate"]


def test_impossible_slice_is_refused_at_the_gate_before_any_model_call(
    run_fake: Runner, workspace: Workspace
) -> None:
    """Licensed 14-year-olds are pinned: the domain rules never allow them, so the gate
    refuses before the planner is asked and before anything is generated."""
    run = run_fake("impossible-14", {})
    assert run.state["outcome"] == "refused"
    reason = run.state["reason"]
    assert "pinned age_bands 14-15 (share 1)" in reason and "licensed ages 16-99" in reason
    assert run.llm.calls == []
    assert snapshots(workspace) == []
    assert not any(e["node"] in ("ground", "planner", "generate", "validate") for e in run.events)
    [event] = gate_events(run)
    assert event["decision"] == "refused" and event["reasons"] == [reason]
    assert run.state["gate_decision"]["decision"] == "refused"
    assert "the planner was not asked" in run.state["gate"]["notes"][-1]


def test_a_plan_that_breaks_the_domain_rules_is_refused_after_revisions(
    run_fake: Runner, workspace: Workspace
) -> None:
    """A model's (not pinned) under-age bands reach the data: the rule critic refuses."""
    under_age = {"age_bands": [{"min_age": 12, "max_age": 15, "share": 1.0}]}
    run = run_fake("messy-names", {"planner": [under_age]})
    assert run.state["outcome"] == "refused"
    assert "rules" in run.state["reason"]
    assert snapshots(workspace) == []
    planner_calls = [c for c in run.llm.calls if c["node"] == "planner"]
    assert len(planner_calls) == 3  # first plan + max_revisions (2)
    assert "REVIEWERS' FEEDBACK" in planner_calls[1]["user"]
    assert not any(p.name.startswith("bundle") for p in (workspace.data / "runs/run-1").iterdir())


def test_a_paused_run_records_the_gate_reasons_and_the_resume_command(run_fake: Runner) -> None:
    run = run_fake("over-cap", {})
    [event] = gate_events(run)
    assert event["decision"] == "paused"
    assert event["reasons"] == run.interrupts[0]["reasons"]
    assert "person_count 120000 is above the approval threshold of 100000" in event["reasons"]
    assert event["resume_command"] == "esdh-agent resume run-1 --approve|--reject"
    assert event["resume_command"] in event["message"]
    envelope = ("seq", "ts", "run_id", "node", "type")
    assert run.state["gate_decision"] == {k: v for k, v in event.items() if k not in envelope}
    done = run.resume({"approved": True, "by": "steward", "comment": "load test"})
    decisions = [e["decision"] for e in gate_events(done)]
    assert decisions == ["paused", "approved"]  # the pause is not written again on resume
    assert gate_events(done)[-1]["message"].startswith("approved by steward at ")


def test_over_cap_pauses_then_commits_on_approval(run_fake: Runner, workspace: Workspace) -> None:
    run = run_fake("over-cap", {})
    assert run.interrupts and "approval threshold" in run.interrupts[0]["reasons"][0]
    assert snapshots(workspace) == []
    done = run.resume({"approved": True, "by": "steward", "comment": "ok for load test"})
    assert done.state["outcome"] == "committed"
    assert done.state["approval"]["by"] == "steward"
    manifest = json.loads((workspace.data / "snapshots/over-cap-v0.1/manifest.json").read_text())
    assert manifest["provenance"]["approval"]["comment"] == "ok for load test"
    assert manifest["entities"]["persons"]["rows"] == 120_000


def test_over_cap_rejected_commits_nothing(run_fake: Runner, workspace: Workspace) -> None:
    run = run_fake("over-cap", {})
    done = run.resume({"approved": False, "by": "steward", "comment": "too big"})
    assert done.state["outcome"] == "rejected"
    assert snapshots(workspace) == []
    assert any(e["type"] == "approval" and not e["approved"] for e in done.events)


def test_model_cannot_raise_the_count_beyond_the_threshold(run_fake: Runner) -> None:
    run = run_fake("messy-names", {"planner": [{"person_count": 5_000_000}]})
    # messy-names pins 250 persons; the pinned value wins over the proposal
    assert run.state["plan"]["person_count"] == 250
    run = run_fake("commercial-fleet", {"planner": [{"state_mix": {"AZ": 1.0}}]}, run_id="r2")
    assert run.state["plan"]["state_mix"] == {"AZ": 0.6, "NV": 0.4}


def test_a_verified_finding_sends_the_plan_back_with_feedback(
    run_fake: Runner, workspace: Workspace
) -> None:
    write_slice(workspace, "fords", FORDS)
    first = {"address_line_2_rate": 0.3}  # leaves make_mix at its default
    second = {"make_mix": {"Ford": 0.5, "Toyota": 0.5}}
    run = run_fake(
        "fords",
        {"planner": [first, second], "critic:plan-fidelity": [TOO_FEW_FORDS, PASS]},
    )
    assert run.state["outcome"] == "committed"
    assert run.state["revision"] == 1
    first_verdict = next(
        v for v in run.state["verdicts"] if v["critic"] == "plan-fidelity" and v["revision"] == 0
    )
    assert not first_verdict["passed"] and first_verdict["findings"][0]["status"] == "verified"
    feedback = [c for c in run.llm.calls if c["node"] == "planner"][1]["user"]
    assert "REVIEWERS' FEEDBACK" in feedback
    assert "half the vehicles should be Fords" in feedback and "make=Ford" in feedback
    assert run.state["plan"]["make_mix"] == {"Ford": 0.5, "Toyota": 0.5}
    assert snapshots(workspace) == ["fords-v0.1"]


def test_a_claim_against_the_pinned_requirements_is_dismissed(run_fake: Runner) -> None:
    wrong = {
        "score": 0.0,
        "summary": "wrong states",
        "findings": [
            {
                "severity": "critical",
                "field": "state",
                "rule": "states",
                "message": "all should be AZ",
                "check": {
                    "kind": "share",
                    "field": "state",
                    "value": "AZ",
                    "expected": 0.4,
                    "quote": "60% AZ and 40% NV",
                },
            }
        ],
    }
    run = run_fake("commercial-fleet", {"critic:plan-fidelity": [wrong]})
    verdict = next(v for v in run.state["verdicts"] if v["critic"] == "plan-fidelity")
    assert verdict["findings"][0]["status"] == "dismissed"
    assert run.state["outcome"] == "committed"


def test_prompts_hold_no_volatile_values(run_fake: Runner, workspace: Workspace) -> None:
    run = run_fake("baseline", {})
    for call in run.llm.calls:
        text = call["system"] + call["user"]
        assert str(workspace.root) not in text and "run-1" not in text
        assert "2026-" not in text


def _calls_for(run: FakeRun) -> list[tuple[str, str, str]]:
    return sorted((c["node"], c["system"], c["user"]) for c in run.llm.calls)


def test_prompts_render_identically_in_two_fresh_workspaces(tmp_path: Any) -> None:
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.agents.grounding import ground
    from esdh_agent.agents.render import planner_messages, render_critic
    from esdh_agent.workspace import init_workspace

    rendered = []
    for name in ("one", "two"):
        ws = Workspace.open(init_workspace(tmp_path / name))
        aw = load_agent_workspace(ws)
        texts: list[object] = []
        for slice_id, slice_ in sorted(aw.slices.items()):
            grounding = ground(aw, None, slice_)  # the grammar's reading, no model
            texts.append(planner_messages(aw, slice_, ["feedback line"], grounding))
            for template in aw.critics.values():
                texts.append(
                    render_critic(
                        template,
                        {k: k for k in PLACEHOLDERS},
                    )
                )
            assert slice_id
        rendered.append(texts)
    assert rendered[0] == rendered[1]


def test_malformed_agent_files_name_the_file_and_line(cli: Any, workspace: Workspace) -> None:
    slice_path = workspace.root / "prompts" / "messy-names.md"
    slice_path.write_text(
        slice_path.read_text().replace("  person_count: 250", "  person_count: 250\n  colour: red")
    )
    result = cli("run", "slice-generation", "--slice", "baseline")
    assert result.code == 1
    assert "messy-names.md" in result.err and "pinned field 'colour' is not a plan field" in (
        result.err
    )
    slice_path.write_text("no front matter here\n")
    assert "messy-names.md:1: missing YAML front matter" in cli("run", "slice-generation").err
    critic_path = workspace.root / "critics" / "plan-fidelity.md"
    critic_path.write_text(critic_path.read_text().replace("{{plan}}", "{{planz}}"))
    (workspace.root / "prompts" / "messy-names.md").unlink()
    (workspace.root / "mop" / "index.yaml").write_text(
        (workspace.root / "mop" / "index.yaml").read_text().replace("  - messy-names\n", "")
    )
    err = cli("run", "slice-generation").err
    assert "plan-fidelity.md:" in err and "unknown placeholder {{planz}}" in err


def test_the_mermaid_graph_labels_its_edges_and_shows_the_approval_interrupt(cli: Any) -> None:
    from esdh_agent.graphs.slice_generation.graph import EDGE_LABELS

    result = cli("graph")
    assert result.code == 0
    text = result.out
    for label in (
        "refused",
        "needs approval",
        "approved",
        "rejected",
        "blocking findings → revise",
        "all pass → commit",
        "revisions exhausted",
        "pinned requirements impossible",
        "ground the request",
        "request refused by policy",
    ):
        assert label in EDGE_LABELS
        assert f"&nbsp;{label}&nbsp;" in text, label
    assert "policy_gate -. &nbsp;needs approval&nbsp; .-> human_approval;" in text
    assert "human_approval -. &nbsp;approved&nbsp; .-> generate;" in text
    assert "decide -. &nbsp;blocking findings → revise&nbsp; .-> planner;" in text
    assert "load_context -. &nbsp;ground the request&nbsp; .-> ground;" in text
    assert "ground -. &nbsp;request refused by policy&nbsp; .-> policy_gate;" in text
    assert "ground -. &nbsp;plan&nbsp; .-> planner;" in text
    assert "human_approval(human_approval<hr/><small><em>interrupt = pauses until" in text
    assert "class human_approval interrupt" in text
