"""Housekeeping of agent runs: prune finished runs, clean abandoned staging and checkpoints.

Dry runs by default. Runs waiting for a human or still running are never pruned.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

from esdh_agent.core.store import process_alive
from esdh_agent.graphs.slice_generation.runner import list_runs
from esdh_agent.snapshots.prune import Prune, select, stamp_time
from esdh_agent.workspace import Workspace

__all__ = ["apply_run_prune", "clean_leftovers", "plan_run_prune"]


def plan_run_prune(
    ws: Workspace, *, keep: int | None, older_than: float | None, now: dt.datetime | None = None
) -> Prune:
    """Which finished runs a prune would remove (waiting and live runs are protected)."""
    now = now or dt.datetime.now(dt.UTC)
    runs = list_runs(ws)
    items = [
        (
            r["run_id"],
            stamp_time(r.get("ended_at") or r.get("started_at")),
            ws.paths.run_record(r["run_id"]).stat().st_mtime,
        )
        for r in runs
    ]
    remove, kept = select(items, keep, older_than, now)
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
    path = ws.paths.checkpoints
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
        shutil.rmtree(ws.paths.run_dir(run_id), ignore_errors=True)
    _delete_threads(ws, prune.remove)


def clean_leftovers(ws: Workspace, *, apply: bool) -> list[str]:
    """Abandoned staging areas, bundles of finished runs and checkpoints of deleted runs."""
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
            for bundle in sorted(ws.paths.run_dir(run_id).glob("bundle-r*")):
                found.append(f"bundle {run_id}/{bundle.name}")
                if apply:
                    shutil.rmtree(bundle, ignore_errors=True)
    orphans = _checkpoint_threads(ws.paths.checkpoints) - set(runs)
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
