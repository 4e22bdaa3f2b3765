"""Typed agent data keeps the JSON it always had; critics are looked up, not special-cased."""

from __future__ import annotations

import math
from typing import Any

import pytest

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.critics import CriticAnswer, derive_verdict, rules_verdict
from esdh_agent.agents.models import (
    UNUSABLE,
    Approval,
    BundleRef,
    GateResult,
    Judge,
    PlannerResult,
    SnapshotRef,
    Verdict,
    current_verdicts,
    one_line,
    summary_line,
    verdict_reason,
    verdict_state,
)
from esdh_agent.agents.registry import critic_ids, get_critic
from esdh_agent.agents.verdicts import SUMMARY_LIMIT, usable_summary
from esdh_agent.core.report import Finding, ValidationReport
from esdh_agent.errors import InputError
from esdh_agent.workspace import Workspace

REPORT = ValidationReport(
    rows={"persons": 10},
    rules=["domain.licence_age"],
    findings=[
        Finding(
            rule="domain.licence_age",
            entity="persons",
            field="date_of_birth",
            severity="error",
            message="too young to drive",
            count=2,
            samples=["row 1 (a)", "row 2 (b)", "row 3 (c)"],
        )
    ],
)
REPORT_MESSAGE = "too young to drive (2 rows; e.g. row 1 (a), row 2 (b))"
FINDING_KEYS = ["severity", "field", "rule", "message", "check", "status", "reason", "blocking"]
VERDICT_KEYS = [
    "critic",
    "kind",
    "passed",
    "abstained",
    "score",
    "summary",
    "findings",
    "suggested_changes",
    "threshold",
]
DERIVED_KEYS = ["state", "reason", "summary_line"]
"""Added to every verdict's JSON (after the keys it always had), never read back."""


def roundtrip(data: dict[str, Any], model: type[Any]) -> dict[str, Any]:
    """Validate a state dict and dump it again: nothing may change, key order included."""
    again: dict[str, Any] = model.model_validate(data).model_dump(mode="json")
    assert again == data and list(again) == list(data)
    return again


def test_the_rule_critics_verdict_keeps_its_json_shape() -> None:
    data = rules_verdict(REPORT).model_dump(mode="json")
    assert list(data) == [*VERDICT_KEYS, *DERIVED_KEYS]
    assert list(data["findings"][0]) == FINDING_KEYS
    assert (
        data["findings"][0]["message"] == "too young to drive (2 rows; e.g. row 1 (a), row 2 (b))"
    )
    assert data["critic"] == data["kind"] == "rules" and not data["passed"]
    assert data["state"] == "blocking" and "too young to drive" in data["reason"]
    roundtrip(rules_verdict(REPORT).model_copy(update={"revision": 1}).model_dump(), Verdict)
    # The derived keys are recomputed, never read: a forged state changes nothing.
    forged = Verdict.model_validate({**data, "state": "pass", "reason": "trust me"})
    assert forged.state == "blocking" and forged.reason == data["reason"]


def test_an_llm_verdict_leaves_out_only_what_is_unset() -> None:
    common: dict[str, Any] = {"threshold": 0.5, "blocking": ["major"], "profile": {}}
    answer = CriticAnswer.model_validate(
        {
            "score": 0.4,
            "findings": [
                {
                    "severity": "major",
                    "message": "m",
                    "check": {"kind": "count", "field": "persons"},
                }
            ],
            "suggested_changes": {"seed": 7, "odd": math.nan},
        }
    )
    verdict = derive_verdict("c", answer, prose="p", pinned={}, **common)
    data = verdict.model_copy(update={"template_version": "1.0.0", "revision": 0}).model_dump(
        mode="json"
    )
    assert list(data) == [*VERDICT_KEYS, "template_version", "revision", *DERIVED_KEYS]
    assert list(data["findings"][0]["check"])[:2] == ["kind", "field"]
    assert math.isnan(data["suggested_changes"]["odd"])  # kept as the model wrote it
    abstained = derive_verdict("c", None, prose="p", pinned={}, error=["bad"], **common)
    data = abstained.model_dump(mode="json")
    assert list(data) == [*VERDICT_KEYS[:6], "errors", *VERDICT_KEYS[6:], *DERIVED_KEYS]
    assert data["errors"] == ["bad"] and abstained.state == "abstained"
    assert data["reason"] == "no usable answer: bad"


