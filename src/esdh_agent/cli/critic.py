"""``esdh-agent critic eval | run | cases build``: critics as something you can measure."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    err_console,
    open_workspace,
    out_console,
    parse_llm_mode,
    print_table,
    sync_generated,
)
from esdh_agent.cli.run import BaseUrlOpt, LLMOpt
from esdh_agent.errors import ExitCode

__all__ = ["cases_app", "critic_app"]

critic_app = typer.Typer(
    help="Measure critics on labelled cases; rerun them on saved output.", no_args_is_help=True
)
cases_app = typer.Typer(help="The labelled cases critics are measured on.", no_args_is_help=True)
critic_app.add_typer(cases_app, name="cases")


NEEDS_RECORDING = int(ExitCode.NEEDS_RECORDING)
"""``critic eval``'s exit code when some cases could not be replayed (README "Exit codes")."""


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@critic_app.command("eval")
def eval_command(
    critics: Annotated[list[str] | None, typer.Argument(help="Critics (default: all).")] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Also score the templates and recordings at this git revision, side by side.",
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option("--min-accuracy", help="Exit 2 when a critic scores below this (a CI gate)."),
    ] = None,
    allow_unrecorded: Annotated[
        bool,
        typer.Option(
            "--allow-unrecorded",
            help=f"Exit 0 when some cases need recording (else exit {NEEDS_RECORDING}).",
        ),
    ] = False,
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            help="Ask each case N times (seeds differ) and report verdict flips.",
            min=1,
            max=20,
        ),
    ] = 1,
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", help="Temperature for every call (default: the template's)."),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            "--models", help="Comma-separated model ids to ask too (flips across models)."
        ),
    ] = None,
    llm: LLMOpt = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score critics on their labelled cases: accuracy, precision and recall on "should block".

    Every case the recordings hold is scored; a case whose calls the cassette lacks (a
    template changed since it was recorded) is listed as needing recording, with the command
    that records it. Exit codes: 0 every case scored; 2 a bad option, an unknown revision, or
    a critic below --min-accuracy; 6 some cases need recording (0 with --allow-unrecorded).
    """
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.errors import InputError
    from esdh_agent.evals.evaluate import (
        all_critics,
        below_accuracy,
        needs_recording,
        require_critic,
        score_critics,
    )

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    names = critics or all_critics(aw)
    for name in names:
        require_critic(aw, name)
    mode = parse_llm_mode(llm)
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
    rows = score_critics(
        ws,
        aw,
        names,
        mode,
        base_url,
        against=against,
        samples=samples,
        temperature=temperature,
        models=model_list,
    )
    failing = below_accuracy(rows, min_accuracy)
    if as_json:
        emit_json(rows)
    else:
        _print_eval(rows, against)
    if failing:
        raise InputError(f"accuracy below {min_accuracy:g} for {', '.join(failing)}")
    unrecorded = needs_recording(rows)
    if unrecorded and not allow_unrecorded:
        err_console().print(
            f"[yellow]needs recording:[/] {', '.join(unrecorded)} (their figures leave out the "
            "cases listed; record them with `esdh-agent cassettes record --stale-only "
            "--base-url URL`, or pass --allow-unrecorded)"
        )
        raise typer.Exit(NEEDS_RECORDING)


def _figures(summary: dict[str, Any], label: str) -> list[str]:
    cases = str(summary.get("cases", "—"))
    if summary.get("needs_recording"):
        cases = f"{summary['scored']} of {summary['cases']}"
    return [
        label,
        str(summary.get("template_version", "—")),
        cases,
        _fmt(summary.get("accuracy")),
        _fmt(summary.get("precision")),
        _fmt(summary.get("recall")),
        _fmt(summary.get("flip_rate")),
    ]


def _print_eval(rows: list[dict[str, Any]], against: str | None) -> None:
    from rich import box
    from rich.markup import escape

    console = out_console()
    table: list[list[str]] = []
    for row in rows:
        table.append(_figures(row["now"], row["now"]["critic"]))
        if against:
            then = row.get("against") or {}
            built_in = row["now"]["template_version"] == "built-in" and then.get("note")
            table.append(
                _figures({"template_version": "built-in"} if built_in else then, f"  @{against}")
            )
    print_table(
        console,
        ["critic", "version", "cases", "accuracy", "precision", "recall", "flips"],
        table,
        title="critic evaluation (should block = positive; cases: scored of all)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    for row in rows:
        now, name = row["now"], row["now"]["critic"]
        wrong = [o for o in now["outcomes"] if o["expected"] != o["predicted"]]
        if wrong:
            console.print(
                f"[bold]{name}[/] misjudged: "
                + ", ".join(
                    f"{o['case']} (expected {o['expected']}, got {o['predicted']})" for o in wrong
                )
            )
        for change in row.get("changed", []):
            console.print(
                f"  [yellow]changed[/] {name} on {change['case']}: "
                f"{change['before']} → {change['now']} (expected {change['expected']})"
            )
        then = row.get("against") or {}
        if then.get("note") and now["template_version"] != "built-in":
            console.print(f"  {name} @{against}: {escape(then['note'])}")
        elif then.get("needs_recording"):
            console.print(
                f"  {name} @{against}: {len(then['needs_recording'])} of {then['cases']} cases "
                f"were not recorded then ({', '.join(then['needs_recording'])})"
            )
        if now.get("needs_recording"):
            console.print(
                f"[yellow]needs recording[/] {name}: {len(now['needs_recording'])} of "
                f"{now['cases']} cases are not in its cassette "
                f"({', '.join(now['needs_recording'])}); record: {escape(now['record_with'])}"
            )


@critic_app.command("run")
def run_command(
    critic: Annotated[str, typer.Argument(help="Critic id (or rules).")],
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="A committed snapshot.")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="A run id.")] = None,
    llm: LLMOpt = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grade saved output again with the current template; nothing is regenerated."""
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.errors import InputError
    from esdh_agent.evals.evaluate import require_critic
    from esdh_agent.evals.inputs import inputs_from_run, inputs_from_snapshot
    from esdh_agent.evals.rerun import rerun_critic

    if (snapshot is None) == (run is None):
        raise InputError("give exactly one of --snapshot NAME or --run RUN_ID")
    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    require_critic(aw, critic)
    case, slice_id = (
        inputs_from_run(ws, run) if run else inputs_from_snapshot(ws, aw, snapshot or "")
    )
    mode = parse_llm_mode(llm)
    result = rerun_critic(ws, aw, critic, case, slice_id, mode=mode, base_url=base_url)
    verdict, events = result.verdict, result.events
    if as_json:
        emit_json({"verdict": verdict, "transcript": events})
        return
    from esdh_agent.agents.models import summary_line, verdict_reason, verdict_state
    from esdh_agent.cli.timeline import print_timeline

    console = out_console()
    console.print(
        f"[bold]{critic}[/]: {verdict_state(verdict)} (score {verdict.get('score')}) — "
        f"{summary_line(verdict.get('summary'))}"
    )
    console.print(f"  why: {verdict_reason(verdict)}")
    for finding in verdict["findings"]:
        console.print(
            f"  {'blocking' if finding.get('blocking') else finding.get('status')}: "
            f"{finding.get('severity')} {finding.get('message')} — {finding.get('reason')}"
        )
    if events:
        print_timeline(
            {
                "run_id": result.label,
                "slice_id": result.slice_id or "-",
                "status": verdict_state(verdict),
                "llm_mode": mode,
            },
            events,
            console,
        )


@cases_app.command("build")
def cases_build(
    check: Annotated[bool, typer.Option("--check", help="Only check they are current.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Build critics/cases/*.yaml from specs.yaml and real generator output."""
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.evals.cases import case_files

    aw = load_agent_workspace(open_workspace(workspace))
    sync_generated(case_files(aw), check, "critic cases", "esdh-agent critic cases build")
