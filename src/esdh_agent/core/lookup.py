"""Foreign-key lookups within a block: for each value, the first row of another column with
that value, exactly, and cheaply when the data is laid out the way it references itself.

The general way is a search over the other column's sorted 128-bit keys (``HayIndex``),
stable where keys repeat, so the row found is the first in row order. Most data needs
less: a vehicle's owner is usually the person whose turn it is (runs of equal person ids
follow the persons in order), and a profile sits on its person's row. ``confirm`` checks
such a guess by comparing the strings themselves; a guess that holds is the answer when
the other column's values are all distinct (there is then no earlier row with the value),
and every row a guess misses goes the general way. The answer never depends on the guess.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HayIndex", "confirm", "find_first", "gathered", "is_identity", "run_ids"]


class HayIndex:
    """A column's keys sorted by h1 (``order``: row of each sorted key, equal keys in row
    order), and whether every key is distinct; the order is only made when searched."""

    def __init__(self, keys: tuple[np.ndarray, np.ndarray]) -> None:
        self.h1, self.h2 = keys
        ordered = np.sort(self.h1)
        self.distinct = not bool(np.any(ordered[1:] == ordered[:-1]))
        self._order: np.ndarray | None = None
        self._sorted: np.ndarray | None = None

    @property
    def order(self) -> np.ndarray:
        if self._order is None:  # equal h1: the first row of each value must come first
            self._order = np.argsort(self.h1, kind="quicksort" if self.distinct else "stable")
        return self._order

    @property
    def sorted_h1(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = self.h1[self.order]
        return self._sorted


def find_first(needles: tuple[np.ndarray, np.ndarray], hay: HayIndex) -> np.ndarray:
    """For each needle key, the first hay row with that key, or -1."""
    h1, h2 = needles
    if not len(hay.h1):
        return np.full(len(h1), -1, dtype=np.int64)
    sorted_h1 = hay.sorted_h1
    ordered = np.argsort(h1)  # search in sorted order: cache-friendly
    pos = np.empty(len(h1), dtype=np.int64)
    pos[ordered] = np.searchsorted(sorted_h1, h1[ordered])
    np.minimum(pos, len(sorted_h1) - 1, out=pos)
    candidate = hay.order[pos]
    found = (sorted_h1[pos] == h1) & (hay.h2[candidate] == h2)
    return np.where(found, candidate, -1).astype(np.int64)


def is_identity(index: np.ndarray, size: int) -> bool:
    """Whether ``index`` is 0, 1, 2, ... (so taking it from ``size`` rows changes nothing)."""
    return len(index) <= size and bool(np.array_equal(index, np.arange(len(index))))


def gathered(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values.take(index)``, without copying when the index takes the rows in order."""
    if is_identity(index, len(values)):
        return values.slice(0, len(index))
    return values.take(pa.array(index))


def confirm(needles: pa.Array, hay: pa.Array, guess: np.ndarray) -> np.ndarray:
    """Rows where ``guess`` names a hay row holding exactly the needle's (non-null) value."""
    ok = (guess >= 0) & (guess < len(hay))
    if not ok.any():
        return ok
    rows = np.flatnonzero(ok) if not ok.all() else None
    mine = needles if rows is None else needles.take(pa.array(rows))
    picked = gathered(hay, guess if rows is None else guess[rows])
    same = pc.fill_null(pc.equal(mine, picked), False).to_numpy(zero_copy_only=False)
    if rows is None:
        return np.asarray(same, dtype=bool)
    ok[rows] = same
    return ok


def run_ids(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(run id of each row, first row of each run): runs of equal consecutive values."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = pc.fill_null(pc.not_equal(values.slice(1), values.slice(0, n - 1)), True)
    starts = np.concatenate(([True], np.asarray(change.to_numpy(zero_copy_only=False), bool)))
    return np.cumsum(starts, dtype=np.int64) - 1, np.flatnonzero(starts)
