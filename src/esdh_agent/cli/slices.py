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
