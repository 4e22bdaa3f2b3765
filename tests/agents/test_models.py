"""Typed agent data keeps the JSON it always had; critics are looked up, not special-cased."""

from __future__ import annotations

import math
from typing import Any

import pytest

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.critics import CriticAnswer, derive_verdict, rules_verdict
from esdh_agent.agents.models import (
    Approval,
    BundleRef,
    GateResult,
    Judge,
    PlannerResult,
    SnapshotRef,
    Verdict,
    current_verdicts,
    verdict_state,
)
from esdh_agent.agents.registry import critic_ids, get_critic
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


def roundtrip(data: dict[str, Any], model: type[Any]) -> dict[str, Any]:
    """Validate a state dict and dump it again: nothing may change, key order included."""
    again: dict[str, Any] = model.model_validate(data).model_dump(mode="json")
    assert again == data and list(again) == list(data)
    return again


def test_the_rule_critics_verdict_keeps_its_json_shape() -> None:
    data = rules_verdict(REPORT).model_dump(mode="json")
    assert list(data) == VERDICT_KEYS
    assert list(data["findings"][0]) == FINDING_KEYS
    assert (
        data["findings"][0]["message"] == "too young to drive (2 rows; e.g. row 1 (a), row 2 (b))"
    )
    assert data["critic"] == data["kind"] == "rules" and not data["passed"]
    roundtrip({**data, "revision": 1}, Verdict)


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
    assert list(data) == [*VERDICT_KEYS, "template_version", "revision"]
    assert list(data["findings"][0]["check"])[:2] == ["kind", "field"]
    assert math.isnan(data["suggested_changes"]["odd"])  # kept as the model wrote it
    abstained = derive_verdict("c", None, prose="p", pinned={}, error=["bad"], **common)
    data = abstained.model_dump(mode="json")
    assert list(data) == [*VERDICT_KEYS[:6], "errors", *VERDICT_KEYS[6:]]
    assert data["errors"] == ["bad"] and abstained.state == "abstained"


def test_node_data_round_trips_unchanged() -> None:
    roundtrip(
        {
            "proposal": {"person_count": 5},
            "valid": False,
            "attempts": 3,
            "mode": "prompt",
            "dropped": ["lob_mix"],
            "errors": ["x"],
        },
        PlannerResult,
    )
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
    assert verdict_state(old) == "FAIL" and verdict_state(new) == "pass"
    assert verdict_state({"passed": True, "abstained": True}) == "abstained"
    brief = Verdict.model_validate(old).brief()
    assert list(brief) == ["critic", "passed", "abstained", "score", "summary", "blocking"]
    assert verdict_state(brief) == "FAIL"


def test_critics_are_looked_up_by_id(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    assert critic_ids(aw) == ["rules", *aw.index.critics.llm]
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
    for critic_id in aw.index.critics.llm:
        critic = get_critic(aw, critic_id)
        assert critic.id == critic_id and critic.kind == "llm" and critic.needs_model
        assert critic.version == aw.critics[critic_id].meta.version
        with pytest.raises(ValueError, match="needs a model"):
            critic.review(None, case)
    with pytest.raises(InputError, match="unknown critic 'nope'") as info:
        get_critic(aw, "nope")
    assert info.value.hint == f"critics: {', '.join(critic_ids(aw))}"
