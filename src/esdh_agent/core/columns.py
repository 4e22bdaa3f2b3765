"""Vectorized builders of string columns: fixed-width codes, UUIDs, formatted numbers."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "char_matrix",
    "fixed_width",
    "fixed_width_bytes",
    "join",
    "mixed_radix",
    "uuid4_column",
    "uuid5_pairs",
    "uuid_column",
]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)
"""Byte value → its two lowercase hex characters, as one uint16 (memory order kept)."""


def fixed_width(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII bytes, without a Python loop."""
    n, width = chars.shape
    data = np.ascontiguousarray(chars, dtype=np.uint8).reshape(-1)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def char_matrix(alphabet: bytes, indices: np.ndarray) -> np.ndarray:
    """Map an integer matrix of alphabet indices to its ASCII bytes."""
    table: np.ndarray = np.frombuffer(alphabet, dtype=np.uint8)
    out: np.ndarray = table[indices]
    return out


def mixed_radix(values: np.ndarray, radices: list[int]) -> np.ndarray:
    """Digits of ``values`` in a mixed radix (most significant first), shape (n, len(radices))."""
    out = np.empty((len(values), len(radices)), dtype=np.int64)
    rest = np.asarray(values, dtype=np.uint64).copy()
    for pos in range(len(radices) - 1, -1, -1):
        radix = np.uint64(radices[pos])
        out[:, pos] = (rest % radix).astype(np.int64)
        rest //= radix
    return out


def uuid_column(raw: np.ndarray) -> pa.Array:
    """Canonical lowercase UUID strings from an (n, 16) matrix of UUID bytes."""
    n = len(raw)
    hexed = _HEX_PAIRS[raw].view(np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return fixed_width(out)


def uuid4_column(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` RFC 9562 version-4 UUID strings (lowercase) from a seeded stream."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return uuid_column(raw)


def fixed_width_bytes(values: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray:
    """The (n, width) byte matrix of a string array whose values all have ``width`` bytes."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :][: n + 1]
    if n and (offsets[-1] - offsets[0] != n * width or values.null_count):
        raise ValueError(f"values are not all {width} bytes long")
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if n else np.zeros(0, np.uint8)
    start = int(offsets[0]) if n else 0
    return data[start : start + n * width].reshape(n, width)


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and scalars (nulls propagate)."""
    return pc.binary_join_element_wise(*parts, sep)


def uuid5_pairs(namespace: uuid.UUID, left: pa.Array, right: pa.Array) -> pa.Array:
    """UUIDv5 of 'left:right' for each pair of 36-character ids (as ``uuid.uuid5`` would)."""
    n = len(left)
    names = np.empty((n, 89), dtype=np.uint8)
    names[:, 0:16] = np.frombuffer(namespace.bytes, dtype=np.uint8)
    names[:, 16:52] = fixed_width_bytes(left, 36)
    names[:, 52] = ord(":")
    names[:, 53:89] = fixed_width_bytes(right, 36)
    view = memoryview(names.tobytes())
    sha1 = hashlib.sha1
    raw = b"".join([sha1(view[i : i + 89]).digest() for i in range(0, n * 89, 89)])
    digest = np.frombuffer(raw, dtype=np.uint8).reshape(n, 20)[:, :16].copy()
    digest[:, 6] = (digest[:, 6] & 0x0F) | 0x50
    digest[:, 8] = (digest[:, 8] & 0x3F) | 0x80
    return uuid_column(digest)


def repeated_rows(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Row positions whose (h1, h2) pair occurs more than once."""
    ordered = np.sort(h1)
    candidates = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(candidates):
        return np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(np.isin(h1, candidates))
    pairs = np.stack([h1[rows], h2[rows]], axis=1)
    _, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    return rows[counts[inverse.reshape(-1)] > 1]
