"""An in-process build encodes block i on a thread while block i+1 is generated and checked:
the overlap is real, blocks keep their order, and a failure on either side stops the build
with nothing committed and no encoding thread left running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from esdh_agent.core.blockwork import BlockOutput, BlockTask, Checked, check_generated
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.validate import ValidationContext
from esdh_agent.engines import pipeline
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER

PLAN = GenerationPlan(person_count=200)


def _task(ws: Workspace) -> BlockTask:
    layout = compile_layout(PLAN, ws.vocabulary(), MARKER, 50, name="behind")
    ctx = ValidationContext(vocab=ws.vocabulary(), as_of=PLAN.as_of_date, marker=MARKER, plan=PLAN)
    return BlockTask(layout=layout, ctx=ctx, formats=("csv", "json"))


def _encoding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("esdh-encode")]


def test_the_next_block_is_made_while_the_last_one_is_encoded(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = _task(workspace)
    started = {i: threading.Event() for i in range(4)}
    release = {i: threading.Event() for i in range(4)}
    encoded_on: list[str] = []
    real = pipeline.encode_checked

    def encode(task: BlockTask, checked: Checked) -> BlockOutput:
        started[checked.index].set()
        encoded_on.append(threading.current_thread().name)
        assert release[checked.index].wait(10), "block was never released"
        return real(task, checked)

    def made() -> Iterator[Checked]:
        for index in range(4):
            if index:
                # Block index-1 is being encoded (and held there) while this one is made:
                # without the overlap this wait would time out.
                assert started[index - 1].wait(10), f"block {index - 1} not encoding yet"
                release[index - 1].set()
            yield check_generated(task, index)
        release[3].set()

    monkeypatch.setattr(pipeline, "encode_checked", encode)
    outputs = list(pipeline._encoded_behind(task, made()))
    assert [out.index for out in outputs] == [0, 1, 2, 3]
    assert all(name.startswith("esdh-encode") for name in encoded_on)
    assert [out.rows["persons"] for out in outputs] == [50, 50, 50, 50]
    assert all(out.csv["persons"].size and out.json["persons"].size for out in outputs)
    assert not _encoding_threads()


def _build(ws: Workspace, name: str) -> Any:
    return build_snapshot(
        PLAN,
        vocab=ws.vocabulary(),
        store=ws.store(),
        marker=MARKER,
        name=name,
        formats=("csv", "json", "parquet"),
        block_size=50,
    )


def test_a_failed_encoding_stops_the_build_and_commits_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.encode_checked

    def encode(task: BlockTask, checked: Checked) -> BlockOutput:
        if checked.index == 2:
            raise OSError(28, "No space left on device")
        return real(task, checked)

    monkeypatch.setattr(pipeline, "encode_checked", encode)
    with pytest.raises(Exception, match="No space left on device"):
        _build(workspace, "enc-fails")
    assert not (workspace.data / "snapshots" / "enc-fails").exists()
    assert not list((workspace.data / ".staging").iterdir())
    assert not _encoding_threads()


def test_a_failed_block_waits_for_the_encoding_under_way(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_encode, real_check = pipeline.encode_checked, pipeline.check_generated
    encoding = threading.Event()
    finished: list[int] = []

    def encode(task: BlockTask, checked: Checked) -> BlockOutput:
        encoding.set()
        out = real_encode(task, checked)
        finished.append(checked.index)
        return out

    def check(task: BlockTask, index: int) -> Checked:
        if index == 1:
            assert encoding.wait(10)
            raise RuntimeError("generator broke on block 1")
        return real_check(task, index)

    monkeypatch.setattr(pipeline, "encode_checked", encode)
    monkeypatch.setattr(pipeline, "check_generated", check)
    with pytest.raises(RuntimeError, match="block 1"):
        _build(workspace, "gen-fails")
    assert finished == [0]  # block 0's encoding ran to its end before the build gave up
    assert not _encoding_threads()
    assert not (workspace.data / "snapshots" / "gen-fails").exists()
    assert not list((workspace.data / ".staging").iterdir())
