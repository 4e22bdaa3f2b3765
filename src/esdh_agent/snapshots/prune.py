"""Pruning old snapshots, and the keep/older-than selection that run pruning shares.

Dry runs by default. A snapshot another manifest depends on (``provenance.depends_on`` or
``provenance.base_snapshot``) is never pruned. Removing a snapshot first renames it out of
``snapshots/`` (atomic), so a crash midway never leaves a half-deleted snapshot visible.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from typing import Any

from esdh_agent.core.store import SnapshotStore
from esdh_agent.errors import InputError, SnapshotCorrupt

__all__ = ["Prune", "apply_snapshot_prune", "plan_snapshot_prune", "select", "stamp_time"]


@dataclass
class Prune:
    """What a prune removes, keeps, and protects (with the reason)."""

    remove: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    protected: dict[str, str] = field(default_factory=dict)


def stamp_time(stamp: Any) -> dt.datetime:
    """An ISO timestamp as an aware datetime; unreadable stamps sort oldest."""
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def select(
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
        (n, stamp_time(m.committed_at), (store.path(n) / "manifest.json").stat().st_mtime)
        for n, m in manifests.items()
    ]
    remove, kept = select(items, keep, older_than, now)
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
