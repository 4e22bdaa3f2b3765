"""``esdh-agent critic eval | run | cases build``: critics as something you can measure."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    open_workspace,
    out_console,
    parse_llm_mode,
    sync_generated,
)
from esdh_agent.cli.run import BaseUrlOpt, LLMOpt

__all__ = ["cases_app", "critic_app"]

critic_app = typer.Typer(
    help="Measure critics on labelled cases; rerun them on saved output.", no_args_is_help=True
)
cases_app = typer.Typer(help="The labelled cases critics are measured on.", no_args_is_help=True)
critic_app.add_typer(cases_app, name="cases")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@critic_app.command("eval")
def eval_command(
    critics: Annotated[list[str] | None, typer.Argument(help="Critics (default: all).")] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against", help="Also score the templates at this git revision, side by side."
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option("--min-accuracy", help="Exit 1 when a critic scores below this (a CI gate)."),
    ] = None,
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
    """Score critics on their labelled cases: accuracy, precision and recall on "should block"."""
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.errors import InputError
    from esdh_agent.evals.evaluate import (
        all_critics,
        below_accuracy,
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


def _print_eval(rows: list[dict[str, Any]], against: str | None) -> None:
    from rich.table import Table

    console = out_console()
    table = Table(title="critic evaluation (positive class: should block)")
    for column in ("critic", "version", "cases", "accuracy", "precision", "recall", "flips"):
        table.add_column(column)
    if against:
        for column in (f"accuracy @{against}", f"precision @{against}", f"recall @{against}"):
            table.add_column(column)
    for row in rows:
        now = row["now"]
        cells = [
            now["critic"],
            now["template_version"],
            str(now["cases"]),
            _fmt(now["accuracy"]),
            _fmt(now["precision"]),
            _fmt(now["recall"]),
            _fmt(now["flip_rate"]),
        ]
        if against:
            then = row.get("against") or {}
            cells += [
                _fmt(then.get("accuracy")),
                _fmt(then.get("precision")),
                _fmt(then.get("recall")),
            ]
        table.add_row(*cells)
    console.print(table)
    for row in rows:
        wrong = [o for o in row["now"]["outcomes"] if o["expected"] != o["predicted"]]
        if wrong:
            console.print(
                f"[bold]{row['now']['critic']}[/] misjudged: "
                + ", ".join(
                    f"{o['case']} (expected {o['expected']}, got {o['predicted']})" for o in wrong
                )
            )
        for change in row.get("changed", []):
            console.print(
                f"  [yellow]changed[/] {row['now']['critic']} on {change['case']}: "
                f"{change['before']} → {change['now']} (expected {change['expected']})"
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
    from esdh_agent.cli.timeline import print_timeline

    console = out_console()
    state = "abstained" if verdict.get("abstained") else "pass" if verdict["passed"] else "FAIL"
    console.print(
        f"[bold]{critic}[/]: {state} (score {verdict.get('score')}) — {verdict.get('summary')}"
    )
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
                "status": state,
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
