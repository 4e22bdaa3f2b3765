"""diff_runs: what changed between two runs, on real replayed runs and on small records."""

from __future__ import annotations

import copy
import json
from typing import Any

from esdh_agent.transcripts.diff import diff_runs, finding_key, flatten, node_usage
from esdh_agent.workspace import Workspace

from tests.transcripts.conftest import Revised, Runs, load


def test_a_run_against_itself_has_no_changes(workspace: Workspace, runs: Runs) -> None:
    record, events = load(workspace, runs.refused)
    diff = diff_runs(record, events, copy.deepcopy(record), copy.deepcopy(events))
    assert diff["changed"] == []
    assert diff["flipped"] == []
    assert diff["plan"]["changed"] == [] and diff["plan"]["unchanged"] > 10
    assert all(not v["changed"] for v in diff["verdicts"])
    json.dumps(diff)  # plain data: --json can print it


def test_an_unchanged_rerun_differs_only_in_status(workspace: Workspace, runs: Runs) -> None:
    diff = diff_runs(*load(workspace, runs.baseline), *load(workspace, runs.again))
    assert diff["status"] == {"a": "committed", "b": "unchanged", "changed": True}
    assert diff["snapshot"]["same_content"] is True
    assert not diff["snapshot"]["content_hash"]["changed"]
    assert diff["plan"]["changed"] == []
    assert diff["flipped"] == []
    assert "plan" not in diff["changed"] and "verdicts" not in diff["changed"]


def test_committed_against_refused_at_the_gate(workspace: Workspace, runs: Runs) -> None:
    a, b = load(workspace, runs.baseline), load(workspace, runs.refused)
    diff = diff_runs(*a, *b)
    assert diff["status"]["a"] == "committed" and diff["status"]["b"] == "refused"
    assert "no approval can allow it" in diff["reason"]["b"]
    fields = {row["field"]: row for row in diff["plan"]["changed"]}
    assert {"seed", "person_count", "age_bands"} <= set(fields)
    assert fields["person_count"]["a"] == 200 and fields["person_count"]["b"] == 50
    assert diff["validation"]["errors"] == {"a": 0, "b": None, "changed": True}
    assert diff["flipped"] == []  # nothing judged B: nothing flipped
    rules = next(v for v in diff["verdicts"] if v["critic"] == "rules")
    assert rules["a"] == {
        "passed": True,
        "abstained": False,
        "score": 1.0,
        "state": "pass",
        "reason": "no error-level validation findings",
    }
    verdicts = {v["critic"]: v for v in diff["verdicts"]}
    governance = verdicts["governance-privacy"]
    assert governance["a"]["state"] == "advisory" and governance["b"] is None
    assert governance["a"]["reason"] == "score 0.00 below 0.5 but no verified finding"
    fidelity = verdicts["plan-fidelity"]
    assert fidelity["a"]["state"] == "advisory" and fidelity["b"] is None
    assert fidelity["a"]["reason"].startswith(
        "critical finding not verified (no check the framework can verify)"
    )
    # The rule-based request critic judged A's data against its ledger; B never got there.
    request = verdicts["request"]
    assert request["a"]["state"] == "pass" and request["b"] is None and not request["flipped"]
    assert request["a"]["reason"] == "all 32 checkable requirement(s) met on the data"
    assert diff["snapshot"]["b"] is None and diff["snapshot"]["same_content"] is None
    assert diff["llm"]["calls"]["b"] == 0 and diff["llm"]["calls"]["delta"] < 0
    for section in ("status", "plan", "validation", "verdicts", "snapshot", "llm"):
        assert section in diff["changed"]


def test_a_verdict_that_blocked_then_passed(revised_run: Revised) -> None:
    first = [e for e in revised_run.events if e["type"] == "verdict" and e["revision"] == 0]
    last = [e for e in revised_run.events if e["type"] == "verdict" and e["revision"] == 1]
    diff = diff_runs({**revised_run.record, "verdicts": []}, first, revised_run.record, last)
    row = next(v for v in diff["verdicts"] if v["critic"] == "plan-fidelity")
    assert row["flipped"] and (row["a"]["state"], row["b"]["state"]) == ("blocking", "pass")
    assert row["a"]["reason"].startswith("major finding verified (make=Ford: expected 0.500")
    assert diff["flipped"] == ["plan-fidelity"]


