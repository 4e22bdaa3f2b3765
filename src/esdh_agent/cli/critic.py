"""``esdh-agent critic eval | run | cases build``: critics as something you can measure."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, out_console
from esdh_agent.cli.run import BaseUrlOpt, LLMOpt, _mode

if TYPE_CHECKING:
    from esdh_agent.agents.context import AgentWorkspace, CriticTemplate
    from esdh_agent.agents.evaluate import EvalResult
    from esdh_agent.llm.client import LLMClient
    from esdh_agent.workspace import Workspace

__all__ = ["cases_app", "critic_app"]

critic_app = typer.Typer(
    help="Measure critics on labelled cases; rerun them on saved output.", no_args_is_help=True
)
cases_app = typer.Typer(help="The labelled cases critics are measured on.", no_args_is_help=True)
critic_app.add_typer(cases_app, name="cases")


def eval_cassette(ws: Workspace, critic: str) -> Path:
    return ws.paths.eval_cassette(critic)


@contextlib.contextmanager
def _client(
    ws: Workspace,
    aw: AgentWorkspace,
    mode: Any,
    base_url: str | None,
    label: str,
    cassette_path: Path | None,
    record_command: str,
) -> Iterator[LLMClient]:
    """An LLM client for a side job, its transcript under data/evals/, inside its cassette."""
    from esdh_agent.agents.session import llm_session
    from esdh_agent.llm.transcript import Transcript

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    transcript = Transcript(ws.paths.eval_transcript(f"{stamp}-{label}"), label)
    with llm_session(
        ws,
        aw,
        mode=mode,
        base_url=base_url,
        transcript=transcript,
        label=label,
        cassette_path=cassette_path,
        record_command=record_command,
    ) as session:
        yield session.client


def _template_at(ws: Workspace, rev: str, critic: str, folder: Path) -> tuple[CriticTemplate, Path]:
    """The critic template and eval cassette as they were at git revision ``rev``."""
    from esdh_agent.agents.context import CriticMeta, CriticTemplate
    from esdh_agent.agents.frontmatter import read_document
    from esdh_agent.errors import InputError

    def show(relative: str, target: Path) -> Path:
        done = subprocess.run(
            ["git", "-C", str(ws.root), "show", f"{rev}:./{relative}"], capture_output=True
        )
        if done.returncode != 0:
            raise InputError(
                f"{relative} does not exist at {rev!r}",
                hint=(done.stderr.decode(errors="replace").strip() or None),
            )
        target.write_bytes(done.stdout)
        return target

    template_path = show(f"critics/{critic}.md", folder / f"{critic}.md")
    cassette_path = show(f"cassettes/evals/{critic}.yaml", folder / f"{critic}.cassette.yaml")
    doc = read_document(template_path, CriticMeta)
    return CriticTemplate(doc.meta, doc), cassette_path


def _evaluate(
    ws: Workspace,
    aw: AgentWorkspace,
    critic: str,
    mode: Any,
    base_url: str | None,
    *,
    template: CriticTemplate | None,
    cassette_path: Path,
    samples: int,
    temperature: float | None,
    models: list[str] | None,
) -> EvalResult:
    from esdh_agent.agents.cases import load_cases
    from esdh_agent.agents.evaluate import evaluate
    from esdh_agent.errors import InputError

    cases = load_cases(aw, critic)
    if not cases:
        raise InputError(
            f"no labelled cases name critic {critic!r}",
            hint="add expectations for it in critics/cases/specs.yaml",
        )
    command = f"esdh-agent critic eval {critic} --llm record --base-url URL"
    if critic == "rules":
        return evaluate(aw, None, critic, cases)  # type: ignore[arg-type]
    with _client(ws, aw, mode, base_url, f"eval-{critic}", cassette_path, command) as llm:
        return evaluate(
            aw,
            llm,
            critic,
            cases,
            template=template,
            samples=samples,
            temperature=temperature,
            models=models,
        )


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

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    names = critics or [*aw.index.critics.rules, *aw.index.critics.llm]
    for name in names:
        if name != "rules" and name not in aw.critics:
            raise InputError(
                f"unknown critic {name!r}", hint=f"critics: rules, {', '.join(aw.critics)}"
            )
    mode = _mode(llm)
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            current = _evaluate(
                ws,
                aw,
                name,
                mode,
                base_url,
                template=None,
                cassette_path=eval_cassette(ws, name),
                samples=samples,
                temperature=temperature,
                models=model_list,
            )
            row: dict[str, Any] = {"now": current.summary()}
            if against and name != "rules":
                template, cassette_path = _template_at(ws, against, name, Path(tmp))
                before = _evaluate(
                    ws,
                    aw,
                    name,
                    "replay",
                    None,
                    template=template,
                    cassette_path=cassette_path,
                    samples=samples,
                    temperature=temperature,
                    models=model_list,
                )
                row["against"] = {"revision": against, **before.summary()}
                row["changed"] = [
                    {
                        "case": a.case,
                        "expected": a.expected,
                        "before": b.predicted,
                        "now": a.predicted,
                    }
                    for a, b in zip(current.outcomes, before.outcomes, strict=True)
                    if a.predicted != b.predicted
                ]
            rows.append(row)
    failing = [
        r["now"]["critic"]
        for r in rows
        if min_accuracy is not None and r["now"]["accuracy"] < min_accuracy
    ]
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
    from esdh_agent.agents.review import judge
    from esdh_agent.cli.critic_inputs import inputs_from_run, inputs_from_snapshot
    from esdh_agent.errors import InputError

    if (snapshot is None) == (run is None):
        raise InputError("give exactly one of --snapshot NAME or --run RUN_ID")
    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    if critic != "rules" and critic not in aw.critics:
        raise InputError(
            f"unknown critic {critic!r}", hint=f"critics: rules, {', '.join(aw.critics)}"
        )
    case, slice_id = (
        inputs_from_run(ws, run) if run else inputs_from_snapshot(ws, aw, snapshot or "")
    )
    mode = _mode(llm)
    if mode == "replay" and slice_id is None and critic != "rules":
        raise InputError(
            "this snapshot was made without the agent, so no recording holds its critic calls",
            hint="use --llm live or --llm record with --base-url",
        )
    cassette_path = (ws.root / "cassettes" / "slices" / f"{slice_id}.yaml") if slice_id else None
    if mode == "record" and cassette_path is not None:
        cassette_path = ws.root / "cassettes" / "critic-runs" / f"{critic}.yaml"
    label = slice_id or f"critic-{critic}"
    with _client(
        ws,
        aw,
        mode,
        base_url,
        label,
        cassette_path,
        f"esdh-agent critic run {critic} --llm record --base-url URL",
    ) as client:
        verdict = judge(aw, client, critic, case)
        events_path = client.transcript.path
    from esdh_agent.llm.transcript import read_transcript

    events = read_transcript(events_path)
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
            {"run_id": label, "slice_id": slice_id or "-", "status": state, "llm_mode": mode},
            events,
            console,
        )


@cases_app.command("build")
def cases_build(
    check: Annotated[bool, typer.Option("--check", help="Only check they are current.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Build critics/cases/*.yaml from specs.yaml and real generator output."""
    from esdh_agent.agents.cases import case_files
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.cli.admin import sync_files

    aw = load_agent_workspace(open_workspace(workspace))
    sync_files(case_files(aw), check, "critic cases", "esdh-agent critic cases build")
