"""The validator tool: a bundle (or a snapshot on disk) → a ValidationReport.

Row-level rules run per block, vectorized with Arrow compute, wherever the block is (a
worker process during generation). Rules that need the whole dataset — uniqueness and
plan conformance — run in ``Validator.finish`` over keys and tallies the blocks hand back.
Key hashes go to a ``KeyStore`` with a fixed memory budget that spills to disk, tallies are
small and findings are merged as they arrive, so a validator's memory does not grow with
the row count. Every finding is collected; only the caller decides what is fatal.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core import rules
from esdh_agent.core.columns import hash128, index_of, sort_hashes
from esdh_agent.core.contract import ENTITIES
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import MAX_SAMPLES, Finding, Severity, ValidationReport
from esdh_agent.core.vocab import Vocabulary

__all__ = [
    "SPILL_BUDGET",
    "BlockCheck",
    "KeyHashes",
    "KeyStore",
    "ValidationContext",
    "Validator",
    "check_block",
    "validate_tables",
]

Block = dict[str, pa.Table]

ID_COLUMNS = {"persons": "person_id", "vehicles": "vehicle_id", "profiles": "profile_id"}
SPILL_BUDGET = 64 << 20
"""Bytes of key hashes a validator holds in memory before it spills them to disk."""


@dataclass(frozen=True)
class ValidationContext:
    """What the rules need besides the data: governed tables, as-of date, marker, plan."""

    vocab: Vocabulary
    as_of: dt.date
    marker: str | None = None
    plan: GenerationPlan | None = None


@dataclass(frozen=True)
class KeyHashes:
    """128-bit hashes of one block's key column (null rows left out) and their row numbers."""

    h1: np.ndarray
    h2: np.ndarray
    rows: np.ndarray  # 1-based row numbers in the whole entity


@dataclass
class BlockCheck:
    """A block's row-level findings plus the keys and tallies the global rules need."""

    findings: list[Finding] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    rules: set[str] = field(default_factory=set)
    keys: dict[str, list[KeyHashes]] = field(default_factory=dict)
    tallies: dict[str, Counter[str]] = field(default_factory=dict)


