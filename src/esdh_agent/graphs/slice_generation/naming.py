"""What a slice's snapshot is called, and what to say when its outcome changed.

A run commits ``<slice>-<dataset version>`` (``commercial-fleet-v0.1``). Committed snapshots
are immutable, so when the framework starts reading a slice differently (a new grammar, a new
requirement) the same slice version can produce other data: the commit then fails with one
clear message naming the fix — bump the slice's ``version:``. A slice whose version differs
from the one that committed the existing snapshot commits beside it, as
``<slice>-<dataset version>-s<slice version>``.
"""

from __future__ import annotations

from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.errors import SnapshotConflict, SnapshotError
from esdh_agent.graphs.slice_generation.state import RunContext

__all__ = ["changed_outcome", "snapshot_name"]


def _committed_by(ctx: RunContext, name: str) -> tuple[str | None, str | None]:
    """(slice, slice version) that committed snapshot ``name`` with this generator; (None,
    None) if none did (another generator's values are explained by the store itself)."""
    store = ctx.aw.ws.store()
    if name not in store.names():
        return None, None
    try:
        manifest = store.manifest(name)
    except SnapshotError:
        return None, None
    if str(manifest.generator.get("generator_version")) != GENERATOR_VERSION:
        return None, None
    return manifest.provenance.get("slice"), manifest.provenance.get("slice_version")


def snapshot_name(ctx: RunContext, slice_id: str, dataset_version: str) -> str:
    """The name this run commits under (decided before generating: ids are keyed on it)."""
    base = f"{slice_id}-{dataset_version}"
    version = ctx.aw.slice(slice_id).meta.version
    committed_slice, committed_version = _committed_by(ctx, base)
    if committed_slice == slice_id and committed_version not in (None, version):
        return f"{base}-s{version}"
    return base


def changed_outcome(ctx: RunContext, slice_id: str, name: str) -> SnapshotConflict | None:
    """The conflict explained when the same slice version now commits other data."""
    version = ctx.aw.slice(slice_id).meta.version
    committed_slice, committed_version = _committed_by(ctx, name)
    if committed_slice != slice_id or committed_version != version:
        return None
    return SnapshotConflict(
        f"slice {slice_id!r} version {version} now commits other data than snapshot "
        f"{name!r} holds (committed by the same slice version): its outcome changed",
        hint=f"bump `version:` in prompts/{slice_id}.md (e.g. to {_next(version)}); the new "
        f"outcome then commits as {name}-s{_next(version)}, beside the old snapshot",
    )


def _next(version: str) -> str:
    parts = version.split(".")
    if parts and parts[-1].isdigit():
        parts[-1] = str(int(parts[-1]) + 1)
        return ".".join(parts)
    return version + ".1"
