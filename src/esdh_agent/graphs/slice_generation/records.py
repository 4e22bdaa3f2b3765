"""Run records: ``data/runs/<run-id>/run.json``, what it summarizes, and the decisions log.

``run.json`` is written as a run starts, pauses and ends; its summary of the graph state (plan,
gate, validator counts, the current revision's verdicts, snapshot) is what the CLI, the API
and the reviewers' views read.
"""

from __future__ import annotations

import contextlib
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
from esdh_agent.core.report import ValidationReport
from esdh_agent.core.store import process_alive, write_atomic
from esdh_agent.errors import InputError
from esdh_agent.workspace import Workspace

__all__ = [
    "append_decision",
    "interrupted_runs",
    "list_runs",
    "read_run",
    "run_summary",
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


def append_decision(ws: Workspace, run_id: str, slice_id: str, approval: Approval) -> None:
    """One row in governance/decisions.md for a human's approval or rejection."""
    log = ws.governance / "decisions.md"
    comment = " ".join(approval.comment.split()).replace("|", "/")[:300]
    row = (
        f"| {approval.at} | {approval.by} | run {run_id} ({slice_id}) | "
        f"{'approved' if approval.approved else 'rejected'} | {comment} |\n"
    )
    with log.open("a", encoding="utf-8") as handle:
        handle.write(row)


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
        "approval": state.get("approval"),
        "reason": state.get("reason"),
    }
