"""``esdh-agent run slice-generation``, ``resume``, ``approvals``, ``transcripts``, ``graph``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    err_console,
    open_workspace,
    parse_llm_mode,
    print_table,
)
from esdh_agent.cli.common import out_console as _out
from esdh_agent.cli.run_view import live_progress, print_result, progress_printer
from esdh_agent.cli.transcripts_extra import diff_command, export_command

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.graphs.slice_generation.runner import RunResult

__all__ = ["approvals_command", "graph_command", "resume_command", "run_app", "transcripts_app"]

run_app = typer.Typer(help="Run an agent graph.", no_args_is_help=True)
transcripts_app = typer.Typer(help="Read run transcripts.", no_args_is_help=True)

LLMOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="replay (default: recorded cassettes, no network), record "
        "(call the model and record) or live.",
        envvar="ESDH_LLM_MODE",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="OpenAI-compatible endpoint for record/live.", envvar="ESDH_LLM_BASE_URL"
    ),
]
SEVERITY = {0: 0, 7: 1, 4: 2, 3: 3, 5: 4, 2: 5, 1: 6}
"""Exit codes from least to most severe: several slices exit with the worst."""


StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 7 when a run commits but parts of its request were not honoured "
        "(not supported or declined), e.g. in CI.",
    ),
]


def _strict_code(result: RunResult) -> int:
    from esdh_agent.errors import ExitCode
    from esdh_agent.graphs.slice_generation.records import unhonoured_lines

    if result.exit_code == 0 and unhonoured_lines(result.summary):
        return int(ExitCode.NOT_HONOURED)
    return result.exit_code


def _finish(results: list[RunResult], as_json: bool, strict: bool = False) -> None:
    console = _out()
    codes = [_strict_code(r) if strict else r.exit_code for r in results]
    if as_json:
        emit_json(
            [
                {
                    "run_id": r.run_id,
                    "slice": r.slice_id,
                    "status": r.status,
                    "exit_code": code,
                    "error": r.error.one_line() if r.error else None,
                    **r.summary,
                }
                for r, code in zip(results, codes, strict=True)
            ]
        )
    else:
        for result in results:
            print_result(result, console)
            if result.error is not None:
                err_console().print(f"[red]error:[/] {result.error.one_line()}")
    worst = max(codes, default=0, key=lambda c: SEVERITY.get(c, 9))
    if worst:
        raise typer.Exit(worst)


@run_app.command("slice-generation")
def slice_generation(
    slices: Annotated[
        list[str] | None, typer.Option("--slice", help="Slice id (repeatable).")
    ] = None,
    all_slices: Annotated[
        bool, typer.Option("--all", help="Every slice in mop/index.yaml.")
    ] = False,
    llm: LLMOpt = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Plan, generate, validate, critique and commit a slice (the default slice if none given).

    Exit code: 0 committed (or unchanged), 3 refused, 4 awaiting approval, 7 committed with
    parts of the request not honoured (only with --strict); with several slices, the worst.
    """
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.graphs.slice_generation.runner import run_slice

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    chosen = list(aw.index.slices) if all_slices else (slices or [aw.index.default_slice])
    for slice_id in chosen:
        aw.slice(slice_id)
    mode = parse_llm_mode(llm)
    console = err_console()
    _note_interrupted(ws, console)
    results = []
    for slice_id in chosen:
        if as_json:
            results.append(run_slice(ws, slice_id, mode=mode, base_url=base_url))
            continue
        console.print(f"[bold]{slice_id}[/] ({mode})")
        with live_progress(console, slice_id) as progress:
            results.append(run_slice(ws, slice_id, mode=mode, base_url=base_url, progress=progress))
    _finish(results, as_json, strict)


def _note_interrupted(ws: Any, console: Console) -> None:
    """Say which earlier runs were interrupted (their process is gone) and how to go on."""
    from esdh_agent.graphs.slice_generation.records import interrupted_runs

    for run in interrupted_runs(ws):
        console.print(
            f"[yellow]note:[/] run {run['run_id']} ({run['slice_id']}) was "
            f"interrupted; `esdh-agent resume {run['run_id']}` continues it from its "
            "last checkpoint"
        )