class Checker:
    """Collects findings for one block; rules call ``flag`` with a boolean mask of bad rows."""

    def __init__(self, block: Block, offsets: dict[str, int]) -> None:
        self.block = block
        self.offsets = offsets
        self.result = BlockCheck(rows={k: t.num_rows for k, t in block.items()})
        self._hashes: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._indexes: dict[tuple[str, str, str, str], np.ndarray] = {}
        self._codes: dict[tuple[str, str], np.ndarray] = {}
        self._sorted: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.pattern_failures: dict[tuple[str, str], np.ndarray] = {}

    def codes(self, entity: str, column: str, values: tuple[str, ...]) -> np.ndarray:
        """Each row's position in ``values`` (-1 when absent or null), computed once."""
        if (entity, column) not in self._codes:
            found = pc.index_in(self.block[entity].column(column), value_set=pa.array(values))
            self._codes[(entity, column)] = np.asarray(
                pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64
            )
        return self._codes[(entity, column)]

    def hashes(self, entity: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """128-bit hashes of a column (computed once per block)."""
        if (entity, column) not in self._hashes:
            self._hashes[(entity, column)] = hash128(self.block[entity].column(column))
        return self._hashes[(entity, column)]

    def index(self, entity: str, column: str, target: str, target_column: str) -> np.ndarray:
        """Row of ``target`` whose ``target_column`` equals each row's ``column`` (-1: none)."""
        key = (entity, column, target, target_column)
        if key not in self._indexes:
            hay = self.hashes(target, target_column)
            sort_key = (target, target_column)
            if sort_key not in self._sorted:
                self._sorted[sort_key] = sort_hashes(hay, first=True)
            found = index_of(self.hashes(entity, column), hay, self._sorted[sort_key])
            nulls = self.block[entity].column(column).is_null()
            if nulls.null_count or pc.any(nulls).as_py():
                found[as_mask(nulls)] = -1
            self._indexes[key] = found
        return self._indexes[key]

    def flag(
        self,
        rule: str,
        entity: str,
        column: str | None,
        bad: pa.Array | pa.ChunkedArray | np.ndarray,
        message: str,
        severity: Severity = "error",
    ) -> None:
        self.result.rules.add(rule)
        mask = as_mask(bad)
        count = int(mask.sum())
        if not count:
            return
        rows = np.flatnonzero(mask)[:MAX_SAMPLES]
        table = self.block[entity]
        ids = table.column(ID_COLUMNS[entity]).take(pa.array(rows)).to_pylist()
        base = self.offsets.get(entity, 0)
        samples = [f"row {base + int(r) + 1} ({i})" for r, i in zip(rows, ids, strict=True)]
        self.result.findings.append(
            Finding(
                rule=rule,
                entity=entity,
                field=column,
                severity=severity,
                message=message,
                count=count,
                samples=samples,
            )
        )

    def key(
        self,
        name: str,
        entity: str,
        values: pa.Array | pa.ChunkedArray,
        column: str | None = None,
    ) -> None:
        """Hand a key column to the whole-dataset uniqueness rule (as hashes, not strings)."""
        h1, h2 = hash128(values) if column is None else self.hashes(entity, column)
        rows = np.arange(len(h1), dtype=np.int64) + self.offsets.get(entity, 0) + 1
        if values.null_count:
            valid = as_mask(values.is_valid())
            h1, h2, rows = h1[valid], h2[valid], rows[valid]
        self.result.keys.setdefault(name, []).append(KeyHashes(h1, h2, rows))

    def tally_codes(self, name: str, codes: np.ndarray, labels: Sequence[str]) -> None:
        """Count rows per label from integer codes (-1: not counted)."""
        counts = self.result.tallies.setdefault(name, Counter())
        found = np.bincount(codes[codes >= 0], minlength=len(labels))
        for label, n in zip(labels, found, strict=False):
            if n:
                counts[label] += int(n)

    def tally(self, name: str, values: pa.Array | pa.ChunkedArray) -> None:
        counts = self.result.tallies.setdefault(name, Counter())
        for item in pc.value_counts(values).to_pylist():
            if item["values"] is not None:
                counts[str(item["values"])] += int(item["counts"])


def as_mask(bad: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """A numpy bool mask; nulls count as 'not bad' (missing values have their own rule)."""
    if isinstance(bad, np.ndarray):
        return bad.astype(bool)
    filled = pc.fill_null(bad, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def check_block(ctx: ValidationContext, block: Block, offsets: dict[str, int]) -> BlockCheck:
    """Run every row-level rule on one block (all three entities present)."""
    checker = Checker(block, offsets)
    for entity in ENTITIES:
        rules.contract(checker, entity)
    rules.persons(checker, ctx)
    rules.vehicles(checker, ctx)
    rules.profiles(checker)
    rules.hygiene(checker, ctx)
    rules.keys_and_tallies(checker, ctx)
    return checker.result


_KEY = np.dtype([("h1", "<u8"), ("h2", "<u8"), ("row", "<i8")])
_TOP_BITS, _SPLIT_BITS = 6, 4


def _bucket(h1: np.ndarray, shift: int, bits: int) -> np.ndarray:
    return ((h1 >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.intp)


def _partition(records: np.ndarray, shift: int, bits: int) -> Iterator[tuple[int, np.ndarray]]:
    """(bucket, records) for each non-empty bucket of ``bits`` bits of h1 at ``shift``."""
    buckets = _bucket(records["h1"], shift, bits)
    order = np.argsort(buckets, kind="stable")
    counts = np.bincount(buckets, minlength=1 << bits)
    start = 0
    for bucket, count in enumerate(counts.tolist()):
        if count:
            yield bucket, records[order[start : start + count]]
        start += count


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
        self.pending: dict[tuple[str, int], list[np.ndarray]] = {}
        self.held = 0
        self.path: Path | None = None
        self.spilled = 0

    def add(self, name: str, keys: KeyHashes) -> None:
        if name not in self.names:
            self.names.append(name)
        records = np.empty(len(keys.h1), dtype=_KEY)
        records["h1"], records["h2"], records["row"] = keys.h1, keys.h2, keys.rows
        for bucket, part in _partition(records, 64 - _TOP_BITS, _TOP_BITS):
            self.pending.setdefault((name, bucket), []).append(part)
        self.held += records.nbytes
        if self.held > self.budget:
            self.flush()

    def _file(self, name: str, bucket: int) -> Path:
        if self.path is None:
            # <prefix>.<pid>.<random>: the store's staging clean-up keeps it while we run.
            self.path = Path(tempfile.mkdtemp(prefix=f".keys.{os.getpid()}.", dir=self.directory))
            weakref.finalize(self, shutil.rmtree, self.path, True)
        return self.path / f"{name}.{bucket:02d}"

    def flush(self) -> None:
        """Append every held bucket to its file and forget it."""
        for (name, bucket), parts in self.pending.items():
            with self._file(name, bucket).open("ab") as handle:
                for part in parts:
                    handle.write(part.tobytes())
                    self.spilled += part.nbytes
        self.pending.clear()
        self.held = 0

    def buckets(self, name: str) -> Iterator[np.ndarray]:
        """The records of ``name``, one bucket (or sub-bucket) at a time."""
        if self.path is not None and self.pending:
            self.flush()
        for bucket in range(1 << _TOP_BITS):
            parts = self.pending.get((name, bucket))
            if parts is not None:
                yield np.concatenate(parts)
            elif self.path is not None and (self.path / f"{name}.{bucket:02d}").exists():
                yield from self._read(self.path / f"{name}.{bucket:02d}", 64 - _TOP_BITS)

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
                for sub, part in _partition(chunk, shift, bits):
                    path = file.with_name(f"{file.name}.{sub:02d}")
                    with path.open("ab") as out:
                        out.write(part.tobytes())
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


class Validator:
    """Accumulates block checks and runs the whole-dataset rules at the end.

    Findings are merged as blocks arrive (counts added, the first samples kept), tallies are
    small and key hashes go to a ``KeyStore`` that spills past ``budget`` bytes (default
    ``SPILL_BUDGET``), so memory stays bounded whatever the number of blocks. ``finish``
    (or ``close``) removes the spill files.
    """

    def __init__(
        self, ctx: ValidationContext, spill_dir: Path | None = None, budget: int | None = None
    ) -> None:
        self.ctx = ctx
        self.findings: dict[tuple[str, str, str | None, str], Finding] = {}
        self.rows: Counter[str] = Counter()
        self.rules: set[str] = set()
        self.keys = KeyStore(budget, spill_dir)
        self.tallies: dict[str, Counter[str]] = {}

    def add(self, check: BlockCheck) -> None:
        for finding in check.findings:
            have = self.findings.get(finding.key())
            if have is None:
                self.findings[finding.key()] = finding.model_copy(deep=True)
            else:
                have.count += finding.count
                have.samples.extend(finding.samples[: max(MAX_SAMPLES - len(have.samples), 0)])
        self.rows.update(check.rows)
        self.rules |= check.rules
        for name, arrays in check.keys.items():
            for keys in arrays:
                self.keys.add(name, keys)
        for name, counts in check.tallies.items():
            self.tallies.setdefault(name, Counter()).update(counts)

    def finish(self) -> ValidationReport:
        try:
            findings = list(self.findings.values())
            findings += rules.uniqueness(self.keys, self.rules)
        finally:
            self.close()
        if self.ctx.plan is not None:
            findings += rules.conformance(self.ctx.plan, self.tallies, dict(self.rows), self.rules)
        return ValidationReport.merge(findings, dict(self.rows), self.rules)

    def close(self) -> None:
        self.keys.close()


def validate_tables(ctx: ValidationContext, block: Block) -> ValidationReport:
    """Validate whole tables at once (one block): snapshots on disk, API payloads, tests."""
    validator = Validator(ctx)
    validator.add(check_block(ctx, block, {}))
    return validator.finish()
