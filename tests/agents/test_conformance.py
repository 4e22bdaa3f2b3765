"""The request-conformance critic: every grounded requirement, as the data measured it."""

from __future__ import annotations

from typing import Any

from esdh_agent.agents.conformance import CRITIC_ID, request_verdict, unhonoured
from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.models import Judge
from esdh_agent.agents.registry import get_critic
from esdh_agent.agents.render import critic_prompt, ledger_summary
from esdh_agent.core.report import ValidationReport
from esdh_agent.ledger.model import Ledger, Requirement
from esdh_agent.workspace import Workspace

PROSE = "600 fleet customers, mostly trucks (around 70%), skip the critics, 15% hyphenated."


def req(rid: str, quote: str, **fields: Any) -> Requirement:
    start = PROSE.index(quote)
    return Requirement(id=rid, quote=quote, start=start, end=start + len(quote), **fields)


COUNT = req(
    "R1",
    "600 fleet customers",
    target="person_count",
    op="eq",
    value=600,
    status="met",
    measured=600,
    detail="600 persons (asked person_count eq 600 (exact))",
    plan_fields=["person_count"],
)
TRUCKS = req(
    "R2",
    "mostly trucks (around 70%)",
    target="body_style",
    key="Truck",
    op="share",
    value=0.7,
    tolerance="approx",
    status="unmet",
    measured=0.45,
    detail="Truck is 0.450 of 1200 vehicles (asked 0.7 approx)",
    plan_fields=["body_style_mix"],
)
SKIP = req(
    "R3",
    "skip the critics",
    target="directive",
    key="skip_review",
    op="eq",
    status="declined",
    detail="declined by the policy (skip_review): the run goes on without it",
)
HYPHENS = req(
    "R4",
    "15% hyphenated",
    target="name_variant",
    key="hyphenated",
    op="share",
    value=0.15,
    status="not_supported",
    detail="the plan cannot express it",
)


def case(*requirements: Requirement, ledger: bool = True) -> Judge:
    data = Ledger(slice_id="s", prose_sha256="0" * 64, requirements=list(requirements))
    return Judge(
        slice_prompt=PROSE,
        pinned={},
        plan={},
        validation=ValidationReport().model_dump(mode="json"),
        profile={},
        ledger=data.model_dump(mode="json") if ledger else None,
    )


def test_an_unmet_requirement_blocks_with_its_quote_and_what_the_data_has() -> None:
    verdict = request_verdict(case(COUNT, TRUCKS))
    assert verdict.critic == CRITIC_ID == "request" and verdict.kind == "rules"
    assert not verdict.passed and not verdict.abstained and verdict.state == "blocking"
    [finding] = verdict.findings
    assert finding.blocking and finding.status == "verified" and finding.severity == "critical"
    assert '"mostly trucks (around 70%)"' in finding.message
    assert "0.450" in finding.message  # the measured value, from the verification's detail
    assert finding.field == "body_style_mix" and finding.rule == "request.body_style"
    assert verdict.score == 0.5  # one of the two checked requirements is met
    assert '"mostly trucks (around 70%)"' in verdict.summary
    assert "1 of 2 requirement(s) unmet" in verdict.summary


def test_requirements_the_run_goes_on_without_are_advisory() -> None:
    verdict = request_verdict(case(COUNT, SKIP, HYPHENS))
    assert verdict.passed and verdict.state == "pass" and verdict.score == 1.0
    assert [f.status for f in verdict.findings] == ["advisory", "advisory"]
    assert not any(f.blocking for f in verdict.findings)
    declined, unsupported = verdict.findings
    assert '"skip the critics"' in declined.message and declined.reason.startswith("declined")
    assert declined.field == "directive"  # no plan field: the target names it
    assert '"15% hyphenated"' in unsupported.message
    assert unsupported.reason.startswith("not supported")
    assert "2 not honoured" in verdict.summary
    assert unhonoured(Ledger.model_validate(case(COUNT, SKIP, HYPHENS).ledger)) == [SKIP, HYPHENS]


def test_everything_met_passes_with_no_findings() -> None:
    verdict = request_verdict(case(COUNT))
    assert verdict.passed and verdict.findings == [] and verdict.score == 1.0
    assert verdict.summary == "all 1 checkable requirement(s) met on the data"
    # An empty ledger has nothing to fail: it passes (the gate refuses unusable requests).
    assert request_verdict(case()).passed


def test_without_a_ledger_the_critic_abstains() -> None:
    verdict = request_verdict(case(ledger=False))
    assert verdict.abstained and verdict.passed and verdict.score is None
    assert verdict.findings == [] and verdict.state == "abstained"


def test_the_registry_runs_it_without_a_model(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    critic = get_critic(aw, CRITIC_ID)
    assert not critic.needs_model
    assert critic.review(None, case(COUNT, TRUCKS)) == request_verdict(case(COUNT, TRUCKS))


def test_llm_critics_see_the_ledger_in_their_prompt(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    judged = case(COUNT, TRUCKS, SKIP)
    summary = ledger_summary(judged.ledger)
    lines = summary.splitlines()
    assert len(lines) == 3
    assert lines[1] == (
        '- R2 "mostly trucks (around 70%)": body_style Truck share 0.7 -> unmet '
        "(Truck is 0.450 of 1200 vehicles (asked 0.7 approx))"
    )
    assert "-> declined (" in lines[2]
    with_ledger = [
        t for t in aw.critics.values() if "{{ledger}}" in t.doc.body
    ]  # the templates that ask for it
    assert with_ledger
    for template in with_ledger:
        assert summary in critic_prompt(aw, template, judged)
        assert "(no requirements ledger)" in critic_prompt(aw, template, case(ledger=False))
