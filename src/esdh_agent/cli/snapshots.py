"""``esdh-agent snapshots list | show | verify | diff | reproduce``."""

from __future__ import annotations

from typing import Annotated

import typer

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    open_workspace,
    out_console,
    print_table,
)

__all__ = ["app"]

app = typer.Typer(
    help="Inspect, verify, compare and reproduce committed snapshots.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Snapshot name.")]


@app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List committed snapshots (names in full; `--json` for scripts)."""
    from rich import box

    from esdh_agent.errors import SnapshotCorrupt

    store = open_workspace(workspace).store()
    manifests = []
    broken = []
    for snapshot in store.names():
        try:
            manifests.append(store.manifest(snapshot))
        except SnapshotCorrupt:
            broken.append(snapshot)
    if as_json:
        emit_json(
            [
                {
                    "name": m.name,
                    "dataset_version": m.dataset_version,
                    "persons": m.entities["persons"].rows,
                    "content_hash": m.content_hash,
                    "committed_at": m.committed_at,
                }
                for m in manifests
            ]
            + [{"name": b, "error": "unreadable manifest"} for b in broken]
        )
        return
    console = out_console()
    if not manifests and not broken:
        console.print("No snapshots yet. `esdh-agent generate` makes the baseline.")
        return
    # Names in full (a narrow terminal gets one block per snapshot); the content hash is
    # shown by its first 16 hex digits (`snapshots show` and --json give it whole).
    print_table(
        console,
        ("name", "version", "persons", "vehicles", "seed", "committed (UTC)", "content hash"),
        [
            (
                m.name,
                m.dataset_version,
                f"{m.entities['persons'].rows:,}",
                f"{m.entities['vehicles'].rows:,}",
                str(m.seed),
                m.committed_at,
                m.content_hash[:23],
            )
            for m in manifests
        ],
        box=box.SIMPLE_HEAD,
    )
    for name in broken:
        console.print(f"[red]{name}: unreadable manifest[/] (`esdh-agent snapshots verify {name}`)")


@app.command("show")
def show_command(name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Show a snapshot's manifest."""
    manifest = open_workspace(workspace).store().manifest(name)
    if as_json:
        emit_json(manifest.model_dump(mode="json"))
        return
    console = out_console()
    console.print(
        f"[bold]{manifest.name}[/] ({manifest.dataset_version}), committed {manifest.committed_at}"
    )
    console.print(f"  content hash   {manifest.content_hash}")
    console.print(f"  seed           {manifest.seed}   plan sha256 {manifest.plan_hash[:16]}…")
    console.print(f"  marker         {manifest.marker}")
    gen = manifest.generator
    libs = ", ".join(f"{k} {v}" for k, v in gen.get("libraries", {}).items())
    console.print(
        f"  generator      {gen.get('name')} {gen.get('version')} "
        f"(values v{gen.get('generator_version')}, block {gen.get('block_size')}); "
        f"{libs}"
    )
    console.print(f"  vocabulary     {manifest.vocabulary.get('hash', '')[:16]}…")
    console.print(f"  validation     {manifest.validation}")
    for f in manifest.files:
        rows = f"{f.rows:,} rows" if f.rows is not None else ""
        console.print(f"  {f.path:<18} {f.bytes:>12,} B  {rows:>14}  {f.sha256[:16]}…")


@app.command("verify")
def verify_command(name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute checksums and the content hash; name every file that changed."""
    from esdh_agent.errors import SnapshotCorrupt
    from esdh_agent.snapshots.operations import verify

    result = verify(open_workspace(workspace).store(), name)
    if as_json:
        emit_json({"name": name, "ok": result.ok, "problems": result.problems})
    elif result.ok:
        out_console().print(
            f"[green]OK[/] {name}: {result.checked} files and the content hash match the manifest"
        )
    if not result.ok:
        raise SnapshotCorrupt(
            f"snapshot {name!r} does not match its manifest: " + "; ".join(result.problems)
        )


@app.command("diff")
def diff_command(
    a: NameArg, b: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False
) -> None:
    """Compare two snapshots: counts, schema, plan and category distributions."""
    from esdh_agent.snapshots.operations import diff_snapshots

    diff = diff_snapshots(open_workspace(workspace).store(), a, b)
    if as_json:
        emit_json(diff)
        return
    console = out_console()
    same = "identical content" if diff["content_equal"] else "different content"
    console.print(f"[bold]{a}[/] vs [bold]{b}[/]: {same}")
    for entity, (na, nb) in diff["counts"].items():
        mark = "" if na == nb else f"  ({nb - na:+,})"
        console.print(f"  {entity:<9} {na:>10,} → {nb:,}{mark}")
    for entity, change in diff["schema"].items():
        if change["a_only"] or change["b_only"]:
            console.print(
                f"  schema {entity}: only in {a}: {change['a_only']}; only in {b}: "
                f"{change['b_only']}"
            )
    for key, (va, vb) in diff["plan"].items():
        console.print(f"  plan.{key}: {va} → {vb}")
    for entity, columns in diff["distributions"].items():
        for column, changes in columns.items():
            text = ", ".join(f"{k} {x}→{y}" for k, (x, y) in list(changes.items())[:8])
            console.print(f"  {entity}.{column}: {text}")


@app.command("reproduce")
def reproduce_command(
    name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False
) -> None:
    """Regenerate a snapshot from its manifest and confirm the content hash.

    Exit 1 on a different content hash, and for a snapshot made by another generator version
    (explained in one line: its values cannot be reproduced by this version).
    """
    from esdh_agent.errors import SnapshotCorrupt, SnapshotError
    from esdh_agent.snapshots.operations import reproduce

    result = reproduce(open_workspace(workspace), name)
    other = result.other_generator()
    if as_json:
        emit_json(
            {
                "name": name,
                "ok": result.ok,
                "expected": result.expected,
                "actual": result.actual,
                "generator_version": result.generator,
                "other_generator": other,
                "warnings": result.warnings,
            }
        )
    else:
        console = out_console()
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        if result.ok:
            console.print(f"[green]Reproduced[/] {name}: content hash {result.actual}")
    if other is not None:
        raise SnapshotError(other)
    if not result.ok:
        raise SnapshotCorrupt(
            f"regenerating {name!r} gave {result.actual}, the manifest says {result.expected}",
            hint="see the warnings above: library or vocabulary versions differ"
            if result.warnings
            else None,
        )
