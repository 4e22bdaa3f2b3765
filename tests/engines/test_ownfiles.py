"""Workers that write their own files: parts and chunks on disk, only digests sent back; the
single layout joins chunks byte for byte; without the shared disk the bytes come back; a
failed build leaves nothing behind."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from esdh_agent.core.blockwork import BlockTask, run_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.validate import ValidationContext
from esdh_agent.engines import make_engine
from esdh_agent.engines.local import LocalEngine, default_workers
from esdh_agent.engines.ownfiles import (
    CHUNKS,
    KEYS,
    FilesTask,
    join_chunk,
    shared_staging,
    write_block,
)
from esdh_agent.engines.writer import BlockWriter
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER
from tests.engines.test_engines import FORMATS, PLAN, build


def _task(ws: Workspace, parts: bool) -> BlockTask:
    vocab = ws.vocabulary()
    layout = compile_layout(PLAN, vocab, MARKER, 64, name="own")
    ctx = ValidationContext(vocab=vocab, as_of=PLAN.as_of_date, marker=MARKER, plan=PLAN)
    return BlockTask(layout=layout, ctx=ctx, formats=FORMATS, parts=parts)


@pytest.mark.parametrize("layout", ["single", "parts"])
def test_a_worker_writes_its_files_and_returns_only_digests(
    workspace: Workspace, tmp_path: Path, layout: str
) -> None:
    task, staged = _task(workspace, layout == "parts"), tmp_path / "staged"
    staged.mkdir()
    for entity in ("persons", "vehicles", "profiles"):
        (staged / entity).mkdir()
    shipped = run_block(task, 3)
    with shared_staging(staged, layout) as probe:
        out = write_block(FilesTask(task, str(staged), probe), 3)
        assert not (out.csv or out.json or out.tables or out.parquet)
        assert out.digests == shipped.digests and out.sizes == shipped.sizes
        assert len(out.written) == 3 * len(FORMATS)
        for done in out.written:
            assert (staged / done.path).stat().st_size == done.bytes
            if layout == "parts":
                data = (staged / done.path).read_bytes()
                assert hashlib.sha256(data).hexdigest() == done.sha256
            elif done.format == "csv":
                assert (staged / done.path).read_bytes() == shipped.csv[done.entity].to_pybytes()
        # Key hashes stay on disk too, bucketed: the same records the block would have sent.
        assert out.check.keys == {} and set(out.check.key_runs) == set(shipped.check.keys)
        for name, runs in out.check.key_runs.items():
            (sent,) = shipped.check.keys[name]
            (run,) = runs
            assert Path(run.path).parent == staged / KEYS
            assert Path(run.path).read_bytes() == sent.records.tobytes()
            assert run.counts.tolist() == sent.counts.tolist()
    assert not (staged / CHUNKS).exists() and not list(staged.glob(".probe-*"))
    assert not (staged / KEYS).exists()


def test_without_the_probe_file_the_bytes_come_back(workspace: Workspace, tmp_path: Path) -> None:
    task, elsewhere = _task(workspace, parts=True), tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = write_block(FilesTask(task, str(elsewhere), ".probe-elsewhere"), 2)
    assert out.written == [] and out.csv and out.parquet  # a worker without the shared disk
    assert out.check.keys and not out.check.key_runs  # and its key hashes come back too
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("refusal", [errno.EXDEV, errno.ENOSYS, None])
def test_joining_a_chunk_copies_every_byte_with_or_without_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int | None
) -> None:
    if refusal is not None:

        def refuse(*args: object, **kwargs: object) -> int:
            raise OSError(refusal, os.strerror(refusal))

        monkeypatch.setattr(os, "copy_file_range", refuse)
    chunk, target = tmp_path / "chunk", tmp_path / "target"
    body = os.urandom(3 << 20) + b"end"
    chunk.write_bytes(body)
    sha = hashlib.sha256(b"head,")
    with target.open("wb") as handle:
        handle.write(b"head,")
        assert join_chunk(chunk, handle, sha, bytearray(1 << 16)) == len(body)
        handle.write(b",tail")
    assert target.read_bytes() == b"head," + body + b",tail"
    assert sha.hexdigest() == hashlib.sha256(b"head," + body).hexdigest()
    assert not chunk.exists()


def test_a_full_disk_while_joining_is_not_mistaken_for_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full)
    (tmp_path / "chunk").write_bytes(b"x" * 10)
    with (tmp_path / "target").open("wb") as handle, pytest.raises(OSError, match="No space"):
        join_chunk(tmp_path / "chunk", handle, hashlib.sha256(), bytearray(64))


@pytest.mark.parametrize("layout", ["single", "parts"])
def test_a_build_that_fails_with_workers_leaves_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    real = BlockWriter._add_written
    seen = {"blocks": 0}

    def fail_on_the_fourth(self: BlockWriter, out: object) -> None:
        seen["blocks"] += 1
        if seen["blocks"] == 4:
            raise OSError(errno.EIO, "Input/output error", "disk")
        real(self, out)  # type: ignore[arg-type]

    monkeypatch.setattr(BlockWriter, "_add_written", fail_on_the_fourth)
    with pytest.raises(Exception, match="Input/output error"):
        build(workspace, "broken", workers=2, layout=layout)
    assert list((workspace.data / ".staging").iterdir()) == []  # no part, chunk or key spill
    assert workspace.store().names() == []


def test_small_builds_stay_in_process() -> None:
    engine = make_engine("local", 2)
    assert isinstance(engine, LocalEngine)
    assert engine.in_process(1) and not engine.in_process(11)
    assert LocalEngine(1).in_process(100)
    assert default_workers() >= 1
