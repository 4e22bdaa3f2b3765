"""JSON rows of a block, built column by column with Arrow compute.

The JSON format must stay byte-identical to what ``json.dumps(row, ensure_ascii=False,
default=str)`` per row gave (snapshots are compared by content hash), but that per-row Python
made ``--format csv,json`` 2.6x slower than CSV alone. Here every column becomes one array of
JSON value texts, and one ``binary_join_element_wise`` interleaves them with the constant
literals (``{"key": "``, ``", "key": "``, ...) in C++, straight into the buffer that is returned.

Why it matches ``json.dumps``: integers and dates cast to text are exactly ``str()`` of the
Python value (dates are ISO ``YYYY-MM-DD``, which is what ``default=str`` gave); strings only
need ``\\`` and ``"`` escaped (two vectorized replaces) unless they hold a control character,
which generated data never does, so those rare values are escaped by ``json.dumps`` itself.
Which of these is needed is decided by a scan of the column's raw UTF-8 bytes: in UTF-8 no
byte of a multi-byte character is below 0x80, so a byte scan cannot misfire.

Why it is still about 2x the CSV writer: the join costs about what that writer costs per
value, and a row has a literal between every two values, so it joins twice as many. Columns
that hold one value in every row (the generator's marker, the country) join the literals
instead. Merging literals into fixed-width columns first (a numpy byte matrix) was measured
too, and cost more than it saved.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["encode_json_rows"]

_TEXT = pa.large_string()
"""64-bit offsets: a whole table's JSON may exceed the 2 GiB a ``string`` array can hold."""

_SEPARATOR = ",\n"
"""Between rows. Every row, the last included, is joined with one; the last is cut off."""

_AT_END = 2**62
"""A slice start past any value's end: ``binary_replace_slice`` clamps it, so it appends."""


def encode_json_rows(table: pa.Table) -> pa.Buffer:
    """Rows as JSON objects separated by ',\\n' (the body of a JSON array).

    Columns may be string, large_string, any integer type or date32, chunked or sliced.
    """
    names = table.column_names
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names: {names}")
    if table.num_rows == 0:
        return pa.py_buffer(b"")
    pieces: list[pa.Scalar | pa.Array] = []
    literal = "{"
    for name, column in zip(names, table.columns, strict=True):
        literal += f"{json.dumps(name, ensure_ascii=False)}: "
        constant = _constant(column)
        if constant is not None:
            literal += f"{json.dumps(constant, ensure_ascii=False)}, "
            continue
        text, quote = _value_texts(column)
        pieces += [_lit(literal + quote), text]
        literal = f"{quote}, "
    row_end = f"{literal.removesuffix(', ')}}}{_SEPARATOR}"
    if not pieces:  # every row is the same
        return pa.py_buffer((row_end.encode() * table.num_rows)[: -len(_SEPARATOR)])
    rows = pc.binary_join_element_wise(*pieces, _lit(row_end), _lit(""))
    start, end = _bounds(rows)
    return rows.buffers()[2].slice(start, end - start - len(_SEPARATOR))


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _constant(column: pa.ChunkedArray) -> str | None:
    """The string every row of the column holds, if it is one (the generator's marker, a
    country): it then costs nothing per row, as part of the literals."""
    kind = column.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if not text or column.null_count or column.num_chunks != 1:
        return None
    values = column.chunk(0).cast(_TEXT)
    first: str = values[0].as_py()
    if values[-1].as_py() != first:  # cheap, and settles most columns
        return None
    start, end = _bounds(values)
    width = len(first.encode())
    if not np.array_equal(_offsets(values), start + width * np.arange(len(values) + 1)):
        return None
    data = np.frombuffer(values.buffers()[2], np.uint8)[start:end]
    data = data.reshape(len(values), width)
    return first if (data == data[0]).all() else None


def _value_texts(column: pa.ChunkedArray) -> tuple[pa.Array, str]:
    """The column's JSON values as text, and the quote the literals around them must add.

    A string column without nulls leaves its quotes to the literals (one pass fewer); with
    nulls each value carries its own quotes so that a null can be the bare word ``null``.
    """
    values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    kind = values.type
    if pa.types.is_integer(kind):
        return pc.fill_null(values.cast(_TEXT), _lit("null")), ""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _escaped(values.cast(_TEXT))
    elif pa.types.is_date32(kind):
        text = values.cast(_TEXT)
    else:
        raise TypeError(f"no JSON encoding for column type {kind}")
    if text.null_count == 0:
        return text, '"'
    quoted = pc.binary_replace_slice(text, 0, 0, '"')
    quoted = pc.binary_replace_slice(quoted, _AT_END, _AT_END, '"')
    return pc.fill_null(quoted, _lit("null")), ""


def _escaped(values: pa.Array) -> pa.Array:
    """``json.dumps(value, ensure_ascii=False)`` of every value, without the quotes."""
    start, end = _bounds(values)
    raw = values.buffers()[2].slice(start, end - start).to_pybytes()  # bytes.find is a memchr
    text = values
    if b"\\" in raw:  # first: the backslashes added for quotes must stay single
        text = pc.replace_substring(text, "\\", "\\\\")
    if b'"' in raw:
        text = pc.replace_substring(text, '"', '\\"')
    if raw and np.frombuffer(raw, np.uint8).min() < 0x20:
        rare = pc.fill_null(pc.match_substring_regex(values, r"[\x00-\x1f]"), False)
        fixed = [json.dumps(v, ensure_ascii=False)[1:-1] for v in values.filter(rare).to_pylist()]
        text = pc.replace_with_mask(text, rare, pa.array(fixed, _TEXT))
    return text


def _offsets(values: pa.Array) -> npt.NDArray[np.int64]:
    """A ``large_string`` array's own offsets (it may be a slice of a larger one)."""
    offsets = np.frombuffer(values.buffers()[1], np.int64)
    return offsets[values.offset : values.offset + len(values) + 1]


def _bounds(values: pa.Array) -> tuple[int, int]:
    """Where a ``large_string`` array's values start and end in its data buffer."""
    offsets = _offsets(values)
    return int(offsets[0]), int(offsets[-1])
