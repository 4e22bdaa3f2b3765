"""Exact byte-level stand-ins for the contract's simple regular expressions, and string lengths.

The contract's patterns (UUIDs, VINs, ZIP codes, state codes, licence numbers) are anchored
runs of ASCII character classes with fixed repeat counts and at most one optional group. A
string matches such a pattern exactly when its byte length is one of the pattern's lengths
and every byte lies in the class of its position: a non-ASCII character is several bytes that
lie in no class, just as RE2 finds no ASCII class matching it. Checking that with numpy over
a column's bytes gives RE2's verdict without RE2's cost per string. ``compile_shape`` returns
None for anything outside this small language, and the caller keeps the regular expression.

``char_lengths`` is ``utf8_length`` without the pass over the characters when a column is
ASCII (then characters are bytes).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Shape",
    "char_lengths",
    "compile_shape",
    "mismatches",
    "string_parts",
    "value_codes",
]

_MAX_ALTERNATIVES = 64
_TOKEN = re.compile(
    r"\[(?P<cls>[^\]\\^]+)\]|(?P<open>\((?:\?:)?)|(?P<close>\)\??)"
    r"|\{(?P<lo>[0-9]+)(?:,(?P<hi>[0-9]+))?\}|(?P<lit>[A-Za-z0-9 :_-])"
)

Ranges = tuple[tuple[int, int], ...]
"""A character class as inclusive byte ranges."""


@dataclass(frozen=True)
class Shape:
    """A pattern as alternatives: per byte length, the class ranges of each position;
    ``repeat`` is the one class of every position when all positions share it."""

    by_length: dict[int, tuple[tuple[Ranges, ...], ...]]
    repeat: Ranges | None = None


def _ranges(body: str) -> Ranges | None:
    out, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = ord(body[i]), ord(body[i + 2])
            i += 3
        else:
            low = high = ord(body[i])
            i += 1
        if high < low or high > 127:
            return None
        out.append((low, high))
    return tuple(out)


def _pieces(pattern: str) -> list[list[list[Ranges]]] | None:
    """The pattern as a list of pieces, each a list of alternative position sequences."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    body, pos = pattern[1:-1], 0
    pieces: list[list[list[Ranges]]] = []
    group: list[list[list[Ranges]]] | None = None
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            return None
        pos = m.end()
        target = group if group is not None else pieces
        if m["cls"] is not None or m["lit"] is not None:
            ranges = _ranges(m["cls"]) if m["cls"] is not None else _ranges(m["lit"])
            if ranges is None:
                return None
            target.append([[ranges]])
        elif m["lo"] is not None:
            if not target or len(target[-1]) != 1 or len(target[-1][0]) != 1:
                return None
            lo, hi = int(m["lo"]), int(m["hi"] or m["lo"])
            target[-1] = [target[-1][0] * k for k in range(lo, hi + 1)]
        elif m["open"] is not None and group is None:
            group = []
        elif m["close"] is not None and group is not None:
            inner = [list(itertools.chain.from_iterable(seq)) for seq in itertools.product(*group)]
            pieces.append(inner + ([[]] if m["close"].endswith("?") else []))
            group = None
        else:
            return None
    return pieces if group is None else None


@lru_cache(maxsize=64)
def compile_shape(pattern: str) -> Shape | None:
    """The shape of an anchored pattern of ASCII classes, literals, ``{n}``, ``{n,m}`` and one
    level of (optional) group; None for any other pattern."""
    pieces = _pieces(pattern)
    if pieces is None or any(not alternatives for alternatives in pieces):
        return None
    count = 1
    for alternatives in pieces:
        count *= len(alternatives)
    if count > _MAX_ALTERNATIVES:
        return None
    by_length: dict[int, list[tuple[Ranges, ...]]] = {}
    for combo in itertools.product(*pieces):
        sequence = tuple(itertools.chain.from_iterable(combo))
        if sequence not in by_length.setdefault(len(sequence), []):
            by_length[len(sequence)].append(sequence)
    classes = {ranges for alts in by_length.values() for seq in alts for ranges in seq}
    return Shape(
        {length: tuple(alts) for length, alts in sorted(by_length.items())},
        next(iter(classes)) if len(classes) == 1 else None,
    )


