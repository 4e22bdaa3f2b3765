"""The vectorized JSON rows encoder gives exactly the bytes the per-row json.dumps gave.

``reference`` is the encoder it replaces, kept here as the oracle: the JSON files of a
snapshot are hashed, so "equivalent JSON" is not enough, every byte must match.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from esdh_agent.core.contract import ENTITIES, arrow_schema
from esdh_agent.core.generator import generate_block
from esdh_agent.core.jsonrows import encode_json_rows
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import EdgeCases, GenerationPlan
from esdh_agent.core.vocab import Vocabulary

from tests.conftest import MARKER

CONTROL = "".join(chr(c) for c in range(0x20))
HOSTILE = CONTROL + "\"\\\x7f\u2028\u2029/'é漢😀\ufeff"
TYPES = {
    "string": pa.string(),
    "large_string": pa.large_string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "date32": pa.date32(),
}


def reference(table: pa.Table) -> bytes:
    """The encoder as it was (blockwork.encode_json_rows before it was vectorized)."""
    rows = table.to_pylist()
    return ",\n".join(json.dumps(r, ensure_ascii=False, default=str) for r in rows).encode()


def encoded(table: pa.Table) -> bytes:
    return bytes(encode_json_rows(table))


def plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows as JSON gives them back: dates as ISO strings."""
    return [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
        for row in table.to_pylist()
    ]


def assert_encodes(table: pa.Table) -> None:
    body = encoded(table)
    assert body == reference(table)
    assert json.loads(b"[" + body + b"]") == plain_rows(table)


texts = st.text(st.one_of(st.sampled_from(HOSTILE), st.characters(codec="utf-8")), max_size=12)


def values(kind: pa.DataType, nullable: bool) -> st.SearchStrategy[Any]:
    if pa.types.is_date32(kind):
        value: st.SearchStrategy[Any] = st.dates()
    elif pa.types.is_integer(kind):
        bits = kind.bit_width - 1
        value = st.integers(-(2**bits), 2**bits - 1)
    else:
        value = texts
    return st.one_of(st.none(), value) if nullable else value


@st.composite
def tables(draw: st.DrawFn, schema: pa.Schema | None = None) -> pa.Table:
    """Hostile tables of the supported column types, or of a given schema."""
    if schema is None:
        names = draw(st.lists(texts, min_size=1, max_size=5, unique=True))
        fields = [
            pa.field(n, TYPES[draw(st.sampled_from(sorted(TYPES)))], nullable=draw(st.booleans()))
            for n in names
        ]
        schema = pa.schema(fields)
    rows = draw(st.integers(0, 12))
    columns = [
        draw(st.lists(values(f.type, f.nullable), min_size=rows, max_size=rows)) for f in schema
    ]
    return pa.table(columns, schema=schema)


@st.composite
def rechunked(draw: st.DrawFn, table: pa.Table) -> pa.Table:
    """The same rows, every column cut into its own chunks, and possibly sliced."""
    columns = []
    for column in table.columns:
        cuts = sorted(draw(st.lists(st.integers(0, table.num_rows), max_size=3)))
        bounds = [0, *cuts, table.num_rows]
        chunks = [column.slice(a, b - a).combine_chunks() for a, b in itertools.pairwise(bounds)]
        columns.append(pa.chunked_array(chunks, type=column.type))
    out = pa.Table.from_arrays(columns, schema=table.schema)
    start = draw(st.integers(0, table.num_rows))
    return out.slice(start, draw(st.integers(0, table.num_rows - start)))


@settings(max_examples=300, deadline=None)
@given(tables())
@example(pa.table({"s": ['"\\\n"', None, CONTROL, "\\u0000", ""]}))
@example(pa.table({"s": [HOSTILE] * 3, "n": pa.array([None, 1, -7], pa.int32())}))
def test_hostile_tables_encode_like_json_dumps(table: pa.Table) -> None:
    assert_encodes(table)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_chunked_and_sliced_tables_encode_like_json_dumps(data: st.DataObject) -> None:
    table = data.draw(tables())
    assert_encodes(data.draw(rechunked(table)))
    assert_encodes(table.slice(1))


@pytest.mark.parametrize("entity", ENTITIES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_contract_schemas_with_hostile_values(entity: str, data: st.DataObject) -> None:
    assert_encodes(data.draw(tables(arrow_schema(entity))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ab", "cd", "é", '"\n', ""]), min_size=1, max_size=8))
@example(["ab", "cd", "ab"])
@example(["ab", "", "ab"])
def test_columns_of_few_values_some_the_same_in_every_row(strings: list[str]) -> None:
    """A column holding one value in every row is folded into the literals."""
    numbers = pa.array(range(len(strings)), pa.int32())
    assert_encodes(pa.table({"s": strings, "n": numbers, "t": strings[::-1]}))
    assert_encodes(pa.table({"s": strings, "t": strings[::-1]}))


@pytest.mark.parametrize("entity", ENTITIES)
def test_an_empty_table_is_an_empty_body(entity: str) -> None:
    table = arrow_schema(entity).empty_table()
    assert encoded(table) == reference(table) == b""


def test_rows_without_columns_are_empty_objects() -> None:
    table = pa.table({"a": [1, 2]}).drop_columns(["a"])
    assert encoded(table) == reference(table) == b"{},\n{}"


def test_every_control_character_and_its_neighbours() -> None:
    strings = [*CONTROL, *(f'a"{c}\\b' for c in CONTROL), "\x7f\u2028\u2029", None, "plain"]
    assert_encodes(pa.table({"s": strings, "t": pa.array(strings, pa.large_string())}))


def test_column_types_without_an_exact_encoding_are_refused() -> None:
    with pytest.raises(TypeError, match="double"):
        encode_json_rows(pa.table({"x": [1.5]}))
    with pytest.raises(ValueError, match="duplicate"):
        encode_json_rows(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]))


def test_real_blocks_encode_like_json_dumps(vocab: Vocabulary) -> None:
    plan = GenerationPlan(
        person_count=3000,
        vehicles_per_person={1: 0.6, 2: 0.3, 3: 0.1},
        edge_cases=EdgeCases(
            hyphenated_names=0.1,
            apostrophe_names=0.1,
            long_names=0.1,
            non_ascii_names=0.1,
            max_length_fields=0.1,
            boundary_ages=0.1,
        ),
    )
    layout = compile_layout(plan, vocab, MARKER, block_size=1024)
    for spec in layout.blocks:
        block = generate_block(layout, spec)
        for entity in ENTITIES:
            table = block[entity]
            assert table.schema == arrow_schema(entity)
            assert encoded(table) == reference(table), (spec, entity)
    assert any(not v.isascii() for v in block["persons"].column("last_name").to_pylist())
