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
from pathlib import Path

import numpy as np

__all__ = ["SPILL_BUDGET", "KeyHashes", "KeyStore"]

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


_Held = Callable[[int], "np.ndarray | None"]


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
            bounds.append(np.concatenate([[0], np.cumsum(part.counts)]).tolist())

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
        for bucket in range(1 << _TOP_BITS):
            file = self.path / f"{name}.{bucket:02d}" if self.path is not None else None
            if file is not None and file.exists():
                yield functools.partial(self._merged, file, held, bucket)
            elif totals[bucket]:
                yield functools.partial(_just, held, bucket)

    def _merged(self, file: Path, held: _Held, bucket: int) -> Iterator[np.ndarray]:
        """A spilled bucket with its records still held appended (on the reader's thread)."""
        part = held(bucket)
        if part is not None:
            with file.open("ab") as handle:
                handle.write(part.data)
        yield from self._read(file, 64 - _TOP_BITS)

    def _read(self, file: Path, shift: int) -> Iterator[np.ndarray]:
        limit = max(self.budget // 4, _KEY.itemsize)
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
        """Forget held records and remove the spill directory."""
        self.pending.clear()
        self.held = 0
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def _just(held: _Held, bucket: int) -> Iterator[np.ndarray]:
    """A bucket only ever held in memory."""
    part = held(bucket)
    if part is not None:
        yield part
