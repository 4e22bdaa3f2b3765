"""Shared CLI plumbing: global state, the workspace option, consoles and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

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
    "print_table",
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


def print_table(
    console: Console,
    columns: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    **table_options: Any,
) -> None:
    """Rows as a table, with nothing ever cut: no identifier, value or header is truncated.

    The table is printed when it fits the console at its natural width (every cell on one
    line). When it does not (a narrow terminal, or 80 columns in a pipe), each row becomes a
    block: its first cell (the row's identifier) alone on a line, then one ``header  value``
    line per other column, so every id can be copied whole. ``table_options`` go to
    ``rich.table.Table`` (``title``, ``box``, ``padding``...).
    """
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    cells = [[c if isinstance(c, Text) else Text(str(c)) for c in row] for row in rows]
    table = Table(**table_options)
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ignore")
    for row in cells:
        table.add_row(*row)
    natural = Measurement.get(console, console.options.update_width(1_000_000), table)
    if natural.maximum <= console.width:
        console.print(table)
        return
    if table_options.get("title"):
        console.print(Text(str(table_options["title"]), style="bold"))
    width = max((len(c) for c in columns[1:]), default=0)
    for row in cells:
        console.print(row[0] if row else Text(""), soft_wrap=True, crop=False)
        for header, cell in zip(columns[1:], row[1:], strict=False):
            console.print(Text(f"  {header:<{width}}  ") + cell, soft_wrap=True, crop=False)


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
