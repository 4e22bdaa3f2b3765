"""Workers that write their own files: a block's bytes go to disk in the process that made them.

A process pool that shipped every block's CSV/JSON buffers and Arrow tables (about 55 MB a
block) to the parent, to be written and hashed there, cost more than the second worker gained
(ADR 0005, amendment). With ``write_block`` a worker writes into the staging directory itself
and sends back only digests, sizes, row counts and the ``BlockCheck`` (whose key hashes it
leaves in ``.keys/``, bucketed, for the uniqueness check to read: ADR 0008, amendment):

- ``parts`` layout: the block's complete part files, fsynced, with their SHA-256;
- ``single`` layout: chunks in ``.chunks/`` — the CSV and JSON bodies, and the Arrow tables as
  an IPC file — which the parent's writer joins into the final files in block order
  (``join_chunk``: a kernel-side copy; ``append_table``: one row group per block, so the
  single Parquet file has the same bytes as when the parent had the tables).

A worker writes only where it finds the probe file the parent put in the staging directory
(``shared_staging``): a Dask worker on another machine, without that disk, finds none and
returns the bytes as ``run_block`` does, and the writer takes them as before. Workers never
create directories, so a block that finishes after its build failed and the staging directory
was removed cannot leave files behind.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from esdh_agent.core.blockwork import (
    BlockOutput,
    BlockTask,
    Encoded,
    Written,
    encode_csv,
    run_block,
)
from esdh_agent.core.contract import arrow_schema
from esdh_agent.core.manifest import part_path

__all__ = [
    "CHUNKS",
    "KEYS",
    "FilesTask",
    "append_table",
    "csv_header",
    "join_chunk",
    "shared_staging",
    "write_block",
]

CHUNKS = ".chunks"
"""Folder of the staging directory where workers put single-layout chunks until joined."""

KEYS = ".keys"
"""Folder of the staging directory where workers leave their blocks' key hashes (bucketed,
``KeyHashes.write``) for the whole-dataset uniqueness check, instead of sending them."""

_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM}


@dataclass(frozen=True)
class FilesTask:
    """A ``BlockTask`` plus where to write: the staging directory and its probe file's name."""

    block: BlockTask
    staging: str
    probe: str


@functools.cache
def csv_header(entity: str) -> bytes:
    """The header line of ``entity``'s CSV (outside the block digest)."""
    header: bytes = encode_csv(arrow_schema(entity).empty_table(), True).to_pybytes()
    return header


def write_block(task: FilesTask, index: int) -> BlockOutput:
    """``run_block``, writing each encoding to the staging directory as soon as it is made;
    without the probe file (no shared disk) the bytes come back in the output instead."""
    root = Path(task.staging)
    if not (root / task.probe).is_file():
        return run_block(task.block, index)
    files = _BlockFiles(root, index, task.block.parts)
    try:
        out = run_block(task.block, index, files.write)
    finally:
        files.synced()
    out.written = files.written
    check = out.check
    for name, hashes in check.keys.items():
        check.key_runs[name] = [
            keys.write(root / KEYS / f"{name}-{index:05d}-{n}") for n, keys in enumerate(hashes)
        ]
    check.keys = {}
    return out


_SYNC: ThreadPoolExecutor | None = None


def _fsync_later(handle: IO[bytes]) -> Future[None]:
    """fsync and close ``handle`` in this worker's fsync thread, so the worker goes on
    encoding the block's next file while the disk catches up."""
    global _SYNC
    if _SYNC is None:
        _SYNC = ThreadPoolExecutor(1, thread_name_prefix="esdh-fsync")

    def sync() -> None:
        try:
            os.fsync(handle.fileno())
        finally:
            handle.close()

    return _SYNC.submit(sync)


