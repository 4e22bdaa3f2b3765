"""``esdh-agent slices list | new``: the slice prompts of a workspace.

Every ``prompts/<id>.md`` is a slice (mop/index.yaml may list some to fix their order), so a
new slice needs no edit of the index: ``slices new ID`` writes a starter file with valid
front matter, and it runs as soon as its model calls are recorded.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, out_console

__all__ = ["app"]

app = typer.Typer(help="The slice prompts: list them, start a new one.", no_args_is_help=True)

STARTER = """\
---
id: {id}
version: 0.1.0
owner: {owner}
dataset_version: {dataset_version}
# Pinned requirements are enforced whatever the planner answers; everything else is planned
# from the request below. `esdh-agent plan schema` lists the fields, e.g. person_count,
# state_mix, lob_mix, age_bands, vehicles_per_person, edge_cases. `locked: true` keeps every
# field not pinned at its default.
pinned:
  dataset_version: {dataset_version}
---
Describe the test data you need in plain words, as you would to a colleague: how many persons,
which states and lines of business, driver ages, vehicles per person, model years, edge cases
(hyphenated or non-ASCII names, boundary ages…), and what the data is for.
"""


@app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every slice: listed in mop/index.yaml (in its order), then the others in prompts/."""
    from esdh_agent.agents.context import load_agent_workspace

    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    listed = set(_index_slices(ws.root / "mop" / "index.yaml"))
    rows: list[dict[str, Any]] = []
    for slice_id in aw.index.slices:
        meta = aw.slice(slice_id).meta
        cassette = ws.paths.slice_cassette(slice_id)
        rows.append(
            {
                "id": slice_id,
                "version": meta.version,
                "owner": meta.owner,
                "in_index": slice_id in listed,
                "default": slice_id == aw.index.default_slice,
                "recorded": cassette.is_file(),
                "cassette": ws.paths.relative(cassette),
            }
        )
    if as_json:
        emit_json(rows)
        return
    from esdh_agent.cli.common import print_table

    console = out_console()
    print_table(
        console,
        ["slice", "version", "owner", "order", "recorded"],
        [
            [
                r["id"] + (" (default)" if r["default"] else ""),
                r["version"],
                r["owner"],
                "index" if r["in_index"] else "by id",
                "yes" if r["recorded"] else "no",
            ]
            for r in rows
        ],
    )
    missing = [r["id"] for r in rows if not r["recorded"]]
    if missing:
        console.print(
            f"not recorded yet: {', '.join(missing)} — record with `esdh-agent cassettes "
            "record --stale-only --base-url URL`"
        )


