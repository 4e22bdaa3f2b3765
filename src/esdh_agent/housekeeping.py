"""Housekeeping: prune old snapshots and runs, clean abandoned staging and checkpoints.

Dry runs by default. A snapshot another manifest depends on (``provenance.depends_on`` or
``provenance.base_snapshot``) is never pruned; runs waiting for a human or still running are
never pruned. Removing a snapshot first renames it out of ``snapshots/`` (atomic), so a crash
midway never leaves a half-deleted snapshot visible.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esdh_agent.core.store import SnapshotStore, process_alive
from esdh_agent.errors import InputError, SnapshotCorrupt
from esdh_agent.workspace import Workspace

__all__ = [
    "Prune",
    "apply_run_prune",
    "apply_snapshot_prune",
    "clean_leftovers",
    "plan_run_prune",
    "plan_snapshot_prune",
]


@dataclass
class Prune:
    remove: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    protected: dict[str, str] = field(default_factory=dict)


def _when(stamp: Any) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _select(
    items: list[tuple[str, dt.datetime, float]],
    keep: int | None,
    older_than: float | None,
    now: dt.datetime,
) -> tuple[list[str], list[str]]:
    """(remove, keep) among (name, time, tie-break) items, newest first."""
    if keep is None and older_than is None:
        raise InputError("say what to prune", hint="give --keep N and/or --older-than DAYS")
    if keep is not None and keep < 0:
        raise InputError("--keep must be 0 or more")
    newest_first = sorted(items, key=lambda item: (item[1], item[2]), reverse=True)
    remove: list[str] = []
    kept: list[str] = []
    for rank, (name, when, _) in enumerate(newest_first):
        beyond_keep = keep is None or rank >= keep
        too_old = older_than is None or when < now - dt.timedelta(days=older_than)
        (remove if beyond_keep and too_old else kept).append(name)
    return remove, kept


def plan_snapshot_prune(
    store: SnapshotStore,
    *,
    keep: int | None,
    older_than: float | None,
    now: dt.datetime | None = None,
) -> Prune:
    """Which snapshots a prune would remove, and which it must protect."""
    now = now or dt.datetime.now(dt.UTC)
    manifests = {}
    for name in store.names():
        try:
            manifests[name] = store.manifest(name)
        except SnapshotCorrupt:
            continue  # never prune what cannot be read; `snapshots verify` reports it
    depended: dict[str, str] = {}
    for name, manifest in manifests.items():
        prov = manifest.provenance
        for needed in [*prov.get("depends_on", []), prov.get("base_snapshot")]:
            if needed:
                depended[str(needed)] = f"{name} depends on it"
    items = [
        (n, _when(m.committed_at), (store.path(n) / "manifest.json").stat().st_mtime)
        for n, m in manifests.items()
    ]
    remove, kept = _select(items, keep, older_than, now)
    protected = {n: depended[n] for n in remove if n in depended}
    return Prune(remove=[n for n in remove if n not in protected], keep=kept, protected=protected)


def apply_snapshot_prune(store: SnapshotStore, prune: Prune) -> None:
    """Remove the planned snapshots: out of sight first (rename), then deleted."""
    trash = store.staging_root
    trash.mkdir(parents=True, exist_ok=True)
    with store.lock():
        for name in prune.remove:
            path = store.path(name)
            if path.exists():
                moved = trash / f".pruned-{name}"
                shutil.rmtree(moved, ignore_errors=True)
                path.rename(moved)
                shutil.rmtree(moved, ignore_errors=True)


def plan_run_prune(
    ws: Workspace, *, keep: int | None, older_than: float | None, now: dt.datetime | None = None
) -> Prune:
    """Which finished runs a prune would remove (waiting and live runs are protected)."""
    from esdh_agent.graphs.slice_generation.runner import list_runs

    now = now or dt.datetime.now(dt.UTC)
    runs = list_runs(ws)
    items = [
        (
            r["run_id"],
            _when(r.get("ended_at") or r.get("started_at")),
            (ws.data / "runs" / r["run_id"] / "run.json").stat().st_mtime,
        )
        for r in runs
    ]
    remove, kept = _select(items, keep, older_than, now)
    protected = {}
    for run in runs:
        if run["run_id"] not in remove:
            continue
        if run.get("status") == "awaiting_approval":
            protected[run["run_id"]] = "waiting for approval"
        elif run.get("status") == "running" and process_alive(run.get("pid")):
            protected[run["run_id"]] = "still running"
    return Prune(remove=[r for r in remove if r not in protected], keep=kept, protected=protected)


def _delete_threads(ws: Workspace, thread_ids: list[str]) -> None:
    path = ws.data / "checkpoints.sqlite"
    if not path.exists() or not thread_ids:
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        for thread_id in thread_ids:
            saver.delete_thread(thread_id)
    finally:
        conn.close()


def apply_run_prune(ws: Workspace, prune: Prune) -> None:
    for run_id in prune.remove:
        shutil.rmtree(ws.data / "runs" / run_id, ignore_errors=True)
    _delete_threads(ws, prune.remove)


def clean_leftovers(ws: Workspace, *, apply: bool) -> list[str]:
    """Abandoned staging areas, bundles of finished runs and checkpoints of deleted runs."""
    from esdh_agent.graphs.slice_generation.runner import list_runs

    found: list[str] = []
    store = ws.store()
    if store.staging_root.is_dir():
        for child in store.staging_root.iterdir():
            parts = child.name.rsplit(".", 2)
            pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
            if pid is None or not process_alive(pid):
                found.append(f"staging {child.name}")
                if apply:
                    shutil.rmtree(child, ignore_errors=True)
    runs = {r["run_id"]: r for r in list_runs(ws)}
    for run_id, run in runs.items():
        if run.get("status") in ("committed", "unchanged", "refused", "rejected"):
            for bundle in sorted((ws.data / "runs" / run_id).glob("bundle-r*")):
                found.append(f"bundle {run_id}/{bundle.name}")
                if apply:
                    shutil.rmtree(bundle, ignore_errors=True)
    orphans = _checkpoint_threads(ws.data / "checkpoints.sqlite") - set(runs)
    found += [f"checkpoints of deleted run {t}" for t in sorted(orphans)]
    if apply:
        _delete_threads(ws, sorted(orphans))
    return found


def _checkpoint_threads(path: Path) -> set[str]:
    if not path.exists():
        return set()
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()
    except sqlite3.DatabaseError:
        return set()
    finally:
        conn.close()
    return {str(r[0]) for r in rows}