class _BlockFiles:
    """The sink of one block: part files (fsynced, hashed) or chunks (hashed when joined)."""

    def __init__(self, root: Path, index: int, parts: bool) -> None:
        self.root, self.index, self.parts = root, index, parts
        self.written: list[Written] = []
        self.syncing: list[Future[None]] = []

    def synced(self) -> None:
        """Wait until every part of the block is on disk (the first error is raised)."""
        for future in self.syncing:
            future.result()

    def write(self, entity: str, fmt: str, data: Encoded) -> None:
        if isinstance(data, pa.Table):
            name = f"{CHUNKS}/{entity}-{self.index:05d}.arrow"
            with pa.OSFile(str(self.root / name), "wb") as sink:
                with ipc.new_file(sink, data.schema) as ipc_writer:
                    ipc_writer.write_table(data)
                size = sink.tell()
            self.written.append(Written(name, entity, fmt, size))
            return
        if not self.parts:
            name = f"{CHUNKS}/{entity}-{self.index:05d}.{fmt}"
            with open(self.root / name, "wb") as handle:
                handle.write(data)
            self.written.append(Written(name, entity, fmt, len(data)))
            return
        name = part_path(entity, self.index, fmt)
        pieces = {"csv": (csv_header(entity), data), "json": (b"[\n", data, b"\n]\n")}
        sha, size = hashlib.sha256(), 0
        handle = open(self.root / name, "wb")  # noqa: SIM115 - closed by the fsync thread
        try:
            for piece in pieces.get(fmt, (data,)):
                handle.write(piece)
                sha.update(piece)
                size += len(piece)
            handle.flush()
        except BaseException:
            handle.close()
            raise
        self.syncing.append(_fsync_later(handle))
        self.written.append(Written(name, entity, fmt, size, sha.hexdigest()))


@contextlib.contextmanager
def shared_staging(staged: Path, layout: str) -> Iterator[str]:
    """Put a probe file, the key folder (and, for the single layout, the chunk folder) in
    ``staged`` for the length of a build; yields the probe's name. All are gone afterwards,
    failed or not."""
    probe = f".probe-{secrets.token_hex(8)}"
    (staged / probe).touch()
    (staged / KEYS).mkdir()
    if layout == "single":
        (staged / CHUNKS).mkdir()
    try:
        yield probe
    finally:
        (staged / probe).unlink(missing_ok=True)
        shutil.rmtree(staged / CHUNKS, ignore_errors=True)
        shutil.rmtree(staged / KEYS, ignore_errors=True)


def join_chunk(chunk: Path, target: IO[bytes], sha: Any, scratch: bytearray) -> int:
    """Append ``chunk`` to ``target`` without copying it through Python (``copy_file_range``,
    or a plain copy where the filesystem refuses), hash it into ``sha``, remove it; its size.

    Hashing reads the chunk from the page cache through ``scratch``; hashlib releases the GIL
    on large buffers, so this overlaps with the workers.
    """
    view = memoryview(scratch)
    size = 0
    with chunk.open("rb", buffering=0) as source:
        while count := source.readinto(view):
            sha.update(view[:count])
            size += count
        target.flush()
        _copy(source.fileno(), target.fileno(), size)
    chunk.unlink()
    return size


def _copy(source: int, target: int, size: int) -> None:
    done = 0
    kernel_copy = getattr(os, "copy_file_range", None)  # Linux only
    try:
        while kernel_copy is not None and done < size:
            count = kernel_copy(source, target, size - done, offset_src=done)
            if count == 0:
                break
            done += count
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
    while done < size:
        data = os.pread(source, min(size - done, 1 << 22), done)
        if not data:
            raise OSError(errno.EIO, "chunk shorter than it was", str(source))
        view = memoryview(data)
        while view:
            view = view[os.write(target, view) :]
        done += len(data)


def append_table(chunk: Path, writer: pq.ParquetWriter) -> None:
    """Write a chunk's Arrow table as one row group of ``writer``'s file; remove the chunk."""
    source = pa.memory_map(str(chunk))
    try:
        table = ipc.open_file(source).read_all()
        writer.write_table(table, row_group_size=max(1, table.num_rows))
        del table
    finally:
        source.close()
    chunk.unlink()
