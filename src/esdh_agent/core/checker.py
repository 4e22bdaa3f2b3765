"""What the row-level rules work with: one block, its context, and a ``Checker`` to report to.

Rules call ``Checker.flag`` with a boolean mask of bad rows; the checker turns it into a
finding and caches what several rules share (value codes, key hashes, foreign-key lookups).
The rules depend on this module, never on the validator that runs them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.columns import hash128, index_of, sort_hashes
from esdh_agent.core.keystore import KeyHashes
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import MAX_SAMPLES, Finding, Severity
from esdh_agent.core.vocab import Vocabulary

__all__ = ["ID_COLUMNS", "Block", "BlockCheck", "Checker", "ValidationContext", "as_mask"]

Block = dict[str, pa.Table]

ID_COLUMNS = {"persons": "person_id", "vehicles": "vehicle_id", "profiles": "profile_id"}


@dataclass(frozen=True)
class ValidationContext:
    """What the rules need besides the data: governed tables, as-of date, marker, plan."""

    vocab: Vocabulary
    as_of: dt.date
    marker: str | None = None
    plan: GenerationPlan | None = None


@dataclass
class BlockCheck:
    """A block's row-level findings plus the keys and tallies the global rules need."""

    findings: list[Finding] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    rules: set[str] = field(default_factory=set)
    keys: dict[str, list[KeyHashes]] = field(default_factory=dict)
    tallies: dict[str, Counter[str]] = field(default_factory=dict)


def as_mask(bad: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """A numpy bool mask; nulls count as 'not bad' (missing values have their own rule)."""
    if isinstance(bad, np.ndarray):
        return bad.astype(bool)
    filled = pc.fill_null(bad, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


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
