"""Run, resume and inspect slice-generation runs.

Each run has ``data/runs/<run-id>/`` with ``transcript.jsonl``, ``run.json`` and, while it is
in flight, its staged bundle. Graph state is checkpointed in ``data/checkpoints.sqlite`` so a
run paused for approval (or interrupted) continues in a new process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.models import Approval, JsonObject, RunStatus
from esdh_agent.agents.session import llm_session
from esdh_agent.errors import EsdhError, ExitCode, InputError
from esdh_agent.graphs.slice_generation.records import (
    append_decision,
    interrupted_runs,
    list_runs,
    read_run,
    run_summary,
    write_run,
)
from esdh_agent.llm.recording import LLMMode
from esdh_agent.llm.transcript import Transcript
from esdh_agent.tools.bundle import bundle_tools
from esdh_agent.workspace import Workspace

__all__ = [
    "RunResult",
    "checkpointer",
    "interrupted_runs",
    "list_runs",
    "read_run",
    "resume_run",
    "run_slice",
]

EXIT_BY_STATUS: dict[RunStatus, ExitCode] = {
    "committed": ExitCode.OK,
    "unchanged": ExitCode.OK,
    "refused": ExitCode.REFUSED,
    "rejected": ExitCode.REFUSED,
    "awaiting_approval": ExitCode.AWAITING_APPROVAL,
    "failed": ExitCode.ERROR,
}
Progress = Callable[[str, JsonObject], None]
FINISHED: tuple[RunStatus, ...] = ("committed", "unchanged", "refused", "rejected")


@dataclass
class RunResult:
    run_id: str
    slice_id: str
    status: RunStatus
    summary: JsonObject = field(default_factory=dict)
    error: EsdhError | None = None

    @property
    def exit_code(self) -> int:
        return int(EXIT_BY_STATUS.get(self.status, ExitCode.ERROR))


def _new_run_id(slice_id: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{slice_id}-{secrets.token_hex(3)}"


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@contextlib.contextmanager
def checkpointer(ws: Workspace) -> Iterator[Any]:
    """The workspace's SQLite checkpoint saver (thread id = run id), closed on exit."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    ws.data.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(ws.paths.checkpoints, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def _execute(
    ws: Workspace,
    run_id: str,
    slice_id: str,
    mode: LLMMode,
    base_url: str | None,
    graph_input: Any,
    *,
    fresh: bool,
    progress: Progress | None,
    record: JsonObject,
) -> RunResult:
    from esdh_agent.graphs.slice_generation.graph import build_graph
    from esdh_agent.graphs.slice_generation.state import RunContext

    aw = load_agent_workspace(ws)
    aw.slice(slice_id)
    paths = ws.paths
    run_dir = paths.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    transcript = Transcript(paths.transcript(run_id), run_id)
    cassette_path = paths.slice_cassette(slice_id)
    provenance = {
        "llm_mode": mode,
        "cassette": paths.relative(cassette_path) if mode != "live" else None,
        "cassette_sha256": _sha256(cassette_path) if mode == "replay" else None,
        "slice_version": aw.slice(slice_id).meta.version,
        "slice_sha256": aw.slice(slice_id).doc.sha256,
        "hashes": aw.hashes,
    }
    record.update(
        run_id=run_id,
        slice_id=slice_id,
        llm_mode=mode,
        status="running",
        cassette=provenance["cassette"],
        pid=os.getpid(),
    )
    record.setdefault("started_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    record.pop("error", None)  # an earlier attempt's error; this attempt records its own
    write_run(run_dir, record)
    config: RunnableConfig = {"configurable": {"thread_id": run_id}}
    transcript.event("run", "run_start" if fresh else "run_resume", slice=slice_id, llm_mode=mode)
    if fresh:  # the request itself, so every view of the run can open with it
        asked = aw.slice(slice_id)
        transcript.event(
            "run", "request", slice=slice_id, version=asked.meta.version, prose=asked.prose
        )
    state: JsonObject = {}
    status: RunStatus = "failed"
    error: EsdhError | None = None
    session = llm_session(
        ws,
        aw,
        mode=mode,
        base_url=base_url,
        transcript=transcript,
        label=slice_id,
        cassette_path=cassette_path,
        fresh=fresh,
        note_models=[aw.model_for("planner"), aw.model_for("critic")],
    )
    calls = tokens = 0
    models: set[str] = set()
    try:
        with session as llm, checkpointer(ws) as saver:
            context = RunContext(
                aw=aw,
                llm=llm.client,
                transcript=transcript,
                tools=bundle_tools(ws),
                run_dir=run_dir,
                provenance=provenance,
            )
            try:
                graph = build_graph().compile(checkpointer=saver)
                # "sync": each step's checkpoint is on disk before the next step starts, so
                # a run killed mid-node resumes from the step before it (never an older one).
                for chunk in graph.stream(
                    graph_input,
                    config,
                    context=context,
                    stream_mode="updates",
                    durability="sync",
                ):
                    for node, update in chunk.items():
                        if progress:
                            progress(node, update if isinstance(update, dict) else {})
                snapshot = graph.get_state(config)
            except EsdhError:
                # What the run knew when it stopped (its ledger, plan...), for the summary.
                with contextlib.suppress(Exception):
                    state = dict(graph.get_state(config).values)
                raise
            finally:
                calls, tokens = llm.budget.calls, llm.budget.tokens
                models = set(llm.client.models_used)
            state = dict(snapshot.values)
            waiting = [i.value for t in snapshot.tasks for i in t.interrupts]
            if waiting:
                status = "awaiting_approval"
                record["awaiting"] = waiting[0]
            else:
                status = state.get("outcome") or "failed"
                record.pop("awaiting", None)
    except EsdhError as exc:
        error = exc
        state = state or {}
        record["error"] = exc.one_line()
        transcript.event("run", "run_error", error=exc.one_line())
    except Exception as exc:
        # A bug, not a user mistake: record the run as failed, then let the CLI report it.
        record.update(
            status="failed",
            error=f"internal error: {type(exc).__name__}: {exc}",
            ended_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        write_run(run_dir, record)
        transcript.event("run", "run_error", error=record["error"])
        raise
    approval = Approval.model_validate(state["approval"]) if state.get("approval") else None
    if approval and approval.at and not record.get("approval_logged"):
        basis = state.get("approval_basis") or {}
        append_decision(
            ws,
            run_id,
            slice_id,
            approval,
            plan_hash=basis.get("plan_hash"),
            reused_from=basis.get("reused_from"),
        )
        record["approval_logged"] = True
    record.update(run_summary(state, status))
    before = record.get("llm") or {}
    record["llm"] = {
        "calls": before.get("calls", 0) + calls,
        "tokens": before.get("tokens", 0) + tokens,
        "models": sorted(set(before.get("models", [])) | models),
    }
    if status != "awaiting_approval":
        record["ended_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_run(run_dir, record)
    transcript.event("run", "run_end", status=status)
    return RunResult(run_id, slice_id, status, record, error)


def run_slice(
    ws: Workspace,
    slice_id: str,
    *,
    mode: LLMMode = "replay",
    base_url: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run one slice from the start."""
    run_id = _new_run_id(slice_id)
    return _execute(
        ws,
        run_id,
        slice_id,
        mode,
        base_url,
        {"run_id": run_id, "slice_id": slice_id},
        fresh=True,
        progress=progress,
        record={},
    )


def resume_run(
    ws: Workspace,
    run_id: str,
    *,
    approve: bool | None,
    comment: str = "",
    by: str | None = None,
    mode: LLMMode | None = None,
    base_url: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Continue a run from its last checkpoint; at the approval gate, approve or reject."""
    from langgraph.types import Command

    record = read_run(ws, run_id)
    status = record.get("status")
    if status in FINISHED:
        raise InputError(f"run {run_id} already finished ({status})")
    if status == "awaiting_approval" and approve is None:
        raise InputError(f"run {run_id} awaits approval", hint="pass --approve or --reject")
    if status != "awaiting_approval" and approve is not None:
        raise InputError(f"run {run_id} is not waiting for approval ({status})")
    graph_input: Any = None
    if approve is not None:
        graph_input = Command(
            resume={
                "approved": approve,
                "by": by or os.environ.get("ESDH_APPROVER") or getpass.getuser(),
                "comment": comment,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
    return _execute(
        ws,
        run_id,
        record["slice_id"],
        mode or record.get("llm_mode", "replay"),
        base_url,
        graph_input,
        fresh=False,
        progress=progress,
        record=record,
    )
