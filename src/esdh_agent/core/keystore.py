"""Key hashes for the whole-dataset uniqueness rule, held within a fixed memory budget.

Blocks hand back ``KeyHashes`` (128-bit hashes of a key column and their row numbers); a
``KeyStore`` gathers them per key column and spills them to disk, bucket by bucket, once they
pass its budget, so checking uniqueness never needs every key in memory at once.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SPILL_BUDGET", "KeyHashes", "KeyRun", "KeyStore"]

SPILL_BUDGET = 64 << 20
"""Bytes of key hashes a validator holds in memory before it spills them to disk."""


_KEY = np.dtype([("h1", "<u8"), ("h2", "<u8"), ("row", "<i8")])
_TOP_BITS, _SPLIT_BITS = 6, 4


def _bucketed(
    h1: np.ndarray, h2: np.ndarray, rows: np.ndarray, shift: int, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """(records, counts): the records ordered by ``bits`` (at most 8) bits of h1 at ``shift``,
    in their original order within a bucket, and each bucket's count. The bucket numbers are
    bytes, so the stable sort is a radix sort, and each field is gathered on its own
    (gathering whole records is several times slower)."""
    buckets = ((h1 >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.uint8)
    order = np.argsort(buckets, kind="stable")
    records = np.empty(len(h1), dtype=_KEY)
    records["h1"], records["h2"], records["row"] = h1[order], h2[order], rows[order]
    return records, np.bincount(buckets, minlength=1 << bits)


def _by_bucket(
    h1: np.ndarray, h2: np.ndarray, rows: np.ndarray, shift: int, bits: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(bucket, records) for each non-empty bucket (see ``_bucketed``)."""
    records, counts = _bucketed(h1, h2, rows, shift, bits)
    start = 0
    for bucket, count in enumerate(counts.tolist()):
        if count:
            yield bucket, records[start : start + count]
        start += count


class KeyHashes:
    """128-bit hashes of one block's key column (null rows left out) and their 1-based row
    numbers in the whole entity, as records already ordered by the store's buckets.

    Ordering happens where the block is checked (a worker process, in a pooled build), so
    the store only appends slices: it never sorts a whole budget's worth of keys itself.
    """

    __slots__ = ("counts", "records")

    def __init__(self, h1: np.ndarray, h2: np.ndarray, rows: np.ndarray) -> None:
        self.records, self.counts = _bucketed(h1, h2, rows, 64 - _TOP_BITS, _TOP_BITS)

    @property
    def h1(self) -> np.ndarray:
        return self.records["h1"]

    @property
    def h2(self) -> np.ndarray:
        return self.records["h2"]

    @property
    def rows(self) -> np.ndarray:
        return self.records["row"]

    def __len__(self) -> int:
        return len(self.records)

    def write(self, path: Path) -> KeyRun:
        """Put the records in a file (a worker does, for its block); the run names it."""
        self.records.tofile(path)
        return KeyRun(str(path), self.counts)


@dataclass(frozen=True)
class KeyRun:
    """A block's key records in a file, in bucket order, and how many each bucket holds:
    what a worker hands back instead of the records themselves (``KeyHashes.write``)."""

    path: str
    counts: np.ndarray

    def bounds(self) -> list[int]:
        return _bounds(self.counts)


_Held = Callable[[int], "np.ndarray | None"]


def _bounds(counts: np.ndarray) -> list[int]:
    """Where each bucket starts in bucket-ordered records (and, last, where they end)."""
    return np.concatenate([[0], np.cumsum(counts)]).tolist()  # type: ignore[no-any-return]