def test_a_paused_run_shows_the_plan_awaiting_approval(workspace: Workspace, runs: Runs) -> None:
    diff = diff_runs(*load(workspace, runs.baseline), *load(workspace, runs.paused))
    assert diff["status"]["b"] == "awaiting_approval"
    fields = {row["field"]: row for row in diff["plan"]["changed"]}
    assert not diff["plan"]["b_missing"] and fields["person_count"]["b"] == 120_000
    assert all(v["b"] is None and not v["flipped"] for v in diff["verdicts"])
    assert "person_count 120000" in diff["b"]["why"]


def _record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "r",
        "slice_id": "s",
        "status": "committed",
        "plan": {"seed": 1, "lob_mix": {"Personal": 0.7, "Commercial": 0.3}},
        "verdicts": [{"critic": "plan-fidelity", "passed": True, "abstained": False, "score": 0.9}],
        "llm": {"calls": 1, "tokens": 10, "models": ["m"]},
    }
    base.update(changes)
    return base


def test_nested_plan_fields_and_abstentions() -> None:
    a = _record()
    b = _record(
        plan={"seed": 1, "lob_mix": {"Personal": 0.6, "Commercial": 0.4}, "zip_plus4_rate": 0.1},
        verdicts=[{"critic": "plan-fidelity", "passed": True, "abstained": True, "score": None}],
    )
    diff = diff_runs(a, [], b, [])
    changed = {row["field"]: row for row in diff["plan"]["changed"]}
    assert set(changed) == {"lob_mix.Personal", "lob_mix.Commercial", "zip_plus4_rate"}
    assert changed["zip_plus4_rate"]["only_in"] == "b"
    assert changed["lob_mix.Personal"]["only_in"] is None
    # Passing and abstaining are different verdicts: an abstention is a flip.
    assert diff["flipped"] == ["plan-fidelity"]
    assert diff["verdicts"][0]["score_delta"] is None
    assert diff["changed"] == ["plan", "verdicts"]


def test_helpers() -> None:
    assert dict(flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}})) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": {},
    }
    events: list[dict[str, Any]] = [
        {"node": "planner", "type": "llm_request"},
        {"node": "planner", "type": "llm_response", "prompt_tokens": 5, "completion_tokens": 2},
        {"node": "planner", "type": "reask"},
        {"node": "critic:x", "type": "llm_error"},
        {"node": "decide", "type": "decision"},
    ]
    usage = node_usage(events)
    assert list(usage) == ["planner", "critic:x"]
    assert usage["planner"]["prompt"] == 5 and usage["planner"]["reasks"] == 1
    findings: list[dict[str, Any]] = [
        {"status": "advisory", "severity": "critical"},
        {"status": "verified", "severity": "minor", "blocking": False},
        {"status": "verified", "severity": "critical", "blocking": True},
        {"status": "dismissed", "severity": "major"},
    ]
    ordered = [(f["status"], f.get("blocking")) for f in sorted(findings, key=finding_key)]
    assert ordered[0] == ("verified", True) and ordered[1] == ("verified", False)
    assert [s for s, _ in ordered[2:]] == ["dismissed", "advisory"]


def test_the_expected_mode_fallback_is_not_counted_as_an_error() -> None:
    events: list[dict[str, Any]] = [
        {"node": "planner", "type": "llm_request", "mode": "json_schema"},
        {"node": "planner", "type": "llm_error", "mode": "json_schema", "status": 500},
        {"node": "planner", "type": "mode_rejected", "mode": "json_schema", "next_mode": "x"},
        {"node": "planner", "type": "llm_request", "mode": "x"},
        {"node": "planner", "type": "llm_response", "prompt_tokens": 1, "completion_tokens": 1},
        {"node": "critic:y", "type": "llm_error", "status": 503},  # a real error is counted
    ]
    usage = node_usage(events)
    assert usage["planner"]["errors"] == 0 and usage["planner"]["requests"] == 2
    assert usage["critic:y"]["errors"] == 1
