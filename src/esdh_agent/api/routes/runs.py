"""``GET /runs``, ``GET /runs/{id}`` and ``GET /runs/{id}/view``: agent runs, read-only.

A run id must match a strict pattern (no ``/``, no ``..``, no leading dot, nothing but
letters, digits, ``.``, ``_`` and ``-``) before it is joined to a path, and the resolved run
directory must still lie under ``data/runs/`` (the listing applies the same test). Ids are
taken as whole paths (``:path``) so a traversal attempt gets a clear 400 instead of matching
some other route.

Every verdict served (``run.json``'s and the transcript's) carries ``state`` (blocking, pass,
advisory, abstained), ``reason`` and ``summary_line`` as ``agents.models`` defines them; runs
recorded before those fields existed get them added here, nothing else is changed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse

from esdh_agent.api.context import ApiContext, get_context
from esdh_agent.api.errors import ApiError, documented, documented_json
from esdh_agent.api.models import RunsResponse

__all__ = ["RUN_ID_PATTERN", "check_run_id", "router"]

RUN_ID_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,100}")
HTML_MODULE = "esdh_agent.transcripts.html"
SUMMARY_FIELDS = ("run_id", "slice_id", "status", "started_at", "ended_at", "llm_mode")
# The page may style and script itself inline, but may load or send nothing anywhere.
VIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(prefix="/runs", tags=["runs"], responses=documented(401, 500))
Ctx = Annotated[ApiContext, Depends(get_context)]


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is safe to join to a path, else raise a 400."""
    if not RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise ApiError(
            400,
            "invalid_run_id",
            f"invalid run id {run_id[:120]!r}: use letters, digits, '.', '_' and '-' "
            "(no '..', no '/'), starting with a letter or digit, at most 101 characters",
        )
    return run_id


def _run_dir(ctx: ApiContext, run_id: str) -> Path:
    paths = ctx.workspace.paths
    path = paths.run_dir(check_run_id(run_id))
    if not paths.run_record(run_id).is_file() or not path.resolve().is_relative_to(
        paths.runs.resolve()
    ):
        raise ApiError(404, "not_found", f"no run {run_id!r}")
    return path


def _load(ctx: ApiContext, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from esdh_agent.graphs.slice_generation.records import read_run
    from esdh_agent.llm.transcript import read_transcript

    _run_dir(ctx, run_id)
    try:
        record = read_run(ctx.workspace, run_id)
        events = read_transcript(ctx.workspace.paths.transcript(run_id))
    except ValueError:
        raise ApiError(500, "run_corrupt", f"run {run_id!r} has an unreadable record") from None
    events = [_explained(e) if e.get("type") == "verdict" else e for e in events]
    if isinstance(record.get("verdicts"), list):
        # An old brief lacks the threshold: explain it from its full verdict event (the last).
        full = {e.get("critic"): e for e in events if e.get("type") == "verdict"}
        record["verdicts"] = [
            _explained(v, full.get(v.get("critic")) if isinstance(v, dict) else None)
            for v in record["verdicts"]
        ]
    return record, events


def _explained(verdict: Any, full: dict[str, Any] | None = None) -> Any:
    """``verdict`` with its state, reason and one-line summary, when it lacks them."""
    from esdh_agent.agents.models import summary_line, verdict_reason, verdict_state

    if not isinstance(verdict, dict) or {"state", "reason", "summary_line"} <= set(verdict):
        return verdict
    facts = full if full is not None else verdict
    return {
        **verdict,
        "state": verdict_state(facts),
        "reason": verdict_reason(facts),
        "summary_line": summary_line(verdict.get("summary")),
    }


@router.get("", response_model=RunsResponse, summary="List agent runs")
def list_runs(ctx: Ctx) -> JSONResponse:
    """Every run under ``data/runs/``, oldest first (run ids start with a UTC timestamp)."""
    from esdh_agent.graphs.slice_generation.records import list_runs as list_run_records

    runs = [
        {key: record.get(key) for key in SUMMARY_FIELDS}
        for record in list_run_records(ctx.workspace)
        if isinstance(record, dict) and _servable(ctx, record.get("run_id"))
    ]
    return JSONResponse({"count": len(runs), "runs": runs})


def _servable(ctx: ApiContext, run_id: object) -> bool:
    """Would ``GET /runs/{run_id}`` serve this record? (Listed runs must be fetchable, and a
    run directory linked from outside ``data/runs/`` is neither.)"""
    if not isinstance(run_id, str):
        return False
    try:
        _run_dir(ctx, run_id)
    except ApiError:
        return False
    return True


@router.get(
    "/{run_id:path}/view",
    response_class=HTMLResponse,
    summary="A run's transcript as an HTML page",
    responses=documented_json(400, 401, 404, 500, 501),
)
def view_run(run_id: str, ctx: Ctx) -> HTMLResponse:
    """The run rendered for people: plan, gate, validation, verdicts, every event."""
    record, events = _load(ctx, run_id)
    render = _renderer()
    page = render(record, events, **_request_fallback(ctx, render, record, events))
    return HTMLResponse(page, headers={"Content-Security-Policy": VIEW_CSP})


def _request_fallback(
    ctx: ApiContext, render: Callable[..., str], record: dict[str, Any], events: list[Any]
) -> dict[str, Any]:
    """The slice file's prose, for a run whose transcript does not hold it (refused at the
    gate before the planner was asked), when the renderer takes it."""
    from esdh_agent.transcripts.request import run_request, slice_prose

    slice_id = record.get("slice_id")
    if "request" not in inspect.signature(render).parameters or not isinstance(slice_id, str):
        return {}
    if run_request(record, events).prose is not None:
        return {}
    return {"request": slice_prose(ctx.workspace, slice_id)}


@router.get(
    "/{run_id:path}",
    summary="A run: run.json and its transcript events",
    responses={
        200: {
            "description": '{"run": run.json, "events": [transcript events, in order]}; every '
            "verdict with its state (blocking, pass, advisory, abstained), reason and "
            "summary_line"
        },
        **documented(400, 404),
    },
)
def get_run(run_id: str, ctx: Ctx) -> JSONResponse:
    """``run.json`` (status, plan, gate, verdicts, snapshot) and every transcript event."""
    record, events = _load(ctx, run_id)
    return JSONResponse({"run": record, "events": events})


def _renderer() -> Callable[..., str]:
    """``render_run_html`` from its module, imported only when a page is asked for."""
    try:
        module = importlib.import_module(HTML_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != HTML_MODULE:
            raise
        module = None
    render = getattr(module, "render_run_html", None)
    if not callable(render):
        raise ApiError(
            501,
            "not_implemented",
            "this installation has no HTML transcript view; GET /runs/{id} returns the JSON",
        )
    return cast(Callable[..., str], render)
