"""``esdh-agent snapshots prune`` and ``esdh-agent runs prune``: dry runs unless --apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, out_console

if TYPE_CHECKING:
    from esdh_agent.snapshots.prune import Prune
    from esdh_agent.workspace import Workspace

__all__ = ["runs_app", "snapshots_prune"]

runs_app = typer.Typer(help="Manage agent runs.", no_args_is_help=True)

KeepOpt = Annotated[int | None, typer.Option("--keep", help="Keep the newest N.")]
OlderOpt = Annotated[
    float | None, typer.Option("--older-than", help="Only what is older than this many days.")
]
ApplyOpt = Annotated[
    bool, typer.Option("--apply", help="Really delete (the default is a dry run that only lists).")
]


def _report(what: str, prune: Prune, leftovers: list[str], apply: bool, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "applied": apply,
                "remove": prune.remove,
                "keep": prune.keep,
                "protected": prune.protected,
                "leftovers": leftovers,
            }
        )
        return
    console = out_console()
    verb = "removed" if apply else "would remove"
    console.print(
        f"{what}: {verb} {len(prune.remove)}, keeping {len(prune.keep)}"
        + ("" if apply else " (dry run: add --apply)")
    )
    for name in prune.remove:
        console.print(f"  - {name}")
    for name, why in prune.protected.items():
        console.print(f"  [yellow]protected[/] {name}: {why}")
    for item in leftovers:
        console.print(f"  {'cleaned' if apply else 'would clean'} {item}")


def _finish(kind: str, ws: Workspace, prune: Prune, apply: bool, as_json: bool) -> None:
    """Clean leftovers (or list them on a dry run) and report what the prune did."""
    from esdh_agent.graphs.slice_generation.housekeeping import clean_leftovers

    _report(kind, prune, clean_leftovers(ws, apply=apply), apply, as_json)


def snapshots_prune(
    keep: KeepOpt = None,
    older_than: OlderOpt = None,
    apply: ApplyOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove old snapshots (never one another manifest depends on) and staging leftovers."""
    from esdh_agent.snapshots.prune import apply_snapshot_prune, plan_snapshot_prune

    ws = open_workspace(workspace)
    prune = plan_snapshot_prune(ws.store(), keep=keep, older_than=older_than)
    if apply:
        apply_snapshot_prune(ws.store(), prune)
    _finish("snapshots", ws, prune, apply, as_json)


@runs_app.command("prune")
def runs_prune(
    keep: KeepOpt = None,
    older_than: OlderOpt = None,
    apply: ApplyOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove finished runs (transcripts, checkpoints); waiting and live runs are kept."""
    from esdh_agent.graphs.slice_generation.housekeeping import apply_run_prune, plan_run_prune

    ws = open_workspace(workspace)
    prune = plan_run_prune(ws, keep=keep, older_than=older_than)
    if apply:
        apply_run_prune(ws, prune)
    _finish("runs", ws, prune, apply, as_json)
