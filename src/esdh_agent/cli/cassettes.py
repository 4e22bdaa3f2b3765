"""``esdh-agent cassettes check | record``: keep the recordings honest."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Annotated, Any

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, out_console
from esdh_agent.cli.run import BaseUrlOpt

if TYPE_CHECKING:
    from esdh_agent.evals.cassettes import CassetteReport
    from esdh_agent.workspace import Workspace

__all__ = ["app"]

app = typer.Typer(help="Check and re-record the model-call cassettes.", no_args_is_help=True)


def _print(reports: list[CassetteReport]) -> None:
    console = out_console()
    for r in reports:
        if r.ok:
            console.print(
                f"[green]ok[/]      {r.kind:<5} {r.name:<20} {r.interactions} "
                f"interactions, all used ({r.path})"
            )
            continue
        console.print(f"[red]problem[/] {r.kind:<5} {r.name:<20} ({r.path})")
        for stale in r.stale:
            console.print(f"          stale: {stale}")
        if r.orphaned:
            console.print(
                f"          orphaned: {len(r.orphaned)} of {r.interactions} recorded "
                f"interactions are never played (#{', #'.join(map(str, r.orphaned[:8]))})"
            )
        for secret in r.secrets:
            console.print(f"          secret-bearing: {secret}")
        if r.error:
            console.print(f"          error: {r.error}")


def _as_json(reports: list[CassetteReport]) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "name": r.name,
            "path": r.path,
            "ok": r.ok,
            "interactions": r.interactions,
            "stale": r.stale,
            "orphaned": r.orphaned,
            "secrets": r.secrets,
            "error": r.error,
        }
        for r in reports
    ]


@app.command("check")
def check_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Replay every slice and eval suite against the current prompts; exit 1 on stale,
    orphaned or secret-bearing cassettes."""
    from esdh_agent.errors import EsdhError
    from esdh_agent.evals.cassettes import check_all

    reports = check_all(open_workspace(workspace))
    if as_json:
        emit_json(_as_json(reports))
    else:
        _print(reports)
    bad = [r.name for r in reports if not r.ok]
    if bad:
        raise EsdhError(
            f"{len(bad)} cassette(s) need attention: {', '.join(bad)}",
            hint="`esdh-agent cassettes record --stale-only --base-url URL`",
        )


def _record_slice(ws: Workspace, slice_id: str, base_url: str | None) -> str:
    from esdh_agent.evals.cassettes import _scratch
    from esdh_agent.graphs.slice_generation.runner import resume_run, run_slice

    with _scratch(ws) as scratch:
        result = run_slice(scratch, slice_id, mode="record", base_url=base_url)
        if result.status == "awaiting_approval":
            result = resume_run(
                scratch,
                result.run_id,
                approve=True,
                comment="recording",
                by="cassettes-record",
                mode="record",
                base_url=base_url,
            )
        if result.error is not None:
            raise result.error
        for suffix in (".yaml", ".meta.yaml"):
            name = f"{slice_id}{suffix}"
            shutil.copy2(
                scratch.root / "cassettes" / "slices" / name,
                ws.root / "cassettes" / "slices" / name,
            )
        return result.status


def _record_eval(ws: Workspace, critic: str, base_url: str | None) -> None:
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.cli.critic import _evaluate, eval_cassette
    from esdh_agent.evals.cassettes import _scratch

    with _scratch(ws) as scratch:
        target = eval_cassette(scratch, critic)
        target.unlink(missing_ok=True)
        _evaluate(
            scratch,
            load_agent_workspace(scratch),
            critic,
            "record",
            base_url,
            template=None,
            cassette_path=target,
            samples=1,
            temperature=None,
            models=None,
        )
        destination = eval_cassette(ws, critic)
        destination.parent.mkdir(parents=True, exist_ok=True)
        for source in (target, target.with_suffix(".meta.yaml")):
            shutil.copy2(source, destination.parent / source.name)


@app.command("record")
def record_command(
    stale_only: Annotated[
        bool, typer.Option("--stale-only", help="Only re-record cassettes `check` finds stale.")
    ] = False,
    slices: Annotated[list[str] | None, typer.Option("--slice", help="Only these slices.")] = None,
    evals: Annotated[
        list[str] | None, typer.Option("--eval", help="Only these eval suites.")
    ] = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Re-record cassettes from a model server (--base-url; scripts/record_cassettes.py starts
    the local one), then prune interactions nothing uses any more."""
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.evals.cassettes import check_all, prune_orphans

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    console = out_console()
    chosen_slices = slices if slices is not None else ([] if evals else list(aw.index.slices))
    chosen_evals = evals if evals is not None else ([] if slices else list(aw.index.critics.llm))
    if stale_only:
        reports = check_all(ws)
        stale = {(r.kind, r.name) for r in reports if r.stale or r.error}
        chosen_slices = [s for s in chosen_slices if ("slice", s) in stale]
        chosen_evals = [c for c in chosen_evals if ("eval", c) in stale]
    for slice_id in chosen_slices:
        console.print(f"recording slice {slice_id}: {_record_slice(ws, slice_id, base_url)}")
    for critic in chosen_evals:
        _record_eval(ws, critic, base_url)
        console.print(f"recording eval suite {critic}: done")
    pruned = 0
    for report in check_all(ws):
        if report.orphaned and not report.stale:
            pruned += prune_orphans(ws.root / report.path, report.orphaned)
    console.print(f"pruned {pruned} orphaned interaction(s)")
