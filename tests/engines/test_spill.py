"""Uniqueness with a fixed memory budget: key hashes spill to disk per hash bucket, and the
findings (counts and sample rows) are exactly those of one sort over every key in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from esdh_agent.core import rules
from esdh_agent.core.columns import repeated_rows
from esdh_agent.core.report import MAX_SAMPLES, Finding
from esdh_agent.core.validate import KeyHashes, KeyStore, ValidationContext, Validator, check_block
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER, small_plan
from tests.core.test_generator import build


def _blocks(seed: int, blocks: int, rows: int) -> list[KeyHashes]:
    """Random keys in blocks, some repeated within and across blocks (and one many times)."""
    rng = np.random.default_rng(seed)
    h1 = rng.integers(0, 2**64, size=(blocks, rows), dtype=np.uint64)
    h2 = rng.integers(0, 2**64, size=(blocks, rows), dtype=np.uint64)
    for _ in range(40):
        (b1, b2), (r1, r2) = rng.integers(0, blocks, 2), rng.integers(0, rows, 2)
        h1[b2, r2], h2[b2, r2] = h1[b1, r1], h2[b1, r1]
    h1[:, 7], h2[:, 7] = h1[0, 3], h2[0, 3]  # one value in every block
    h2[3, 11], h1[3, 11] = h2[2, 5] ^ np.uint64(1), h1[2, 5]  # same h1, different h2: unique
    return [
        KeyHashes(h1[b], h2[b], np.arange(rows, dtype=np.int64) + b * rows + 1)
        for b in range(blocks)
    ]


def _reference(parts: list[KeyHashes]) -> tuple[int, list[int]]:
    """The all-in-memory check the validator used before it could spill."""
    h1 = np.concatenate([p.h1 for p in parts])
    h2 = np.concatenate([p.h2 for p in parts])
    repeated = repeated_rows(h1, h2)
    rows = np.sort(np.concatenate([p.rows for p in parts])[repeated])
    return len(repeated), [int(r) for r in rows[:MAX_SAMPLES]]


def _found(store: KeyStore, threads: int = 1) -> Finding:
    findings = rules.uniqueness(store, set(), threads)
    assert len(findings) == 1
    return findings[0]


@pytest.mark.parametrize("runs", [False, True])
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("budget", [None, 96 * 1024, 4096])
def test_spilled_buckets_give_the_in_memory_answer(
    tmp_path: Path, budget: int | None, threads: int, runs: bool
) -> None:
    """The same count and samples in memory, spilled, split again, and checked on threads
    (buckets then finish in any order); the last block's keys, held back from the spill,
    are merged into the spilled buckets; with ``runs``, every third block's keys come as a
    worker's run file instead, read a bucket's slice at a time."""
    parts = _blocks(seed=7, blocks=12, rows=3000)
    store = KeyStore(budget, tmp_path)
    run_dir = tmp_path.parent / f"{tmp_path.name}-runs"
    run_dir.mkdir()
    for index, keys in enumerate(parts):
        if runs and index % 3 == 1:
            store.add_run("vehicles.vin", keys.write(run_dir / f"run-{index}"))
            continue
        store.add("vehicles.vin", keys, spill=keys is not parts[-1])
    spilled = store.path is not None
    assert store.held >= len(parts[-1].h1) * 24  # the last block was held back
    assert spilled == (budget is not None)
    if spilled:
        assert store.path is not None and store.path.parent == tmp_path
        assert store.path.name.startswith(".keys.")  # <prefix>.<pid>.<random>: cleanable
    count, samples = _reference(parts)
    finding = _found(store, threads)
    assert (finding.count, finding.samples) == (count, [f"row {r}" for r in samples])
    assert finding.count > 12 and finding.rule == "unique.vin"
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_no_repeats_no_finding_and_nothing_left(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = KeyStore(4096, tmp_path)
    for b in range(5):
        h = rng.integers(0, 2**64, size=(2, 1000), dtype=np.uint64)
        store.add("persons.person_id", KeyHashes(h[0], h[1], np.arange(1000) + b * 1000 + 1))
    checked: set[str] = set()
    assert rules.uniqueness(store, checked) == [] and checked == {"unique.person_id"}
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_validator_reports_the_same_repeats_spilled_block_by_block(
    vocab: Vocabulary, tmp_path: Path
) -> None:
    plan = small_plan(person_count=240)
    tables = build(plan, vocab, block_size=240)
    ids = tables["persons"].column("person_id").to_pylist()
    ids[200], ids[150] = ids[3], ids[3]
    tables["persons"] = tables["persons"].set_column(0, "person_id", [ids])
    ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=MARKER, plan=plan)
    whole = Validator(ctx)
    whole.add(check_block(ctx, tables, {}))
    spilled = Validator(ctx, spill_dir=tmp_path, budget=4096, threads=2)
    for start in range(0, 240, 60):  # four slices of every entity, as four blocks
        block = {e: t.slice(start * t.num_rows // 240, t.num_rows // 4) for e, t in tables.items()}
        offsets = {e: start * t.num_rows // 240 for e, t in tables.items()}
        spilled.add(check_block(ctx, block, offsets), spill=start < 180)
    assert spilled.keys.path is not None
    unique = [
        [f for f in v.finish().findings if f.rule.startswith("unique.")] for v in (whole, spilled)
    ]
    assert unique[0] == unique[1]
    assert [(f.rule, f.count, f.samples) for f in unique[0]] == [
        ("unique.person_id", 3, ["row 4", "row 151", "row 201"])
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_build_leaves_no_spill_behind(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """In-process the validator spills; with workers they leave their keys in the staging
    directory's key folder instead. Either way nothing is left, and every unique.* rule ran."""
    monkeypatch.setattr("esdh_agent.core.validate.SPILL_BUDGET", 1024)
    result = build_snapshot(
        small_plan(),
        vocab=workspace.vocabulary(),
        store=workspace.store(),
        marker=MARKER,
        name="spilled",
        block_size=50,
        workers=workers,
    )
    assert result.report.ok
    assert {r for r in result.report.rules if r.startswith("unique.")} == {
        "unique.person_id",
        "unique.licence",
        "unique.vehicle_id",
        "unique.vin",
        "unique.profile_id",
    }
    assert not any((workspace.data / ".staging").iterdir())


def test_one_key_repeated_beyond_a_bucket_is_counted_on_threads(tmp_path: Path) -> None:
    """A bucket too big to check in memory, though nothing was spilled (every key one value):
    it goes to a file made before the reader threads start, and every repeat is counted."""
    rows = 400
    h = np.full(rows, 7, dtype=np.uint64)
    store = KeyStore(4 * 1024, tmp_path)  # a bucket over 1 KiB is split: 400 keys are 9.6 KB
    store.add("persons.person_id", KeyHashes(h, h, np.arange(rows) + 1), spill=False)
    assert store.path is None
    finding = _found(store, threads=2)
    assert finding.count == rows and finding.samples == [f"row {r}" for r in range(1, 6)]
    store.close()
    assert list(tmp_path.iterdir()) == []
