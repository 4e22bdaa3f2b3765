"""The request-conformance critic: every grounded requirement, verified on the data.

Rule-based and blocking. It reads the ledger the ``validate`` step verified on the generated
tables (``agents.grounding.verify_requirements``): an unmet requirement blocks with its quote
and the measured value (a finding measured on the data, so verified by construction); parts
the run does not honour (not supported, declined, overridden by a pin) are listed as advisory
findings, so they are seen but do not block (``--strict`` turns them into a failing exit).
"""

from __future__ import annotations

from esdh_agent.agents.models import Judge, Verdict, VerdictFinding
from esdh_agent.ledger.judge import quoted
from esdh_agent.ledger.model import Ledger, Requirement

__all__ = ["CRITIC_ID", "request_verdict", "unhonoured"]

CRITIC_ID = "request"
UNHONOURED = ("not_supported", "declined")


def unhonoured(ledger: Ledger) -> list[Requirement]:
    """Requirements the run goes on without (what ``--strict`` refuses to accept)."""
    return [r for r in ledger.requirements if r.status in UNHONOURED]


def _finding(req: Requirement, *, blocking: bool) -> VerdictFinding:
    return VerdictFinding(
        severity="critical" if blocking else "minor",
        field=",".join(req.plan_fields) or req.target,
        rule=f"request.{req.target}",
        message=f"{quoted(req)}: {req.detail or req.label()}",
        check=None,
        status="verified" if blocking else "advisory",
        reason="measured on the generated data"
        if blocking
        else f"{req.status.replace('_', ' ')}: not checked on the data",
        blocking=blocking,
    )


def request_verdict(case: Judge) -> Verdict:
    """Pass when every checkable requirement is met; block on each unmet one."""
    if case.ledger is None:
        return Verdict(
            critic=CRITIC_ID,
            kind="rules",
            passed=True,
            abstained=True,
            score=None,
            summary="no requirements ledger for this run (recorded before request fidelity)",
            findings=[],
            suggested_changes={},
            threshold=1.0,
        )
    ledger = Ledger.model_validate(case.ledger)
    unmet = ledger.by_status("unmet")
    met = ledger.by_status("met")
    findings = [_finding(r, blocking=True) for r in unmet]
    findings += [_finding(r, blocking=False) for r in unhonoured(ledger)]
    findings += [_finding(r, blocking=False) for r in ledger.by_status("overridden")]
    checked = len(met) + len(unmet)
    if unmet:
        summary = f"{len(unmet)} of {checked} requirement(s) unmet: " + "; ".join(
            quoted(r) for r in unmet[:3]
        )
    else:
        summary = f"all {checked} checkable requirement(s) met on the data"
        if unhonoured(ledger):
            summary += f"; {len(unhonoured(ledger))} not honoured (shown as advisory)"
    return Verdict(
        critic=CRITIC_ID,
        kind="rules",
        passed=not unmet,
        abstained=False,
        score=(len(met) / checked) if checked else 1.0,
        summary=summary[:160],
        findings=findings,
        suggested_changes={},
        threshold=1.0,
    )