def string_parts(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets as int64, data bytes, valid mask) of a string array (not chunked)."""
    if values.type != pa.string():
        values = values.cast(pa.string())
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :][: n + 1]
    data = values.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    valid = (
        np.ones(n, dtype=bool)
        if not values.null_count
        else np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    return offsets.astype(np.int64), raw, valid


def _in_class(chars: np.ndarray, ranges: Ranges) -> np.ndarray:
    """Which bytes lie in the class (uint8 wrap-around makes each range one comparison)."""
    out: np.ndarray | None = None
    for low, high in ranges:
        hit = chars == low if low == high else np.subtract(chars, low, dtype=np.uint8) <= high - low
        out = hit if out is None else out | hit
    assert out is not None
    return out


def _matrix(raw: np.ndarray, offsets: np.ndarray, rows: np.ndarray, length: int) -> np.ndarray:
    """The (len(rows), length) bytes of ``rows``, all ``length`` bytes long."""
    start = int(offsets[0])
    if len(rows) == len(offsets) - 1 and offsets[-1] - start == len(rows) * length:
        chars: np.ndarray = raw[start : start + len(rows) * length].reshape(len(rows), length)
    else:
        chars = raw[offsets[rows][:, None] + np.arange(length)]
    return chars


def _fits(chars: np.ndarray, sequence: tuple[Ranges, ...]) -> np.ndarray:
    """Rows of a byte matrix whose every position lies in its class."""
    if not sequence:
        return np.ones(len(chars), dtype=bool)
    common = max(set(sequence), key=sequence.count)
    bad = ~_in_class(chars, common)
    for position, ranges in enumerate(sequence):
        if ranges != common:
            bad[:, position] = ~_in_class(chars[:, position], ranges)
    fits = np.ones(len(chars), dtype=bool)
    fits[np.flatnonzero(bad) // len(sequence)] = False
    return fits


def mismatches(values: pa.Array, shape: Shape) -> np.ndarray:
    """Rows whose value does not match ``shape`` (null rows never do: not checked here)."""
    offsets, raw, valid = string_parts(values)
    lengths = np.diff(offsets)
    if shape.repeat is not None:  # one class: look at every byte at once
        base, end = int(offsets[0]), int(offsets[-1])
        stray = np.flatnonzero(~_in_class(raw[base:end], shape.repeat))
        wrong: np.ndarray = ~np.isin(lengths, list(shape.by_length))
        wrong[np.searchsorted(offsets, stray + base, side="right") - 1] = True
        found: np.ndarray = valid & wrong
        return found
    matched = np.zeros(len(values), dtype=bool)
    for length, sequences in shape.by_length.items():
        rows = np.flatnonzero(valid & (lengths == length))
        if not len(rows):
            continue
        chars = _matrix(raw, offsets, rows, length)
        hit = _fits(chars, sequences[0])
        for sequence in sequences[1:]:
            hit |= _fits(chars, sequence)
        matched[rows] = hit
    bad: np.ndarray = valid & ~matched
    return bad


def char_lengths(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(length in characters, valid mask) of each string; byte lengths when all is ASCII."""
    offsets, raw, valid = string_parts(values)
    used = raw[offsets[0] : offsets[-1]] if len(offsets) else raw[:0]
    if not len(used) or int(used.max()) < 0x80:
        return np.diff(offsets), valid
    counted = pc.fill_null(pc.utf8_length(values), 0)
    return np.asarray(counted.to_numpy(zero_copy_only=False), dtype=np.int64), valid


def _packed(raw: np.ndarray, start: int, n: int, width: int) -> np.ndarray:
    """Each of ``n`` contiguous ``width``-byte values (width at most 8) as one integer."""
    out = np.zeros(n, dtype=np.uint64)
    chars = raw[start : start + n * width].reshape(n, width)
    for position in range(width):
        out |= chars[:, position].astype(np.uint64) << np.uint64(8 * position)
    return out


def value_codes(values: pa.Array, allowed: tuple[str, ...]) -> np.ndarray:
    """Each value's position in ``allowed`` (the first, if listed twice; -1 when absent or
    null), as ``index_in`` gives it. Values all of one short width (state codes) are
    compared as integers; anything else goes to ``index_in``."""
    encoded = [value.encode() for value in allowed]
    width = len(encoded[0]) if encoded else 0
    offsets, raw, valid = string_parts(values)
    n = len(values)
    if (
        0 < width <= 8
        and all(len(value) == width for value in encoded)
        and valid.all()
        and bool(np.all(np.diff(offsets) == width))
    ):
        mine = _packed(raw, int(offsets[0]), n, width)
        codes = np.full(n, -1, dtype=np.int64)
        for position in range(len(encoded) - 1, -1, -1):  # the first listed wins
            theirs = _packed(np.frombuffer(encoded[position], np.uint8), 0, 1, width)[0]
            codes[mine == theirs] = position
        return codes
    found = pc.fill_null(pc.index_in(values, value_set=_value_set(allowed)), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


@lru_cache(maxsize=64)
def _value_set(allowed: tuple[str, ...]) -> pa.Array:
    return pa.array(allowed, pa.string())
