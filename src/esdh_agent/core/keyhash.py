"""128-bit keys of strings, for uniqueness across blocks and lookups within a block.

A value's key depends on the value alone, never on the other values hashed with it: the
string's bytes, zero-padded to whole 64-bit words (at least one), go through two 64-bit
chains seeded differently with the byte length. Each word enters a chain through a
multiply-and-fold step that is one-to-one (two values that differ in one word never meet),
and each chain ends in SplitMix64's finalizer. Equal strings always get equal keys, in any
block and any batch; two different strings share a key with probability about 2**-128. A
null hashes like the empty string (callers leave nulls out where that matters).

Fixed-width columns (ids, VINs) are read as 64-bit words in place, without copying; other
columns are padded one byte length at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.shapes import string_parts

__all__ = ["keys128"]

_SEED1, _SEED2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)
_STEP1, _STEP2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S29, _S32 = np.uint64(29), np.uint64(32)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection on 64 bits that spreads every input bit."""
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _chains(lengths: np.ndarray, words: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        size = lengths.astype(np.uint64)
        if len(size) and (size == size[0]).all():  # one length: seed once, then copy
            h1 = np.full(len(size), _mix(size[:1] ^ _SEED1)[0], dtype=np.uint64)
            h2 = np.full(len(size), _mix(size[:1] ^ _SEED2)[0], dtype=np.uint64)
        else:
            h1, h2 = _mix(size ^ _SEED1), _mix(size ^ _SEED2)
        for word in words:  # x -> x * odd and x -> x ^ (x >> k) are one-to-one
            h1 ^= word
            h1 *= _STEP1
            h1 ^= h1 >> _S32
            h2 += word
            h2 *= _STEP2
            h2 ^= h2 >> _S29
        return _mix(h1), _mix(h2)


def _fixed_words(raw: np.ndarray, start: int, n: int, width: int) -> list[np.ndarray]:
    """The 64-bit words of ``n`` contiguous ``width``-byte values, read in place."""
    base = raw[start : start + n * width]
    full, tail = divmod(width, 8)
    words = [
        np.ndarray((n,), dtype="<u8", buffer=base, offset=8 * j, strides=(width,))
        for j in range(full)
    ]
    if tail or not width:
        last = np.zeros((n, 8), dtype=np.uint8)
        last[:, :tail] = base.reshape(n, width)[:, 8 * full :]
        words.append(last.view("<u8").reshape(n))
    return words


def _padded_words(
    raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray, count: int
) -> list[np.ndarray]:
    """Words of values of any lengths up to ``count`` words, zero-padded."""
    padded = np.zeros((len(starts), 8 * count), dtype=np.uint8)
    for length in np.unique(lengths).tolist():
        if length:
            rows = np.flatnonzero(lengths == length)
            padded[rows, :length] = raw[starts[rows][:, None] + np.arange(length)]
    words = padded.view("<u8")
    return [words[:, j] for j in range(count)]


def keys128(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(h1, h2): each string's 128-bit key (see the module docstring)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    offsets, raw, valid = string_parts(values)
    lengths = np.where(valid, np.diff(offsets), 0)
    if n and valid.all() and (lengths == lengths[0]).all():
        return _chains(lengths, _fixed_words(raw, int(offsets[0]), n, int(lengths[0])))
    count = np.maximum((lengths + 7) // 8, 1)
    counts = np.unique(count).tolist()
    ascii_only = not n or int(raw[offsets[0] : offsets[-1]].max(initial=0)) < 0x80
    h1, h2 = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    for words in counts:
        rows = np.flatnonzero(count == words) if len(counts) > 1 else np.arange(n)
        if ascii_only:  # one character per byte: Arrow pads every value to whole words
            group = values if len(counts) == 1 else values.take(pa.array(rows))
            wide = pc.utf8_rpad(pc.fill_null(group, ""), 8 * words, "\0")
            wide_offsets, wide_raw, _ = string_parts(wide)
            part = _fixed_words(wide_raw, int(wide_offsets[0]), len(rows), 8 * words)
        else:
            part = _padded_words(raw, offsets[rows], lengths[rows], words)
        h1[rows], h2[rows] = _chains(lengths[rows], part)
    return h1, h2