def test_node_data_round_trips_unchanged() -> None:
    roundtrip(
        {
            "proposal": {"person_count": 5},
            "valid": False,
            "attempts": 3,
            "mode": "prompt",
            "dropped": ["lob_mix"],
            "errors": ["x"],
            "kept": ["seed"],
        },
        PlannerResult,
    )
    # Planner results recorded before re-asks kept fields read back with nothing kept.
    older = {"proposal": {}, "valid": True, "attempts": 1, "mode": "json", "dropped": []}
    assert PlannerResult.model_validate({**older, "errors": []}).kept == []
    roundtrip(
        {"plan": {"seed": 1}, "notes": [], "needs_approval": ["n"], "refused": []}, GateResult
    )
    roundtrip(
        {
            "path": "/tmp/b",
            "rows": {"persons": 1},
            "content_hash": "sha256:0",
            "manifest": {"name": "x"},
            "seconds": {"generate": 0.01},
        },
        BundleRef,
    )
    roundtrip(
        {"approved": True, "by": "s", "comment": "", "at": "2025-11-01", "reasons": ["r"]},
        Approval,
    )
    roundtrip({"name": "n", "path": "/p", "status": "unchanged", "content_hash": "h"}, SnapshotRef)


def test_the_current_revisions_verdicts_and_their_state() -> None:
    old = {**rules_verdict(REPORT).model_dump(mode="json"), "revision": 0}
    new = {**rules_verdict(ValidationReport()).model_dump(mode="json"), "revision": 1}
    assert [v.passed for v in current_verdicts({"revision": 1, "verdicts": [old, new]})] == [True]
    assert current_verdicts({}) == []
    assert verdict_state(old) == "blocking" and verdict_state(new) == "pass"
    assert verdict_state({"passed": True, "abstained": True}) == "abstained"
    brief = Verdict.model_validate(old).brief()
    headline = ["critic", "passed", "abstained", "score", "summary"]
    assert list(brief) == [*headline, "blocking", "findings", *DERIVED_KEYS, "threshold"]
    assert verdict_state(brief) == "blocking" and brief["blocking"] == [REPORT_MESSAGE]
    assert brief["findings"][0]["status"] == "verified" and brief["findings"][0]["blocking"]
    provenance = Verdict.model_validate(old).provenance()
    assert list(provenance) == [*headline, "findings", *DERIVED_KEYS, "threshold"]
    assert provenance["findings"][0]["reason"] == "found by the validator"
    # run.json of runs recorded before briefs had a state: the old words still work.
    assert verdict_state({"passed": False, "abstained": False, "blocking": ["x"]}) == "blocking"
    assert verdict_reason({"passed": False, "abstained": False, "blocking": ["x"]}) == (
        "verified finding: x"
    )


