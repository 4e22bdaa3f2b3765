"""Shared CLI plumbing: global state, the workspace option, consoles and JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.core.report import ValidationReport
    from esdh_agent.workspace import Workspace

__all__ = [
    "STATE",
    "JsonOpt",
    "WorkspaceOpt",
    "emit_json",
    "err_console",
    "open_workspace",
    "out_console",
    "print_report",
]


@dataclass
class State:
    workspace: Path | None = None
    debug: bool = False


STATE = State()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace directory (default: $ESDH_WORKSPACE, else found above the current "
        "directory).",
        file_okay=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def open_workspace(explicit: Path | None) -> Workspace:
    from esdh_agent.workspace import find_workspace

    return find_workspace(explicit or STATE.workspace)


def out_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_report(report: ValidationReport, console: Console, limit: int = 25) -> None:
    """Findings, errors first, one line each."""
    from rich.markup import escape

    summary = report.summary()
    rows = ", ".join(f"{n:,} {e}" for e, n in report.rows.items())
    console.print(
        f"Validation: {summary['error']} error, {summary['warning']} warning, "
        f"{summary['info']} info finding(s) over {rows}; {len(report.rules)} rules checked."
    )
    for finding in report.findings[:limit]:
        colour = {"error": "red", "warning": "yellow"}.get(finding.severity, "cyan")
        where = f"{finding.entity}.{finding.field}" if finding.field else finding.entity
        samples = f" e.g. {'; '.join(finding.samples[:3])}" if finding.samples else ""
        console.print(
            f"  [{colour}]{finding.severity:<7}[/] {finding.rule:<28} {where:<32} "
            f"{finding.count:>8,}  {escape(finding.message)}.{escape(samples)}"
        )
    if len(report.findings) > limit:
        console.print(f"  … and {len(report.findings) - limit} more (use --json for all)")


def parse_llm_mode(value: str | None) -> Any:
    """``--llm``: replay (the default), record or live."""
    from esdh_agent.errors import InputError

    mode = (value or "replay").lower()
    if mode not in ("replay", "record", "live"):
        raise InputError(f"--llm {value!r} is not replay, record or live")
    return mode


def sync_generated(files: dict[Path, str], check: bool, what: str, command: str) -> None:
    """Write generated files, or with ``check`` fail when any committed one is stale."""
    from esdh_agent.errors import WorkspaceError
    from esdh_agent.workspace.sync import stale_files, write_files

    if check:
        stale = stale_files(files)
        if stale:
            raise WorkspaceError(
                f"{what} not current: {', '.join(str(p) for p in stale)}",
                hint=f"run `{command}`",
            )
        out_console().print(f"[green]OK[/] {what} are current ({len(files)} files)")
        return
    changed = write_files(files)
    out_console().print(f"Wrote {len(files)} files ({len(changed)} changed)")