class KeyStore:
    """Every block's 128-bit key hashes, per key column, within a fixed memory budget.

    Records (h1, h2, row) go to one of 64 buckets by the top 6 bits of h1, so equal keys
    always share a bucket and each bucket can be checked on its own. Records stay in memory
    until they pass ``budget`` bytes, then every bucket is appended to its own file in a
    private temporary directory under ``directory``. ``buckets`` reads one bucket at a time
    and splits a file bigger than a quarter of the budget again by the next 4 bits of h1,
    so checking holds a bounded amount too (unless one key value alone repeats beyond it).
    """

    def __init__(self, budget: int | None = None, directory: Path | None = None) -> None:
        self.budget = budget or SPILL_BUDGET
        self.directory = directory
        self.names: list[str] = []
        self.pending: dict[str, list[KeyHashes]] = {}
        self.held = 0
        self.path: Path | None = None
        self.spilled = 0
        self.runs: dict[str, list[tuple[str, list[int]]]] = {}

    def add_run(self, name: str, run: KeyRun) -> None:
        """Take a block's keys that a worker left in a file: nothing is held or written here;
        ``readers`` reads each bucket's slice of the file where it checks the bucket. The
        file belongs to the caller (the build's staging directory)."""
        if name not in self.names:
            self.names.append(name)
        self.runs.setdefault(name, []).append((run.path, run.bounds()))

    def add(self, name: str, keys: KeyHashes, spill: bool = True) -> None:
        """Hold ``keys``; past the budget, spill everything held (unless ``spill`` is false:
        the caller's last keys, which ``readers`` merges with the spilled ones instead of
        writing them out only to read them back)."""
        if name not in self.names:
            self.names.append(name)
        self.pending.setdefault(name, []).append(keys)
        self.held += keys.records.nbytes
        if spill and self.held > self.budget:
            self.flush()

    def _take_held(self, name: str) -> tuple[_Held, np.ndarray]:
        """Forget the held records of ``name``; return (bucket -> its held records or None,
        the records per bucket). Buckets are put together from the blocks' slices only when
        asked for, so a reader thread can do it."""
        parts = self.pending.pop(name, [])
        self.held -= sum(part.records.nbytes for part in parts)
        totals = np.zeros(1 << _TOP_BITS, dtype=np.int64)
        bounds = []
        for part in parts:
            totals += part.counts
            bounds.append(_bounds(part.counts))

        def bucket(number: int) -> np.ndarray | None:
            pieces = [
                part.records[ends[number] : ends[number + 1]]
                for part, ends in zip(parts, bounds, strict=True)
                if ends[number + 1] > ends[number]
            ]
            if not pieces:
                return None
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

        return bucket, totals

    def _file(self, name: str, bucket: int) -> Path:
        if self.path is None:
            # <prefix>.<pid>.<random>: the store's staging clean-up keeps it while we run.
            self.path = Path(tempfile.mkdtemp(prefix=f".keys.{os.getpid()}.", dir=self.directory))
            weakref.finalize(self, shutil.rmtree, self.path, True)
        return self.path / f"{name}.{bucket:02d}"

    def flush(self) -> None:
        """Append every held bucket to its file and forget it."""
        for name in list(self.pending):
            held, totals = self._take_held(name)
            for bucket in np.flatnonzero(totals).tolist():
                part = held(bucket)
                assert part is not None
                with self._file(name, bucket).open("ab") as handle:
                    handle.write(part.data)
                self.spilled += part.nbytes
        self.held = 0

    def buckets(self, name: str) -> Iterator[np.ndarray]:
        """The records of ``name``, one bucket (or sub-bucket) at a time."""
        for read in self.readers(name):
            yield from read()

    def readers(self, name: str) -> Iterator[Callable[[], Iterator[np.ndarray]]]:
        """One reader per bucket of ``name``, each yielding that bucket's records (split again
        when too big). Readers touch only their own bucket's files, so they may run on
        threads of their own, in any order."""
        held, totals = self._take_held(name)
        runs = self.runs.pop(name, [])
        for _, ends in runs:
            totals += np.diff(ends)
        if self.path is None and totals.max(initial=0) * _KEY.itemsize > self._limit():
            self._file(name, 0)  # a bucket will need a file: make the directory before threads
        for bucket in range(1 << _TOP_BITS):
            file = self.path / f"{name}.{bucket:02d}" if self.path is not None else None
            spilled = file is not None and file.exists()
            if spilled or totals[bucket]:
                yield functools.partial(self._merged, name, bucket, held, runs, spilled)

    def _merged(
        self,
        name: str,
        bucket: int,
        held: _Held,
        runs: list[tuple[str, list[int]]],
        spilled: bool,
    ) -> Iterator[np.ndarray]:
        """One bucket: its spilled file, its records still held and its slices of the
        workers' run files, checked together (on the reader's thread). Small enough, they
        are joined in memory; else appended to the bucket's file, which ``_read`` splits."""
        part = held(bucket)
        counts = [(path, ends[bucket], ends[bucket + 1]) for path, ends in runs]
        counts = [(path, start, end) for path, start, end in counts if end > start]
        total = sum(end - start for _, start, end in counts) + (
            len(part) if part is not None else 0
        )
        if not spilled and total * _KEY.itemsize <= self._limit():
            if total:
                records = np.empty(total, dtype=_KEY)
                at = 0
                for path, start, end in counts:
                    _pread_into(path, start, records[at : at + end - start])
                    at += end - start
                if part is not None:
                    records[at:] = part
                yield records
            return
        file = self._file(name, bucket)
        with file.open("ab") as handle:
            for path, start, end in counts:
                piece = np.empty(end - start, dtype=_KEY)
                _pread_into(path, start, piece)
                handle.write(piece.data)
            if part is not None:
                handle.write(part.data)
        yield from self._read(file, 64 - _TOP_BITS)

    def _limit(self) -> int:
        """The most bytes of one bucket checked in memory before it is split."""
        return max(self.budget // 4, _KEY.itemsize)

    def _read(self, file: Path, shift: int) -> Iterator[np.ndarray]:
        limit = self._limit()
        size = file.stat().st_size
        if size <= limit or shift <= 0:
            yield np.fromfile(file, dtype=_KEY)
            file.unlink()
            return
        shift = max(shift - _SPLIT_BITS, 0)
        bits = min(_SPLIT_BITS, 64 - shift)
        subs: set[Path] = set()
        with file.open("rb") as handle:
            while len(chunk := np.fromfile(handle, dtype=_KEY, count=limit // _KEY.itemsize)):
                for sub, part in _by_bucket(chunk["h1"], chunk["h2"], chunk["row"], shift, bits):
                    path = file.with_name(f"{file.name}.{sub:02d}")
                    with path.open("ab") as out:
                        out.write(part.data)
                    subs.add(path)
        file.unlink()
        if len(subs) == 1 and next(iter(subs)).stat().st_size == size:
            yield np.fromfile(next(iter(subs)), dtype=_KEY)  # one key value fills it
            return
        for path in sorted(subs):
            yield from self._read(path, shift)

    def close(self) -> None:
        """Forget held records and runs, and remove the spill directory."""
        self.pending.clear()
        self.runs.clear()
        self.held = 0
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def _pread_into(path: str, start: int, out: np.ndarray) -> None:
    """Records ``start:start + len(out)`` of a run file, read straight into ``out`` (one open
    and one ``pread``: a bucket's reader takes a slice of every block's run)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        view, offset = out.data.cast("B"), start * _KEY.itemsize
        while view:
            count = os.preadv(fd, [view], offset)
            if count <= 0:
                raise OSError(f"{path}: key run shorter than its counts")
            view, offset = view[count:], offset + count
    finally:
        os.close(fd)