@app.command("new")
def new_command(
    slice_id: Annotated[str, typer.Argument(metavar="ID", help="The new slice's id.")],
    owner: Annotated[str, typer.Option("--owner", help="Who owns the slice.")] = "qa",
    workspace: WorkspaceOpt = None,
) -> None:
    """Write prompts/ID.md, a starter slice with valid front matter; no index edit needed."""
    from pydantic import ValidationError

    from esdh_agent.agents.context import SliceMeta, load_agent_workspace
    from esdh_agent.errors import InputError

    ws = open_workspace(workspace)
    versions = ws.policy().approval.approved_dataset_versions
    try:
        SliceMeta(id=slice_id, version="0.1.0", owner=owner, dataset_version=versions[-1])
    except ValidationError:
        raise InputError(
            f"{slice_id!r} is not a slice id",
            hint="lower-case letters, digits and dashes, starting with a letter or digit",
        ) from None
    path = ws.root / "prompts" / f"{slice_id}.md"
    if path.exists():
        raise InputError(f"slice {slice_id!r} already exists: {ws.paths.relative(path)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = STARTER.format(id=slice_id, owner=_yaml_text(owner), dataset_version=versions[-1])
    path.write_text(text, encoding="utf-8")
    try:
        load_agent_workspace(ws)  # the new file is a valid slice (and the workspace still is)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    where = ws.paths.relative(path)
    out_console().print(
        f"[green]wrote[/] {where}: slice {slice_id}, found by its file name\n"
        f"  1. describe the data you need in its prose (and pin what must not change)\n"
        f"  2. record its model calls: esdh-agent cassettes record --slice {slice_id} "
        "--base-url URL\n"
        f"     (or .venv/bin/python scripts/record_cassettes.py --slice {slice_id})\n"
        f"  3. run it: esdh-agent run slice-generation --slice {slice_id}"
    )


def _yaml_text(value: str) -> str:
    """``value`` as a YAML scalar on one line."""
    import json

    return json.dumps(value, ensure_ascii=False)


def _index_slices(index: Any) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(index.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    items = data.get("slices") if isinstance(data, dict) else None
    return [str(i) for i in items] if isinstance(items, list) else []


@app.command("eval")
def eval_command(
    corpus: Annotated[
        str | None,
        typer.Option("--corpus", help="Labelled corpus directory (default: corpus/requests)."),
    ] = None,
    readers: Annotated[
        list[str] | None,
        typer.Option("--reader", help="grammar, model or combined (repeatable; default: all)."),
    ] = None,
    cases: Annotated[list[str] | None, typer.Option("--case", help="Only this case id.")] = None,
    llm: Annotated[
        str | None,
        typer.Option("--llm", help="replay (default), record or live, for the model reader."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Endpoint for record/live.")
    ] = None,
    min_precision: Annotated[
        float | None,
        typer.Option("--min-precision", help="Exit 1 when the combined precision is below."),
    ] = None,
    min_recall: Annotated[
        float | None,
        typer.Option("--min-recall", help="Exit 1 when the combined recall is below."),
    ] = None,
    misses: Annotated[
        bool, typer.Option("--misses", help="List every missed and spurious requirement.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score how requests are read: requirement-level precision and recall on the labelled
    corpus, for the grammar alone, the model alone (replayed) and both combined."""
    from pathlib import Path

    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.cli.common import parse_llm_mode, print_table
    from esdh_agent.errors import InputError
    from esdh_agent.evals.request_eval import READERS, corpus_dir, evaluate_corpus

    chosen = list(readers or READERS)
    unknown = [r for r in chosen if r not in READERS]
    if unknown:
        raise InputError(f"--reader {unknown[0]!r} is not one of {', '.join(READERS)}")
    ws = open_workspace(workspace)
    aw = load_agent_workspace(ws)
    directory = Path(corpus) if corpus else corpus_dir(ws)
    if not directory.is_dir():
        raise InputError(f"no corpus at {directory}", hint="pass --corpus DIR")
    report = evaluate_corpus(
        ws,
        aw,
        directory,
        readers=chosen,
        mode=parse_llm_mode(llm),
        base_url=base_url,
        only=cases or (),
    )
    figures = {name: report.scores(name) for name in chosen}
    rows = []
    for name, s in figures.items():
        rows.append(
            {
                "reader": name,
                "cases": s.cases,
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "f1": round(s.f1, 4),
                "tolerance_accuracy": round(s.tolerance_accuracy, 4),
                "tp": s.total.tp,
                "fp": s.total.fp,
                "fn": s.total.fn,
            }
        )
    floor = figures.get("combined")
    failed = []
    if floor is not None and min_precision is not None and floor.precision < min_precision:
        failed.append(f"combined precision {floor.precision:.3f} is below {min_precision}")
    if floor is not None and min_recall is not None and floor.recall < min_recall:
        failed.append(f"combined recall {floor.recall:.3f} is below {min_recall}")
    if as_json:
        emit_json(
            {
                "corpus": str(directory),
                "cases": report.cases,
                "readers": rows,
                "unrecorded": report.unrecorded,
                "below_floor": failed,
            }
        )
    else:
        console = out_console()
        print_table(
            console,
            ["reader", "cases", "precision", "recall", "f1", "tolerance", "tp", "fp", "fn"],
            [
                [
                    str(r["reader"]),
                    str(r["cases"]),
                    f"{r['precision']:.3f}",
                    f"{r['recall']:.3f}",
                    f"{r['f1']:.3f}",
                    f"{r['tolerance_accuracy']:.3f}",
                    str(r["tp"]),
                    str(r["fp"]),
                    str(r["fn"]),
                ]
                for r in rows
            ],
        )
        if report.unrecorded:
            console.print(
                f"model reader: {len(report.unrecorded)} case(s) not recorded (left out of the "
                f"model's figures; combined reads them with the grammar alone): "
                f"{', '.join(report.unrecorded[:8])}"
                + (" ..." if len(report.unrecorded) > 8 else "")
            )
        if misses:
            _print_misses(console, report, chosen)
        for line in failed:
            console.print(f"[red]below the floor:[/] {line}")
    if failed:
        raise typer.Exit(1)


def _print_misses(console: Any, report: Any, readers: list[str]) -> None:
    for name in readers:
        for reading in report.readings[name]:
            result = reading.result
            lines = [f"  missed  {e.label()}  “{e.quote}”" for e in result.false_negatives]
            lines += [f"  extra   {g.label()}  “{g.quote}”" for g in result.false_positives]
            lines += [
                f"  tolerance {g.tolerance} (expected {e.tolerance})  “{g.quote}”"
                for e, g in result.tolerance_mismatches
            ]
            if lines:
                console.print(f"[bold]{name}[/] {reading.case.id}", highlight=False)
                for line in lines:
                    console.print(line, highlight=False, markup=False)
