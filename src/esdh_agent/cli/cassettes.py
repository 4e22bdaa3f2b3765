"""``esdh-agent cassettes check | record``: keep the recordings honest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, out_console
from esdh_agent.cli.run import BaseUrlOpt

if TYPE_CHECKING:
    from esdh_agent.evals.cassettes import CassetteReport

__all__ = ["app"]

app = typer.Typer(help="Check and re-record the model-call cassettes.", no_args_is_help=True)


def _print(reports: list[CassetteReport]) -> None:
    console = out_console()
    for r in reports:
        if r.ok:
            console.print(
                f"[green]ok[/]      {r.kind:<7} {r.name:<20} {r.interactions} "
                f"interactions, all used ({r.path})"
            )
            continue
        console.print(f"[red]problem[/] {r.kind:<7} {r.name:<20} ({r.path})")
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
    from esdh_agent.evals.cassettes import (
        prune_all,
        record_eval,
        record_slice,
        recording_targets,
    )

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    console = out_console()
    chosen_slices, chosen_evals = recording_targets(
        ws, aw, slices=slices, evals=evals, stale_only=stale_only
    )
    for slice_id in chosen_slices:
        console.print(f"recording slice {slice_id}: {record_slice(ws, slice_id, base_url)}")
    for critic in chosen_evals:
        record_eval(ws, critic, base_url)
        console.print(f"recording eval suite {critic}: done")
    console.print(f"pruned {prune_all(ws)} orphaned interaction(s)")
