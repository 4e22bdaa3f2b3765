"""What the row-level rules work with: one block, its context, and a ``Checker`` to report to.

Rules call ``Checker.flag`` with a boolean mask of bad rows; the checker turns it into a
finding and caches what several rules share (flat columns, value codes, 128-bit keys,
foreign-key lookups, pattern verdicts), so each is computed once per block whichever rule
asks first. The rules depend on this module, never on the validator that runs them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.keyhash import keys128
from esdh_agent.core.keystore import KeyHashes, KeyRun
from esdh_agent.core.lookup import HayIndex, confirm, find_first, gathered, run_ids
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import MAX_SAMPLES, Finding, Severity
from esdh_agent.core.shapes import value_codes
from esdh_agent.core.vocab import Vocabulary

__all__ = [
    "COPIES",
    "ID_COLUMNS",
    "Block",
    "BlockCheck",
    "Checker",
    "ValidationContext",
    "as_mask",
    "scalar",
]

Block = dict[str, pa.Table]

ID_COLUMNS = {"persons": "person_id", "vehicles": "vehicle_id", "profiles": "profile_id"}

_SAME_VALUES = {("profiles", "person_id"): ("persons", "person_id")}
"""Columns that usually hold exactly another column's values, row for row: when they do,
their keys are that column's keys (checked by comparing the strings, never assumed)."""

_OWNER = ("vehicles", "person_id", "persons", "person_id")
_PERSON = ("profiles", "person_id", "persons", "person_id")
_VEHICLE = ("profiles", "vehicle_id", "vehicles", "vehicle_id")
COPIES: dict[tuple[str, str], tuple[str, str, tuple[str, str, str, str]]] = {
    ("vehicles", "lob_type"): ("persons", "lob_type", _OWNER),
    ("vehicles", "garaging_state"): ("persons", "state", _OWNER),
    ("vehicles", "garaging_postal_code"): ("persons", "postal_code", _OWNER),
    ("profiles", "lob_type"): ("persons", "lob_type", _PERSON),
    ("profiles", "residence_state"): ("persons", "state", _PERSON),
    ("profiles", "city"): ("persons", "city", _PERSON),
    ("profiles", "postal_code"): ("persons", "postal_code", _PERSON),
    ("profiles", "garaging_state"): ("vehicles", "garaging_state", _VEHICLE),
    ("profiles", "primary_vehicle_vin"): ("vehicles", "vin", _VEHICLE),
    ("profiles", "risk_rating"): ("vehicles", "risk_rating", _VEHICLE),
}
"""Columns that copy a column of the row another column references (the rules check that
they do): (source entity, source column, the lookup that finds the source row). Where a
value equals its source, whatever is a function of the value alone (a pattern verdict, an
enum code) is the source's; only the other rows are looked at."""


@lru_cache(maxsize=256)
def _scalar(value: str | int | bool, _kind: str) -> pa.Scalar:
    return pa.scalar(value)


def scalar(value: str | int | bool) -> pa.Scalar:
    """An Arrow scalar of a Python value, made once: pyarrow tries an optional import each
    time it converts a Python value, which costs more than many compute calls."""
    return _scalar(value, type(value).__name__)


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
    key_runs: dict[str, list[KeyRun]] = field(default_factory=dict)  # keys a worker wrote
    tallies: dict[str, Counter[str]] = field(default_factory=dict)


def as_mask(bad: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """A numpy bool mask; nulls count as 'not bad' (missing values have their own rule)."""
    if isinstance(bad, np.ndarray):
        return bad if bad.dtype == np.bool_ else bad.astype(bool)
    if bad.null_count:
        bad = pc.fill_null(bad, False)
    if isinstance(bad, pa.ChunkedArray):
        bad = bad.combine_chunks()
    return np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)


def _span(values: np.ndarray) -> int:
    return int(values.max(initial=0)) - int(values.min(initial=0))


