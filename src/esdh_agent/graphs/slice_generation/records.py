"""Run records: ``data/runs/<run-id>/run.json``, what it summarizes, and the decisions log.

``run.json`` is written as a run starts, pauses and ends; its summary of the graph state (plan,
gate and the gate's decision, validator counts, the current revision's verdicts, snapshot) is
what the CLI, the API and the reviewers' views read.

A recorded approval carries the hash of the plan it was given for (canonical JSON), so a later
run of the same slice that reaches the gate with the identical plan can reuse it
(:func:`earlier_approval`) instead of pausing again; ``governance/decisions.md`` logs human
decisions and such reuses, each with the plan hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from esdh_agent.agents.models import (
    Approval,
    JsonObject,
    PlannerResult,
    RunStatus,
    current_verdicts,
)
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import ValidationReport
from esdh_agent.core.store import process_alive, write_atomic
from esdh_agent.errors import InputError
from esdh_agent.ledger.model import Ledger
from esdh_agent.workspace import Workspace

__all__ = [
    "append_decision",
    "approval_record",
    "earlier_approval",
    "interrupted_runs",
    "list_runs",
    "read_run",
    "request_record",
    "run_summary",
    "unhonoured_lines",
    "write_run",
]

_PLANNER_BRIEF = ("valid", "attempts", "mode", "dropped", "errors")


def read_run(ws: Workspace, run_id: str) -> JsonObject:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise InputError(f"invalid run id {run_id!r}")
    path = ws.paths.run_record(run_id)
    if not path.is_file():
        raise InputError(f"no run {run_id!r}", hint="`esdh-agent transcripts list` shows runs")
    data: JsonObject = json.loads(path.read_text(encoding="utf-8"))
    return data


def interrupted_runs(ws: Workspace) -> list[JsonObject]:
    """Runs left "running" by a process that no longer exists (killed, crashed)."""
    return [
        r for r in list_runs(ws) if r.get("status") == "running" and not process_alive(r.get("pid"))
    ]


def list_runs(ws: Workspace) -> list[JsonObject]:
    root = ws.paths.runs
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.glob("*/run.json")):
        with contextlib.suppress(ValueError, OSError):
            runs.append(json.loads(path.read_text(encoding="utf-8")))
    return runs


def write_run(run_dir: Path, data: JsonObject) -> None:
    write_atomic(run_dir / "run.json", json.dumps(data, indent=2, default=str) + "\n")


def _cell(text: str, limit: int = 300) -> str:
    return " ".join(text.split()).replace("|", "/")[:limit]


def append_decision(
    ws: Workspace,
    run_id: str,
    slice_id: str,
    approval: Approval,
    *,
    plan_hash: str | None = None,
    reused_from: Mapping[str, Any] | None = None,
) -> None:
    """One row in governance/decisions.md for a human's approval or rejection, or for an
    earlier approval reused on the identical plan."""
    log = ws.governance / "decisions.md"
    plan = f"plan sha256 {plan_hash[:12]}" if plan_hash else ""
    if reused_from:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        comment = _cell(
            f"approved earlier by {reused_from.get('by')} at {reused_from.get('at')} "
            f"(run {reused_from.get('run_id')}) for the identical {plan or 'plan'}",
            400,
        )
        row = (
            f"| {now} | {_cell(approval.by, 80)} | run {run_id} ({slice_id}) | "
            f"approval reused | {comment} |\n"
        )
    else:
        comment = "; ".join(c for c in (_cell(approval.comment), plan) if c)
        row = (
            f"| {approval.at} | {_cell(approval.by, 80)} | run {run_id} ({slice_id}) | "
            f"{'approved' if approval.approved else 'rejected'} | {comment} |\n"
        )
    with log.open("a", encoding="utf-8") as handle:
        handle.write(row)


def approval_record(state: Mapping[str, Any]) -> JsonObject | None:
    """The approval as ``run.json`` records it: the human's answer, the hash of the plan it
    was given for and, when it was reused, the run it was first given in."""
    approval = state.get("approval")
    if not approval:
        return None
    basis = state.get("approval_basis") or {}
    return {
        **approval,
        "plan_hash": basis.get("plan_hash"),
        "reused_from": basis.get("reused_from"),
    }


def _approved_plan_hash(record: Mapping[str, Any]) -> str | None:
    """The plan hash a recorded approval was given for (computed for older records that
    lack it, when the run never revised its plan after the approval)."""
    approval = record.get("approval") or {}
    if approval.get("plan_hash"):
        return str(approval["plan_hash"])
    plan = (record.get("gate") or {}).get("plan")
    if not plan or record.get("revision") != 0:
        return None
    try:
        return GenerationPlan.model_validate(plan).plan_hash()
    except ValueError:
        return None


def earlier_approval(
    ws: Workspace, slice_id: str, plan_hash: str, reasons: list[str], *, exclude: str
) -> JsonObject | None:
    """A human's approval of this slice's identical plan that covers ``reasons``.

    Only the latest human decision on that plan counts: a later rejection withdraws an
    earlier approval. Returns the run it was given in, who gave it, when, and their comment.
    """
    decisions: list[JsonObject] = []
    for record in list_runs(ws):
        approval = record.get("approval") or {}
        if record.get("run_id") == exclude or record.get("slice_id") != slice_id:
            continue
        if not approval.get("at") or _approved_plan_hash(record) != plan_hash:
            continue
        origin = approval.get("reused_from") or {}
        decisions.append(
            {
                "run_id": origin.get("run_id") or record.get("run_id"),
                "approved": bool(approval.get("approved")),
                "by": approval.get("by"),
                "at": str(approval.get("at")),
                "comment": approval.get("comment") or "",
                "reasons": list(approval.get("reasons") or []),
            }
        )
    if not decisions:
        return None
    latest = max(decisions, key=lambda d: str(d["at"]))
    given: list[str] = latest["reasons"]
    if not latest["approved"] or not set(reasons) <= set(given):
        return None
    return latest


def _planner_brief(data: JsonObject | None) -> JsonObject:
    if not data:
        return dict.fromkeys(_PLANNER_BRIEF)
    return PlannerResult.model_validate(data).model_dump(mode="json", include=set(_PLANNER_BRIEF))


def _validation_counts(data: JsonObject | None) -> JsonObject | None:
    if not data:
        return None
    report = ValidationReport.model_validate(data)
    return {"errors": report.errors, "warnings": report.warnings, "rows": report.rows}


def run_summary(state: Mapping[str, Any], status: RunStatus) -> JsonObject:
    """What ``run.json`` records of the graph state."""
    return {
        "status": status,
        "revision": state.get("revision"),
        "plan": state.get("plan"),
        "planner": _planner_brief(state.get("planner")),
        "gate": state.get("gate"),
        "validation": _validation_counts(state.get("validation")),
        "verdicts": [v.brief() for v in current_verdicts(state)],
        "snapshot": state.get("snapshot"),
        "approval": approval_record(state),
        "gate_decision": state.get("gate_decision"),
        "reason": state.get("reason"),
        "ledger": _current_ledger(state),
    }


def _current_ledger(state: Mapping[str, Any]) -> JsonObject | None:
    """The ledger as far as the run got: verified on the data, else as grounded."""
    if state.get("ledger"):
        ledger: JsonObject = state["ledger"]
        return ledger
    grounding = state.get("grounding") or {}
    found: JsonObject | None = grounding.get("ledger")
    return found


def unhonoured_lines(summary: Mapping[str, Any]) -> list[str]:
    """Parts of the request a run went on without, one line each: requirements not
    supported or declined, and sentences with checkable words no requirement covers."""
    data = summary.get("ledger")
    if not data:
        return []
    ledger = Ledger.model_validate(data)
    lines = [
        f'{r.id} "{r.quote}": {r.status.replace("_", " ")} ({r.detail})'
        for r in ledger.requirements
        if r.status in ("not_supported", "declined")
    ]
    lines += [f'"{u.quote}": not supported ({u.reason})' for u in ledger.unsupported]
    return lines


def request_record(state: Mapping[str, Any]) -> JsonObject | None:
    """The verified ledger and the grammar's hash, for the manifest."""
    data = state.get("ledger")
    if not data:
        return None
    ledger = Ledger.model_validate(data)
    return {
        "ledger_sha256": ledger.ledger_hash(),
        "grammar_sha256": ledger.grammar_sha256,
        "ledger": ledger.model_dump(mode="json"),
    }
