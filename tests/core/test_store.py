"""Atomic, immutable, lock-guarded commits; determinism across worker counts."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.plan import AgeBand, GenerationPlan
from esdh_agent.core.store import SnapshotStore, check_name
from esdh_agent.engines.pipeline import BuildResult, build_snapshot
from esdh_agent.errors import SnapshotConflict, SnapshotNameError, ValidationFailed
from esdh_agent.snapshots import operations
from esdh_agent.snapshots.operations import reproduce, verify
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER


def build(
    ws: Workspace,
    plan: GenerationPlan,
    name: str = "snap",
    *,
    data: str | None = None,
    **kw: Any,
) -> BuildResult:
    """Build ``plan`` as ``name`` in the workspace's store, or in another store under its data
    directory (``data``): ids are keyed on the name, so equal bytes need equal names."""
    store = ws.store() if data is None else SnapshotStore(ws.data / data)
    return build_snapshot(plan, vocab=ws.vocabulary(), store=store, marker=MARKER, name=name, **kw)


PLAN = GenerationPlan(person_count=700, vehicles_per_person={1: 0.6, 2: 0.4})


def test_same_bytes_for_one_and_several_workers(workspace: Workspace) -> None:
    formats = ("csv", "parquet")
    one = build(workspace, PLAN, workers=1, data="one", block_size=64, formats=formats)
    two = build(workspace, PLAN, workers=2, data="two", block_size=64, formats=formats)
    assert len(one.commit.manifest.entities["persons"].blocks) == 11
    assert one.commit.manifest.content_hash == two.commit.manifest.content_hash
    files_one = {f.path: f.sha256 for f in one.commit.manifest.files}
    files_two = {f.path: f.sha256 for f in two.commit.manifest.files}
    assert files_one == files_two  # CSV, Parquet and metadata all byte-identical


def test_content_hash_ignores_formats_and_commit_time(workspace: Workspace) -> None:
    a = build(workspace, PLAN, data="a", formats=("csv",))
    b = build(workspace, PLAN, data="b", formats=("csv", "json", "parquet"))
    assert a.commit.manifest.content_hash == b.commit.manifest.content_hash
    assert {f.path for f in b.commit.manifest.files} >= {"persons.json", "persons.parquet"}
    rows = json.loads((b.commit.path / "vehicles.json").read_text(encoding="utf-8"))
    assert len(rows) == b.rows["vehicles"]


def test_identical_recommit_is_a_noop_and_different_content_is_refused(
    workspace: Workspace,
) -> None:
    first = build(workspace, PLAN)
    before = {p.name: p.stat().st_mtime_ns for p in first.commit.path.iterdir()}
    again = build(workspace, PLAN)
    assert (first.commit.status, again.commit.status) == ("committed", "unchanged")
    assert {p.name: p.stat().st_mtime_ns for p in first.commit.path.iterdir()} == before
    with pytest.raises(SnapshotConflict):
        build(workspace, PLAN.model_copy(update={"seed": 1}))
    assert verify(workspace.store(), "snap").ok


def test_invalid_data_commits_nothing(workspace: Workspace, staging_empty) -> None:
    plan = GenerationPlan(person_count=30, age_bands=[AgeBand(min_age=12, max_age=13, share=1)])
    with pytest.raises(ValidationFailed) as info:
        build(workspace, plan)
    assert info.value.report is not None
    assert not (workspace.data / "snapshots" / "snap").exists()
    assert staging_empty()


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "..", ".hidden", "UPPER", "", "a" * 81, "x..y", "v0.1\n"]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(SnapshotNameError):
        check_name(name)


def test_verify_names_the_changed_file(workspace: Workspace) -> None:
    result = build(workspace, PLAN)
    path = result.commit.path / "vehicles.csv"
    data = bytearray(path.read_bytes())
    data[-5] = ord("0") if data[-5] != ord("0") else ord("1")
    path.write_bytes(bytes(data))
    problems = verify(workspace.store(), "snap").problems
    assert problems == ["vehicles.csv: SHA-256 differs from the manifest"]
    (result.commit.path / "stray.txt").write_text("x")
    assert "stray.txt: not listed in the manifest" in verify(workspace.store(), "snap").problems


def test_reproduce_confirms_the_content_hash(workspace: Workspace) -> None:
    build(workspace, PLAN, block_size=128)
    result = reproduce(workspace, "snap")
    assert result.ok and not result.warnings
    assert not any(p.name.startswith(".reproduce") for p in workspace.data.iterdir())


def older_copy(ws: Workspace, name: str, copy: str, generator_version: str) -> Path:
    """A copy of committed snapshot ``name`` whose manifest claims another generator version."""
    target = ws.store().path(copy)
    shutil.copytree(ws.store().path(name), target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"] = copy
    manifest["generator"]["generator_version"] = generator_version
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target


def test_reproduce_explains_a_snapshot_of_another_generator_version(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(workspace, PLAN, block_size=128)
    older_copy(workspace, "snap", "old", "1")
    monkeypatch.setattr(operations, "build_snapshot", _never)  # nothing is regenerated
    result = reproduce(workspace, "old")
    assert not result.ok and result.actual is None and result.generator == "1"
    assert result.other_generator() == (
        f"old was made by generator 1; this is generator {GENERATOR_VERSION} — its values "
        "cannot be reproduced by this version; re-generate it, or reproduce it with the "
        "esdh-agent build that made it"
    )
    manifest = json.loads((workspace.store().path("old") / "manifest.json").read_text())
    manifest["generator"]["version"] = "0.0.9"
    (workspace.store().path("old") / "manifest.json").write_text(json.dumps(manifest))
    line = reproduce(workspace, "old").other_generator()
    assert line is not None and line.endswith("install esdh-agent 0.0.9 to reproduce it")


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("a snapshot of another generator version was regenerated")


def test_a_conflict_with_another_generator_version_says_so(workspace: Workspace) -> None:
    build(workspace, PLAN, block_size=128)
    older_copy(workspace, "snap", "v0.1", "1")
    with pytest.raises(SnapshotConflict, match="made by generator 1; this is generator"):
        build(workspace, PLAN, "v0.1", block_size=128)
    with pytest.raises(SnapshotConflict, match="already exists with different content"):
        build(workspace, PLAN.model_copy(update={"seed": 1}), block_size=128)


def _commit_in_child(root: str, seed: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ws = Workspace.open(Path(root))
    try:
        result = build(ws, GenerationPlan(person_count=2000, seed=seed), "race")
        queue.put(result.commit.status)
    except SnapshotConflict:
        queue.put("conflict")


def test_two_concurrent_commits_of_one_name_cannot_both_win(workspace: Workspace) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_commit_in_child, args=(str(workspace.root), s, queue)) for s in (1, 2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(queue.get(timeout=5) for _ in procs)
    assert outcomes == ["committed", "conflict"]
    assert verify(workspace.store(), "race").ok


def test_leftover_staging_of_a_dead_process_is_cleaned(workspace: Workspace) -> None:
    store: SnapshotStore = workspace.store()
    dead = store.staging_root / "snap.999999999.abcd"
    dead.mkdir(parents=True)
    (dead / "persons.csv").write_text("partial")
    live = store.staging_root / f"snap.{os.getpid()}.beef"
    live.mkdir()
    assert store.clean_staging() == ["snap.999999999.abcd"]
    assert live.exists() and not dead.exists()