def resume_command(
    run_id: Annotated[str, typer.Argument(help="Run id (see `esdh-agent approvals`).")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve the paused run.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the paused run.")] = False,
    comment: Annotated[str, typer.Option("--comment", help="Why (goes to the log).")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: you).")] = None,
    llm: LLMOpt = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue an interrupted run from its last checkpoint; approve or reject a paused one."""
    from esdh_agent.errors import InputError
    from esdh_agent.graphs.slice_generation.runner import resume_run

    if approve and reject:
        raise InputError("--approve and --reject exclude each other")
    ws = open_workspace(workspace)
    decision = True if approve else False if reject else None
    console = err_console()
    result = resume_run(
        ws,
        run_id,
        approve=decision,
        comment=comment,
        by=by,
        mode=parse_llm_mode(llm) if llm else None,
        base_url=base_url,
        progress=None if as_json else progress_printer(console, run_id),
    )
    _finish([result], as_json)


def approvals_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List runs waiting for a human approval."""
    from esdh_agent.graphs.slice_generation.records import list_runs

    waiting = [
        r for r in list_runs(open_workspace(workspace)) if r.get("status") == "awaiting_approval"
    ]
    if as_json:
        emit_json(
            [
                {
                    "run_id": r["run_id"],
                    "slice": r["slice_id"],
                    "reasons": (r.get("awaiting") or {}).get("reasons", []),
                    "resume_command": (r.get("gate_decision") or {}).get("resume_command"),
                    "started_at": r.get("started_at"),
                }
                for r in waiting
            ]
        )
        return
    console = _out()
    if not waiting:
        console.print("No runs are waiting for approval.")
    for r in waiting:
        reasons = "; ".join((r.get("awaiting") or {}).get("reasons", []))
        command = (r.get("gate_decision") or {}).get("resume_command") or (
            f"esdh-agent resume {r['run_id']} --approve|--reject"
        )
        console.print(f"{r['run_id']}  {r['slice_id']}  {reasons}", soft_wrap=True, markup=False)
        console.print(f"  {command} [--comment TEXT]", soft_wrap=True, markup=False)


def graph_command() -> None:
    """Print the slice-generation graph as a Mermaid diagram.

    Conditional edges carry their labels (refused, needs approval, approved, ...); the
    ``human_approval`` node, where a run pauses with ``interrupt()`` until
    ``esdh-agent resume``, is drawn as a human step.
    """
    from esdh_agent.graphs.slice_generation.graph import graph

    text = graph.get_graph().draw_mermaid().rstrip("\n")
    typer.echo(
        text + "\n\tclassDef interrupt fill:#fde68a,stroke:#b45309,stroke-width:2px"
        "\n\tclass human_approval interrupt\n"
    )


@transcripts_app.command("list")
def transcripts_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List runs, newest last (run ids in full; `--json` for scripts)."""
    from rich import box

    from esdh_agent.graphs.slice_generation.records import list_runs

    runs = list_runs(open_workspace(workspace))
    if as_json:
        emit_json(
            [
                {
                    k: r.get(k)
                    for k in ("run_id", "slice_id", "status", "started_at", "ended_at", "llm_mode")
                }
                for r in runs
            ]
        )
        return
    if not runs:
        _out().print("No runs yet. `esdh-agent run slice-generation` starts one.")
        return
    print_table(
        _out(),
        ("run", "slice", "status", "started (UTC)", "llm"),
        [
            (
                r["run_id"],
                r.get("slice_id", ""),
                r.get("status", ""),
                r.get("started_at", ""),
                r.get("llm_mode", ""),
            )
            for r in runs
        ],
        box=box.SIMPLE_HEAD,
    )


@transcripts_app.command("show")
def transcripts_show(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a run's timeline: plan, gate, validator, verdicts, re-asks, tokens, decisions."""
    from esdh_agent.cli.timeline import print_timeline
    from esdh_agent.graphs.slice_generation.records import read_run
    from esdh_agent.llm.transcript import read_transcript

    ws = open_workspace(workspace)
    record = read_run(ws, run_id)
    events = read_transcript(ws.paths.transcript(run_id))
    if as_json:
        from esdh_agent.transcripts.ledger_view import ledger_json

        emit_json({"run": record, "events": events, "requirements": ledger_json(record, events)})
        return
    print_timeline(record, events, _out())


transcripts_app.command("diff")(diff_command)
transcripts_app.command("export")(export_command)
