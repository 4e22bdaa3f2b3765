"""Engines never change a byte: one content hash for local with 1 or N workers, Dask with any
number of workers, and the single and parts layouts; results always come back in order."""

from __future__ import annotations

import time
from typing import Any

import pytest

from esdh_agent.core.blockwork import worker_fingerprint
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.store import SnapshotStore
from esdh_agent.engines import make_engine
from esdh_agent.engines.base import in_order
from esdh_agent.engines.pipeline import BuildResult, build_snapshot
from esdh_agent.errors import EsdhError, InputError
from esdh_agent.snapshots.operations import verify
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER

PLAN = GenerationPlan(person_count=700, vehicles_per_person={1: 0.6, 2: 0.3, 3: 0.1})
FORMATS = ("csv", "json", "parquet")


def store_of(ws: Workspace, data: str | None) -> SnapshotStore:
    """The workspace's store, or another one under its data directory."""
    return ws.store() if data is None else SnapshotStore(ws.data / data)


def build(ws: Workspace, name: str, data: str | None = None, **options: Any) -> BuildResult:
    """Build PLAN as ``name``; ``data`` puts it in its own store, so that runs that must give
    the same bytes can share one name (ids are keyed on the name)."""
    return build_snapshot(
        PLAN,
        vocab=ws.vocabulary(),
        store=store_of(ws, data),
        marker=MARKER,
        name=name,
        formats=FORMATS,
        block_size=64,
        **options,
    )


def test_one_content_hash_for_every_engine_worker_count_and_layout(
    workspace: Workspace, dask_scheduler: str
) -> None:
    runs: dict[str, dict[str, Any]] = {
        "local-1-single": {"workers": 1},
        "local-1-parts": {"workers": 1, "layout": "parts"},
        "local-2-single": {"workers": 2},
        "local-2-parts": {"workers": 2, "layout": "parts"},
        "dask-2-single": {"engine": "dask", "scheduler": dask_scheduler},
        "dask-2-parts": {"engine": "dask", "scheduler": dask_scheduler, "layout": "parts"},
        "dask-3-parts": {"engine": "dask", "workers": 3, "layout": "parts"},
    }
    manifests = {
        run: build(workspace, "snap", data=run, **kw).commit.manifest for run, kw in runs.items()
    }
    assert len(manifests["local-1-single"].entities["persons"].blocks) == 11
    assert len({m.content_hash for m in manifests.values()}) == 1
    assert len({m.model_dump_json(include={"entities"}) for m in manifests.values()}) == 1
    files = {name: {f.path: f.sha256 for f in m.files} for name, m in manifests.items()}
    assert files["local-1-single"] == files["local-2-single"] == files["dask-2-single"]
    parts = ("local-1-parts", "local-2-parts", "dask-2-parts", "dask-3-parts")
    assert all(files[run] == files["dask-3-parts"] for run in parts)
    assert len(files["dask-3-parts"]) == 11 * 3 * len(FORMATS) + 1  # + metadata.json
    assert all(verify(store_of(workspace, run), "snap").ok for run in runs)


def _slow_identity(task: float, index: int) -> int:
    time.sleep(task * (12 - index))  # later blocks finish first
    return index


def test_dask_results_come_back_in_block_order(dask_scheduler: str) -> None:
    engine = make_engine("dask", 2, dask_scheduler)
    assert list(engine.map(_slow_identity, 0.01, range(12))) == list(range(12))


def test_in_order_keeps_at_most_window_in_flight() -> None:
    live: set[int] = set()
    peak = 0

    def submit(index: int) -> int:
        nonlocal peak
        live.add(index)
        peak = max(peak, len(live))
        return index

    def result(handle: int) -> int:
        live.discard(handle)
        return handle * 10

    assert list(in_order(submit, result, range(10), 3)) == [i * 10 for i in range(10)]
    assert peak == 3


class _FakeClient:
    def __init__(self, fingerprint: dict[str, str]) -> None:
        self.fingerprint = fingerprint

    def run(self, fn: Any) -> dict[str, dict[str, str]]:
        return {"tcp://127.0.0.1:4001": self.fingerprint}

    def nthreads(self) -> dict[str, int]:
        return {"tcp://127.0.0.1:4001": 3}