class Checker:
    """Collects findings for one block; rules call ``flag`` with a boolean mask of bad rows."""

    def __init__(self, block: Block, offsets: dict[str, int]) -> None:
        self.block = block
        self.offsets = offsets
        self.result = BlockCheck(rows={k: t.num_rows for k, t in block.items()})
        self._columns: dict[tuple[str, str], pa.Array] = {}
        self._codes: dict[tuple[str, str], np.ndarray] = {}
        self._keys: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._hay: dict[tuple[str, str], HayIndex] = {}
        self._indexes: dict[tuple[str, str, str, str], np.ndarray] = {}
        self._runs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._shared: dict[str, Any] = {}
        self.pattern_failures: dict[tuple[str, str], np.ndarray] = {}
        self.patterns: dict[tuple[str, str], str] = {}

    def column(self, entity: str, name: str) -> pa.Array:
        """One column of the block as a single array (chunks combined once)."""
        if (entity, name) not in self._columns:
            values = self.block[entity].column(name)
            self._columns[(entity, name)] = (
                values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
            )
        return self._columns[(entity, name)]

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """A value several rules derive the same way (a joined key, a taken column), made once."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def codes(self, entity: str, column: str, values: tuple[str, ...]) -> np.ndarray:
        """Each row's position in ``values`` (-1 when absent or null), computed once; a
        column that copies another takes the source's codes where it equals the source."""
        if (entity, column) not in self._codes:
            copy = COPIES.get((entity, column))
            if copy is not None:
                source = self.codes(copy[0], copy[1], values)
                self._codes[(entity, column)] = self.from_source(
                    entity, column, source, lambda sub: value_codes(sub, values)
                )
            else:
                self._codes[(entity, column)] = value_codes(self.column(entity, column), values)
        return self._codes[(entity, column)]

    def from_source(
        self,
        entity: str,
        column: str,
        source: np.ndarray,
        compute: Callable[[pa.Array], np.ndarray],
    ) -> np.ndarray:
        """A per-row function of a copying column's values: ``source`` (the function over the
        source column) where the value equals its source, ``compute`` over the other rows."""
        rows, same = self.source_rows(entity, column), self.same_as_source(entity, column)
        out = np.empty(len(rows), dtype=source.dtype)
        out[same] = source[rows[same]]
        other = np.flatnonzero(~same)
        if len(other):
            out[other] = compute(self.column(entity, column).take(pa.array(other)))
        return out

    def source_rows(self, entity: str, column: str) -> np.ndarray:
        """The row each row of a copying column copies from (-1: none found)."""
        return self.index(*COPIES[(entity, column)][2])

    def unequal(self, entity: str, column: str) -> pa.Array:
        """Whether a copying column's value differs from its source's (row 0's when there is
        no source row; null when either is null), computed once for every rule."""
        name = f"unequal {entity}.{column}"
        if name not in self._shared:
            source_entity, source_column, _ = COPIES[(entity, column)]
            theirs = gathered(
                self.column(source_entity, source_column),
                np.maximum(self.source_rows(entity, column), 0),
            )
            self._shared[name] = pc.not_equal(self.column(entity, column), theirs)
        result: pa.Array = self._shared[name]
        return result

    def same_as_source(self, entity: str, column: str) -> np.ndarray:
        """Rows whose (non-null) value equals the (non-null) value of its source row."""
        name = f"same {entity}.{column}"
        if name not in self._shared:
            differ = self.unequal(entity, column)
            same = self.source_rows(entity, column) >= 0
            if differ.null_count:
                same &= as_mask(differ.is_valid())
            same &= ~as_mask(differ)
            self._shared[name] = same
        result: np.ndarray = self._shared[name]
        return result

    def keys(self, entity: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """128-bit keys of a column's values (computed once per block, nulls as '')."""
        if (entity, column) not in self._keys:
            same = _SAME_VALUES.get((entity, column))
            values = self.column(entity, column)
            if same is not None and self._equal_columns((entity, column), same):
                self._keys[(entity, column)] = self.keys(*same)
            else:
                self._keys[(entity, column)] = keys128(values)
        return self._keys[(entity, column)]

    def _equal_columns(self, one: tuple[str, str], other: tuple[str, str]) -> bool:
        """Whether two columns hold the same values, row for row (no nulls)."""
        if len(self.column(*one)) != len(self.column(*other)):
            return False
        return bool(self.aligned(one, other).all())

    def hay(self, entity: str, column: str) -> HayIndex:
        """The sorted keys of a column that other rows look their values up in."""
        if (entity, column) not in self._hay:
            same = _SAME_VALUES.get((entity, column))
            keys = self.keys(entity, column)
            if same is not None and keys is self.keys(*same):
                self._hay[(entity, column)] = self.hay(*same)
            else:
                self._hay[(entity, column)] = HayIndex(keys)
        return self._hay[(entity, column)]

    def runs(self, entity: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(run id of each row, first row of each run) of equal consecutive values."""
        if (entity, column) not in self._runs:
            self._runs[(entity, column)] = run_ids(self.column(entity, column))
        return self._runs[(entity, column)]

    def index(self, entity: str, column: str, target: str, target_column: str) -> np.ndarray:
        """First row of ``target`` whose ``target_column`` equals each row's ``column`` (-1:
        none, or a null value; a null in ``target_column`` is found as '')."""
        key = (entity, column, target, target_column)
        if key not in self._indexes:
            needles = self.column(entity, column)
            found = np.full(len(needles), -1, dtype=np.int64)
            todo = np.ones(len(needles), dtype=bool)
            if needles.null_count:
                todo &= as_mask(needles.is_valid())
            guess, hit = self._guess(key)
            if guess is not None and hit is not None:
                hit &= todo
                found[hit], todo = guess[hit], todo & ~hit
            if todo.any():
                rows = np.flatnonzero(todo) if not todo.all() else slice(None)
                h1, h2 = self.keys(entity, column)
                found[rows] = find_first((h1[rows], h2[rows]), self.hay(target, target_column))
            self._indexes[key] = found
        return self._indexes[key]

    def aligned(self, one: tuple[str, str], other: tuple[str, str]) -> np.ndarray:
        """Rows (of ``one``) holding the same non-null value as the same row of ``other``."""
        name = f"aligned {sorted([one, other])}"
        if name not in self._shared:
            mine, theirs = self.column(*one), self.column(*other)
            common = min(len(mine), len(theirs))
            equal = pc.equal(mine.slice(0, common), theirs.slice(0, common))
            self._shared[name] = as_mask(equal)
        out = np.zeros(len(self.column(*one)), dtype=bool)
        same: np.ndarray = self._shared[name]
        out[: len(same)] = same
        return out

    def _guess(self, key: tuple[str, str, str, str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(guess, rows where it holds): where each row's match probably is, in data laid out
        as the generator writes it. A guess that holds is the first match when the target's
        values are distinct (or, for a person's first vehicle, by ``_first_of_runs``)."""
        entity, column, target, target_column = key
        if key == ("persons", "person_id", "vehicles", "person_id"):
            return self._first_of_runs()
        if not self.hay(target, target_column).distinct:
            return None, None
        if (entity, target) in (("profiles", "persons"), ("persons", "profiles")):
            same = self.aligned((entity, column), (target, target_column))
            return np.arange(len(same), dtype=np.int64), same.copy()
        if key == ("profiles", "vehicle_id", "vehicles", "vehicle_id"):
            person = self.index("profiles", "person_id", "persons", "person_id")
            first = self.index("persons", "person_id", "vehicles", "person_id")
            guess = np.where(person >= 0, first[np.maximum(person, 0)], -1)
        else:  # run k of equal consecutive needles is row k of the target
            guess = self.runs(entity, column)[0]
        needles, hay = self.column(entity, column), self.column(target, target_column)
        return guess, confirm(needles, hay, guess)

    def _first_of_runs(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """A person's first vehicle is the start of its run when each run of vehicles.person_id
        holds the next person's id (then no id can occur in two runs: persons are distinct)."""
        owner = self.index("vehicles", "person_id", "persons", "person_id")
        run, starts = self.runs("vehicles", "person_id")
        persons = len(self.column("persons", "person_id"))
        if not self.hay("persons", "person_id").distinct or not np.array_equal(owner, run):
            return None, None
        first = np.full(persons, -1, dtype=np.int64)
        first[: len(starts)] = starts[:persons]
        return first, first >= 0

    def checked(self, rule: str) -> None:
        """``rule`` ran and found nothing (nothing to look at)."""
        self.result.rules.add(rule)

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
        count = int(np.count_nonzero(mask))
        if not count:
            return
        rows = np.flatnonzero(mask)[:MAX_SAMPLES]
        ids = self.column(entity, ID_COLUMNS[entity]).take(pa.array(rows)).to_pylist()
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
        """Hand a key column to the whole-dataset uniqueness rule (as keys, not strings)."""
        h1, h2 = keys128(values) if column is None else self.keys(entity, column)
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

    def tally_yes_no(self, name: str, yes: np.ndarray, counted: np.ndarray | None = None) -> None:
        """Count 'yes' and 'no' rows of a condition (rows outside ``counted`` not at all)."""
        total = len(yes) if counted is None else int(np.count_nonzero(counted))
        hits = int(np.count_nonzero(yes if counted is None else yes & counted))
        counts = self.result.tallies.setdefault(name, Counter())
        for label, n in (("yes", hits), ("no", total - hits)):
            if n:
                counts[label] += n

    def tally(self, name: str, values: pa.Array | pa.ChunkedArray | np.ndarray) -> None:
        """Count rows per value (nulls not counted); integers may come as a numpy array."""
        counts = self.result.tallies.setdefault(name, Counter())
        if isinstance(values, np.ndarray) and _span(values) < 1 << 16:
            low = int(values.min(initial=0))
            found = np.bincount(values - low)
            for offset in np.flatnonzero(found).tolist():
                counts[str(offset + low)] += int(found[offset])
            return
        if isinstance(values, np.ndarray):
            values = pa.array(values)
        for item in pc.value_counts(values).to_pylist():
            if item["values"] is not None:
                counts[str(item["values"])] += int(item["counts"])
