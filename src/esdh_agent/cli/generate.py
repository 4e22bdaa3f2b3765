"""``esdh-agent generate`` and ``esdh-agent validate``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    err_console,
    open_workspace,
    out_console,
    print_report,
)

if TYPE_CHECKING:
    from esdh_agent.core.plan import GenerationPlan
    from esdh_agent.core.report import ValidationReport
    from esdh_agent.engines.pipeline import BuildResult

__all__ = ["generate_command", "load_plan", "validate_command"]


def load_plan(path: Path | None, overrides: dict[str, Any]) -> GenerationPlan:
    """The plan file (YAML or JSON; defaults when absent) with command-line overrides."""
    from esdh_agent.core.plan import GenerationPlan
    from esdh_agent.core.yamlio import load_yaml, parse_model
    from esdh_agent.errors import PlanError

    data: dict[str, Any] = {}
    node = None
    source = "plan"
    if path is not None:
        source = str(path)
        if path.is_dir():
            raise PlanError(f"{path} is a directory, not a plan file")
        raw, node = load_yaml(path, error=PlanError)
        if raw is not None and not isinstance(raw, dict):
            raise PlanError("a plan must be a mapping of fields", location=source)
        data = dict(raw or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_model(
        GenerationPlan,
        data,
        source=source,
        node=node,
        error=PlanError,
        hint="`esdh-agent plan schema` lists every field",
    )


def generate_command(
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="GenerationPlan file (YAML or JSON).", dir_okay=False),
    ] = None,
    persons: Annotated[int | None, typer.Option("--persons", help="Number of persons.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of every stream.")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Dataset version, e.g. v0.1.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Snapshot name; ids are keyed on it. Default: the dataset version (v0.1) "
            "when the plan is that version's default plan (nothing but --version set), else "
            "<version>-<first 8 hex digits of the plan's SHA-256>, e.g. v0.1-1a2b3c4d.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Worker processes, or Dask workers of a local cluster (default: workspace).",
        ),
    ] = None,
    formats: Annotated[
        str | None,
        typer.Option("--format", help="Comma-separated: csv,json,parquet (csv always)."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Where blocks run: local or dask (default: workspace)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of an existing Dask scheduler (with --engine dask); without it, "
            "a local Dask cluster of --workers processes is started.",
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            help="single: one file per entity and format; parts: one file per block "
            "(default: workspace). The content hash is the same.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate, validate and commit a snapshot (the v0.1 baseline by default)."""
    from esdh_agent.core.plan import block_count
    from esdh_agent.core.policy import enforce
    from esdh_agent.engines import make_engine
    from esdh_agent.engines.options import ExecutionOptions
    from esdh_agent.errors import ValidationFailed

    ws = open_workspace(workspace)
    plan = load_plan(plan_file, {"person_count": persons, "seed": seed, "dataset_version": version})
    policy = ws.policy()
    enforce(policy, plan, str(plan_file) if plan_file else "plan")
    options = ExecutionOptions.resolve(
        ws.settings,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        layout=layout,
        formats=formats,
    )
    # The workers' server starts now: its imports overlap the build's below.
    make_engine(options.engine, options.workers, options.scheduler).start(
        block_count(plan.person_count)
    )
    from esdh_agent.core.layout import default_snapshot_name
    from esdh_agent.engines.pipeline import build_snapshot

    snapshot = name if name is not None else default_snapshot_name(plan)
    console = err_console()
    progress_cb, progress = _progress(console, enabled=not as_json)
    try:
        result = build_snapshot(
            plan,
            vocab=ws.vocabulary(),
            store=ws.store(),
            marker=policy.required_marker,
            name=snapshot,
            formats=options.formats,
            workers=options.workers,
            provenance={"command": "generate", "tool": "esdh-agent"},
            progress=progress_cb,
            engine=options.engine,
            scheduler=options.scheduler,
            layout=options.layout,
        )
    except ValidationFailed as exc:
        if progress is not None:
            progress.stop()
        report = cast("ValidationReport | None", exc.report)
        if as_json and report is not None:
            emit_json(
                {
                    "status": "invalid",
                    "error": exc.message,
                    "validation": report.model_dump(mode="json"),
                }
            )
        elif report is not None:
            print_report(report, console)
        raise
    finally:
        if progress is not None:
            progress.stop()
    _summary(result, as_json)


def _progress(console: Any, enabled: bool) -> tuple[Any, Any]:
    if not enabled or not console.is_terminal:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "generating blocks",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    progress.start()
    task = progress.add_task("blocks", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update, progress


def _summary(result: BuildResult, as_json: bool) -> None:
    manifest = result.commit.manifest
    data = {
        "status": result.commit.status,
        "name": manifest.name,
        "path": str(result.commit.path),
        "content_hash": manifest.content_hash,
        "rows": result.rows,
        "files": [f.path for f in manifest.files],
        "validation": result.report.summary(),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    if as_json:
        emit_json(data)
        return
    console = out_console()
    verb = "Committed" if result.commit.status == "committed" else "Unchanged"
    rows = ", ".join(f"{n:,} {e}" for e, n in result.rows.items())
    console.print(f"[green]{verb}[/] snapshot [bold]{manifest.name}[/]: {rows}")
    if result.commit.status == "unchanged":
        console.print(
            "  identical content is already committed under this name; nothing was written"
        )
    console.print(f"  path          {result.commit.path}")
    console.print(f"  content hash  {manifest.content_hash}")
    if manifest.layout == "parts":
        parts = sum(1 for f in manifest.files if "/" in f.path)
        console.print(f"  files         {parts} parts in persons/, vehicles/, profiles/")
    else:
        console.print(f"  files         {', '.join(f.path for f in manifest.files)}")
    s = result.report.summary()
    console.print(
        f"  validation    {s['error']} errors, {s['warning']} warnings "
        f"({len(result.report.rules)} rules)"
    )
    console.print(f"  time          {result.seconds['wall']:.2f} s")


def validate_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Snapshot directory (persons/vehicles/profiles "
            "CSV), or the name of a committed snapshot."
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date for age rules (default: from the snapshot)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a snapshot on disk, whoever produced it. Exit 5 on error-level findings."""
    from esdh_agent.errors import ExitCode, InputError
    from esdh_agent.snapshots.operations import validate_path

    ws = open_workspace(workspace)
    date = None
    if as_of is not None:
        try:
            date = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    target = path
    if not path.exists() and "/" not in str(path):
        target = ws.store().path(str(path))
    if not target.exists():
        raise InputError(f"no such snapshot or directory: {path}")
    report = validate_path(ws, target, date)
    if as_json:
        emit_json({"path": str(target), "ok": report.ok, **report.model_dump(mode="json")})
    else:
        print_report(report, out_console())
    if not report.ok:
        raise typer.Exit(int(ExitCode.INVALID))