def test_workers_with_other_library_versions_are_refused() -> None:
    from esdh_agent.engines.dask import check_workers

    mine = worker_fingerprint()
    assert check_workers(_FakeClient(mine)) == 3
    with pytest.raises(EsdhError, match=r"numpy 1\.0 \(here "):
        check_workers(_FakeClient({**mine, "numpy": "1.0"}))


def test_unreachable_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("dask.distributed")
    from esdh_agent.engines.dask import DaskEngine

    engine: DaskEngine[None, int] = DaskEngine(scheduler="tcp://127.0.0.1:9", timeout=0.5)
    with pytest.raises(EsdhError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        list(engine.map(_slow_identity, None, range(2)))  # type: ignore[arg-type]


def test_engine_options_are_checked() -> None:
    with pytest.raises(InputError, match="unknown engine"):
        make_engine("spark", 1)
    with pytest.raises(InputError, match="--scheduler needs --engine dask"):
        make_engine("local", 1, "tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="at least 1"):
        make_engine("dask", 0)


_FORKSERVER_PID = """
import multiprocessing.forkserver as fs
from esdh_agent.engines.local import LocalEngine
engine = LocalEngine({workers})
engine.start({blocks})
before = fs._forkserver._forkserver_pid
results = list(engine.map(pow, 2, range({blocks})))
print(before, fs._forkserver._forkserver_pid, results)
"""


@pytest.mark.parametrize(
    ("workers", "blocks", "started"), [(2, 4, True), (2, 3, False), (1, 8, False)]
)
def test_start_runs_the_pool_server_early_only_for_a_pooled_build(
    workers: int, blocks: int, started: bool
) -> None:
    """``start`` launches the forkserver before ``map`` needs it (its imports overlap the
    caller's), and ``map`` then uses that same server; an in-process build starts nothing."""
    import subprocess
    import sys

    code = _FORKSERVER_PID.format(workers=workers, blocks=blocks)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, results = done.stdout.split(" ", 2)
    assert results.strip() == str([2**i for i in range(blocks)])
    if started:
        assert before != "None"
        assert after == before  # the pool reused the server started early
    else:
        assert before == "None"
        assert after == "None"


_CLUSTER_FORKS = """
import os
import multiprocessing.forkserver as fs
from esdh_agent.engines.dask import DaskEngine

def parent(task, index):
    return os.getppid()

engine = DaskEngine(2)
engine.start(3)
before = fs._forkserver._forkserver_pid
parents = set(engine.map(parent, None, range(3)))
print(before, fs._forkserver._forkserver_pid, len(parents), before in parents)
"""


def test_a_local_dask_cluster_forks_its_workers_from_the_server_started_early() -> None:
    """``DaskEngine.start`` launches the forkserver (with ``distributed`` preloaded) before the
    cluster exists, and the cluster's workers are forked from that very server instead of
    being spawned to import everything anew."""
    pytest.importorskip("dask.distributed")
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CLUSTER_FORKS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, after, parents, forked = done.stdout.split()
    assert before != "None"
    assert after == before
    assert (parents, forked) == ("1", "True")


def test_an_existing_dask_cluster_starts_nothing_here() -> None:
    import multiprocessing.forkserver as fs

    from esdh_agent.engines.dask import DaskEngine

    running = fs._forkserver._forkserver_pid
    DaskEngine(2, scheduler="tcp://127.0.0.1:9").start(8)
    assert fs._forkserver._forkserver_pid == running


def test_making_either_engine_does_not_import_the_build() -> None:
    """``generate`` makes the engine and calls ``start`` before it imports the build, so that
    the workers' server loads the build while this process does: making an engine must not
    import the generator first."""
    import subprocess
    import sys

    code = (
        "import sys; from esdh_agent.engines import make_engine; "
        "make_engine('local', 2); make_engine('dask', 2); "
        "print('esdh_agent.core.generator' in sys.modules, 'dask' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
