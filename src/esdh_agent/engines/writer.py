"""The other end of an engine: a writer thread that streams blocks into the staging directory.

Blocks arrive in block order from any engine. The writer appends each to the open files of the
``single`` layout, or writes it as one self-contained file per entity and format in the
``parts`` layout (ADR 0008), hashing every byte as it goes so no file is read back (a single
Parquet file too: its bytes are hashed as Arrow's writer hands them over). Blocks whose
files a worker wrote itself (``engines.ownfiles``) bring only entries: their parts are
listed, their chunks joined into the single files in block order (each file on a thread of
its own, one block at a time, so a file's chunks still join in order). File writes and
SHA-256 release the GIL, so writing overlaps with receiving the next blocks. The queue is
short: the writer holds at most a few blocks, whatever the row count.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any, TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

from esdh_agent.core.blockwork import BlockOutput, encode_csv
from esdh_agent.core.contract import ENTITIES, arrow_schema
from esdh_agent.core.faults import crash_point
from esdh_agent.core.manifest import FileEntry, Layout, part_path
from esdh_agent.core.store import fsync_dir
from esdh_agent.engines.local import available_cpus
from esdh_agent.engines.ownfiles import append_table, join_chunk

__all__ = ["BlockWriter"]

Data: TypeAlias = "bytes | pa.Buffer"


class _Hashed:
    """An open file with its running SHA-256 and size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[bytes] = path.open("wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: Data) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)

    def close(self, sync: bool = False) -> None:
        if sync:
            self.handle.flush()
            os.fsync(self.handle.fileno())
        self.handle.close()


class _Through(io.RawIOBase):
    """A write-only file object for Arrow's Parquet writer that hashes and counts every byte
    on its way into a ``_Hashed`` file, so the single Parquet file is not read back to be
    hashed once its footer is written (a serial pass over the whole file at the end)."""

    def __init__(self, file: _Hashed) -> None:
        super().__init__()
        self.file = file

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.file.write(view)
        return len(view)

    def tell(self) -> int:
        return self.file.size

    def close(self) -> None:  # the BlockWriter closes the file itself
        super().close()


class BlockWriter:
    """Writes block outputs, in the order given, as the ``single`` or ``parts`` layout.

    ``add`` hands a block to the writer thread (blocking while two are queued); ``close``
    finishes every file and returns their manifest entries; ``abort`` stops without them.
    """

    def __init__(self, staged: Path, formats: tuple[str, ...], layout: Layout = "single"):
        self.staged = staged
        self.formats = formats
        self.layout = layout
        self.files: dict[str, _Hashed] = {}
        self.entries: list[FileEntry] = []
        self.parquet: dict[str, pq.ParquetWriter] = {}
        self.sinks: dict[str, pa.NativeFile] = {}
        self.json_started: set[str] = set()
        self.header = {e: encode_csv(arrow_schema(e).empty_table(), True) for e in ENTITIES}
        self.blocks = 0
        self.seconds = 0.0
        self.pool: ThreadPoolExecutor | None = None
        self.error: BaseException | None = None
        self.queue: queue.Queue[BlockOutput | None] = queue.Queue(maxsize=2)
        for entity in ENTITIES:
            if layout == "parts":
                (staged / entity).mkdir()
                continue
            self._open(f"{entity}.csv", self.header[entity])
            if "json" in formats:
                self._open(f"{entity}.json", b"[\n")
            if "parquet" in formats:
                # Arrow's buffer in front: one Python call per MiB, not one per page
                through = pa.PythonFile(_Through(self._open(f"{entity}.parquet")), mode="w")
                self.sinks[entity] = sink = pa.BufferedOutputStream(through, 1 << 20)
                self.parquet[entity] = pq.ParquetWriter(
                    sink, arrow_schema(entity), compression="zstd"
                )
        self.thread = threading.Thread(target=self._run, name="esdh-writer", daemon=True)
        self.thread.start()

    def _open(self, name: str, first: Data = b"") -> _Hashed:
        self.files[name] = file = _Hashed(self.staged / name)
        self._write(name, first)
        return file

    def _write(self, name: str, data: Data) -> None:
        """Every byte of every file goes through here: written, hashed and counted."""
        self.files[name].write(data)

    def _run(self) -> None:
        while (out := self.queue.get()) is not None:
            if self.error is not None:
                continue
            start = time.perf_counter()
            try:
                if out.written:
                    self._add_written(out)
                elif self.layout == "parts":
                    self._add_parts(out)
                else:
                    self._add_single(out)
                self.blocks += 1
                if self.blocks == 1:
                    self._first_block_written()
            except BaseException as exc:
                self.error = exc
            self.seconds += time.perf_counter() - start

    def _first_block_written(self) -> None:
        """Flush the first block to the operating system, then offer the crash point."""
        for file in self.files.values():
            file.handle.flush()
        crash_point("write_data")

    def _add_single(self, out: BlockOutput) -> None:
        for entity, data in out.csv.items():
            self._write(f"{entity}.csv", data)
        for entity, body in out.json.items():
            if body:
                if entity in self.json_started:
                    self._write(f"{entity}.json", b",\n")
                self._write(f"{entity}.json", body)
                self.json_started.add(entity)
        for entity, table in out.tables.items():
            self.parquet[entity].write_table(table, row_group_size=max(1, table.num_rows))

    def _add_written(self, out: BlockOutput) -> None:
        """A block whose files a worker wrote: list its parts (already fsynced), or join its
        chunks into the single files — in block order, as every block reaches the writer."""
        jobs: list[Callable[[], object]] = []
        for done in out.written:
            if self.layout == "parts":
                self.entries.append(
                    FileEntry(
                        path=done.path,
                        bytes=done.bytes,
                        sha256=done.sha256,
                        rows=out.rows[done.entity],
                        entity=done.entity,
                        format=done.format,
                    )
                )
                continue
            chunk = self.staged / done.path
            if done.format == "table":
                jobs.append(functools.partial(append_table, chunk, self.parquet[done.entity]))
                continue
            name = f"{done.entity}.{done.format}"
            separator = b""
            if done.format == "json" and done.bytes:
                if done.entity in self.json_started:
                    separator = b",\n"
                self.json_started.add(done.entity)
            jobs.append(functools.partial(self._join, name, chunk, separator))
        self._each_file(jobs)

    def _join(self, name: str, chunk: Path, separator: bytes) -> None:
        """Append one worker's chunk to the single file ``name`` (after ``separator``), then
        flush it to disk now rather than at commit."""
        if separator:
            self._write(name, separator)
        file = self.files[name]
        file.size += join_chunk(chunk, file.handle, file.sha, bytearray(1 << 20))
        file.handle.flush()
        os.fdatasync(file.handle.fileno())

    def _each_file(self, jobs: list[Callable[[], object]]) -> None:
        """Run one block's jobs, one per single file, side by side: files are independent
        (each job touches only its own file, so blocks still join in order within a file),
        and joining, hashing and Parquet encoding run without the GIL. All are waited for
        before the first error is raised, so no job still writes when the files close."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(
                max(1, min(len(jobs), available_cpus())),
                thread_name_prefix="esdh-join",
            )
        futures = [self.pool.submit(job) for job in jobs]
        wait(futures)
        for future in futures:
            future.result()

    def _add_parts(self, out: BlockOutput) -> None:
        """One file per entity and format for this block: each a complete CSV / JSON /
        Parquet file. Parts are fsynced here (the store fsyncs only top-level files)."""
        for entity in ENTITIES:
            rows = out.rows[entity]
            self._part(entity, out.index, "csv", rows, self.header[entity], out.csv[entity])
            if "json" in self.formats:
                body = out.json[entity]
                self._part(entity, out.index, "json", rows, b"[\n", body, b"\n]\n")
            if "parquet" in self.formats:  # encoded by the worker (BlockTask.parts)
                self._part(entity, out.index, "parquet", rows, out.parquet[entity])

    def _part(self, entity: str, index: int, fmt: str, rows: int, *chunks: Data) -> None:
        name = part_path(entity, index, fmt)
        self.files[name] = file = _Hashed(self.staged / name)
        try:
            for data in chunks:
                self._write(name, data)
        finally:
            del self.files[name]
            file.close(sync=True)
        self.entries.append(
            FileEntry(
                path=name,
                bytes=file.size,
                sha256=file.sha.hexdigest(),
                rows=rows,
                entity=entity,
                format=fmt,
            )
        )

    def add(self, out: BlockOutput) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(out)

    def _drain(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.pool is not None:
            self.pool.shutdown()

    def close(self, rows: dict[str, int]) -> list[FileEntry]:
        """Finish every file; their entries (path, bytes, rows, SHA-256), sorted by path."""
        self._drain()
        if self.error is not None:
            raise self.error
        for entity in ENTITIES:
            if "json" in self.formats and self.layout == "single":
                self._write(f"{entity}.json", b"\n]\n")
        for entity, writer in self.parquet.items():
            writer.close()  # the footer goes through the file's hash like every other byte
            self.sinks[entity].close()  # flushes Arrow's buffer (the file stays open)
        for name, file in self.files.items():
            file.close()
            entity, fmt = name.split(".")
            self.entries.append(
                FileEntry(
                    path=name,
                    bytes=file.size,
                    sha256=file.sha.hexdigest(),
                    rows=rows[entity],
                    entity=entity,
                    format=fmt,
                )
            )
        if self.layout == "parts":
            for entity in ENTITIES:
                fsync_dir(self.staged / entity)
        return sorted(self.entries, key=lambda f: f.path)

    def abort(self) -> None:
        """Stop the thread and close every file; the caller removes the directory."""
        self.error = self.error or RuntimeError("aborted")
        self._drain()
        for entity, writer in self.parquet.items():
            with contextlib.suppress(Exception):
                writer.close()
            with contextlib.suppress(Exception):
                self.sinks[entity].close()
        for file in self.files.values():
            file.close()