def test_critics_are_looked_up_by_id(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    assert critic_ids(aw) == ["rules", "request", *aw.index.critics.llm]
    rules = get_critic(aw, "rules")
    assert (rules.kind, rules.version, rules.needs_model) == ("rules", "built-in", False)
    case = Judge(
        slice_prompt="p",
        pinned={},
        plan={},
        validation=REPORT.model_dump(mode="json"),
        profile={},
    )
    assert rules.review(None, case) == rules_verdict(REPORT)
    request = get_critic(aw, "request")
    assert (request.kind, request.version, request.needs_model) == ("rules", "built-in", False)
    assert request.review(None, case).abstained  # no ledger: nothing to verify
    for critic_id in aw.index.critics.llm:
        critic = get_critic(aw, critic_id)
        assert critic.id == critic_id and critic.kind == "llm" and critic.needs_model
        assert critic.version == aw.critics[critic_id].meta.version
        with pytest.raises(ValueError, match="needs a model"):
            critic.review(None, case)
    with pytest.raises(InputError, match="unknown critic 'nope'") as info:
        get_critic(aw, "nope")
    assert info.value.hint == f"critics: {', '.join(critic_ids(aw))}"


def test_the_request_critic_runs_whatever_the_index_lists(workspace: Workspace) -> None:
    index = workspace.root / "mop" / "index.yaml"
    text = index.read_text(encoding="utf-8")
    assert "rules: [rules, request]" in text
    index.write_text(text.replace("rules: [rules, request]", "rules: [rules]"), encoding="utf-8")
    llm = load_agent_workspace(workspace).index.critics.llm
    assert critic_ids(load_agent_workspace(workspace)) == ["rules", "request", *llm]
    index.write_text(text.replace("rules: [rules, request]", "rules: []"), encoding="utf-8")
    assert critic_ids(load_agent_workspace(workspace)) == ["request", *llm]


@pytest.mark.parametrize(
    ("summary", "usable"),
    [
        ("The request is not approved by the QA team.", True),
        ("Looks good", True),
        ("Synthetics are not only unrealistic but also\nincoherent.", True),
        ("", False),
        ("   ", False),
        ("{", False),
        ("1.5", False),
        ("SHOWN", False),
        ('{"score": 0, "summary": "fine"}', False),
        ("[1, 2, 3] and more", False),
        ("<b>bold claims here</b>", False),
        ("!!! ?? -- ## ok ok", False),  # mostly punctuation
        ("Synthetic data must not contain real data. SAMPLE OF DATA:\n{", False),
        ("The rows look fine. SAMPLE OF THE DATA: persons", False),  # a prompt heading echoed
        ("The answer trails off into:", False),
    ],
)
def test_which_summaries_are_usable(summary: str, usable: bool) -> None:
    assert usable_summary(summary) is usable
    assert summary_line(summary) == (" ".join(summary.split()) if usable else UNUSABLE)


def test_summaries_and_reasons_are_one_bounded_line() -> None:
    long = "word " * 100
    line = summary_line(long)
    assert len(line) == SUMMARY_LIMIT and line.endswith("…") and "\n" not in line
    assert one_line("a\n b\t c") == "a b c" and one_line(None) == ""
    verdict = {
        "critic": "c",
        "kind": "llm",
        "passed": True,
        "abstained": False,
        "score": 0.9,
        "threshold": 0.5,
        "findings": [
            {"severity": "major", "status": "advisory", "reason": "x" * 300, "message": "m\nn"}
        ],
    }
    reason = verdict_reason(verdict)
    assert len(reason) <= SUMMARY_LIMIT and "\n" not in reason


def _llm(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "critic": "plan-fidelity",
        "kind": "llm",
        "passed": True,
        "abstained": False,
        "score": 0.8,
        "summary": "fine",
        "findings": [],
        "threshold": 0.5,
    }
    return {**base, **changes}


def _finding(status: str, severity: str = "major", blocking: bool = False) -> dict[str, Any]:
    reason = {
        "verified": "body_style=Truck: expected 0.700, observed 0.500",
        "dismissed": "contradicts the slice's pinned requirements (pinned person_count is 600)",
        "advisory": "no check the framework can verify",
        "satisfied": "the data meets it (state=AZ: expected 0.600, observed 0.600)",
    }[status]
    return {
        "severity": severity,
        "rule": "r",
        "field": "f",
        "message": f"a {status} claim",
        "status": status,
        "reason": reason,
        "blocking": blocking,
        "check": None,
    }


@pytest.mark.parametrize(
    ("verdict", "state", "reason"),
    [
        (_llm(), "pass", "score 0.80 meets 0.5"),
        (
            _llm(findings=[_finding("satisfied")]),
            "pass",
            "score 0.80 meets 0.5; 1 check(s) met by the data",
        ),
        (_llm(findings=[_finding("advisory", "info")]), "pass", "score 0.80 meets 0.5"),
        (_llm(score=0.0), "advisory", "score 0.00 below 0.5 but no verified finding"),
        (
            _llm(findings=[_finding("advisory", "critical"), _finding("dismissed")]),
            "advisory",
            "critical finding not verified (no check the framework can verify): "
            "a advisory claim (+1 more)",
        ),
        (
            _llm(findings=[_finding("dismissed")]),
            "advisory",
            "major finding dismissed (contradicts the slice's pinned requirements (pinned "
            "person_count is 600)): a dismissed claim",
        ),
        (
            _llm(findings=[_finding("verified", "minor")]),
            "advisory",
            "minor finding verified, not of a blocking severity (body_style=Truck: expected "
            "0.700, observed 0.500): a verified claim",
        ),
        (
            _llm(passed=False, findings=[_finding("verified", blocking=True)]),
            "blocking",
            "major finding verified (body_style=Truck: expected 0.700, observed 0.500): "
            "a verified claim",
        ),
        (
            _llm(passed=False, score=0.2, findings=[_finding("verified", "minor")]),
            "blocking",
            "score 0.20 below 0.5, backed by a minor finding verified (body_style=Truck: "
            "expected 0.700, observed 0.500): a verified claim",
        ),
        (
            _llm(abstained=True, score=None, errors=["score: Field required", "x"]),
            "abstained",
            "no usable answer: score: Field required (+1 more)",
        ),
        (_llm(abstained=True, score=None), "abstained", "no usable answer"),
        (
            _llm(abstained=True, score=None, errors=["the model refused: no."]),
            "abstained",
            "the model refused: no.",
        ),
        (
            {**_llm(critic="rules", kind="rules", score=1.0, threshold=1.0)},
            "pass",
            "no error-level validation findings",
        ),
    ],
)
def test_a_verdicts_state_and_reason(verdict: dict[str, Any], state: str, reason: str) -> None:
    assert (verdict_state(verdict), verdict_reason(verdict)) == (state, reason)
    full = Verdict.model_validate({**verdict, "suggested_changes": {}})
    assert (full.state, full.reason) == (state, reason)
    # run.json's brief and the manifest's provenance say the same, and read back the same.
    for shape in (full.brief(), full.provenance()):
        assert (shape["state"], shape["reason"]) == (state, reason)
        assert (verdict_state(shape), verdict_reason(shape)) == (state, reason)


def test_a_brief_without_a_threshold_keeps_its_recorded_state() -> None:
    brief = {"critic": "c", "passed": True, "abstained": False, "score": 0.0}
    assert verdict_state({**brief, "state": "advisory", "reason": "why"}) == "advisory"
    # A recorded state that contradicts passed / abstained is not believed.
    assert verdict_state({**brief, "state": "blocking", "reason": "why"}) == "pass"
    assert verdict_state({**brief, "abstained": True, "state": "pass", "reason": "x"}) == (
        "abstained"
    )
