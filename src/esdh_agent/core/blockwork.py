"""The unit of work: generate, validate and encode one block (runs in a worker)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import Layout
from esdh_agent.core.validate import BlockCheck, ValidationContext, check_block

__all__ = ["BlockOutput", "BlockTask", "encode_csv", "run_block"]

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed", eol="\n")


def encode_csv(table: pa.Table, header: bool = False) -> pa.Buffer:
    """The canonical CSV encoding (see manifest.CSV_DIALECT)."""
    sink = pa.BufferOutputStream()
    options = _CSV_OPTIONS
    if header:
        options = pacsv.WriteOptions(include_header=True, quoting_style="needed", eol="\n")
    pacsv.write_csv(table, sink, options)
    return sink.getvalue()


def encode_json_rows(table: pa.Table) -> bytes:
    """Rows as JSON objects separated by ',\\n' (the body of a JSON array)."""
    rows = table.to_pylist()
    return ",\n".join(json.dumps(r, ensure_ascii=False, default=str) for r in rows).encode()


@dataclass(frozen=True)
class BlockTask:
    """Everything a worker needs, shipped once per worker."""

    layout: Layout
    ctx: ValidationContext
    formats: tuple[str, ...]


@dataclass
class BlockOutput:
    index: int
    csv: dict[str, pa.Buffer]
    digests: dict[str, str]
    rows: dict[str, int]
    check: BlockCheck
    json: dict[str, bytes] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run_block(task: BlockTask, index: int) -> BlockOutput:
    """Generate block ``index``, validate its rows and encode it."""
    spec = task.layout.blocks[index]
    t0 = time.perf_counter()
    block = generate_block(task.layout, spec)
    t1 = time.perf_counter()
    offsets = {
        "persons": spec.person_start,
        "vehicles": spec.vehicle_start,
        "profiles": spec.person_start,
    }
    check = check_block(task.ctx, block, offsets)
    t2 = time.perf_counter()
    csv = {name: encode_csv(table) for name, table in block.items()}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in csv.items()}
    out = BlockOutput(
        index=index,
        csv=csv,
        digests=digests,
        rows={name: table.num_rows for name, table in block.items()},
        check=check,
    )
    if "json" in task.formats:
        out.json = {name: encode_json_rows(table) for name, table in block.items()}
    if "parquet" in task.formats:
        out.tables = block
    t3 = time.perf_counter()
    out.seconds = {"generate": t1 - t0, "validate": t2 - t1, "encode": t3 - t2}
    return out
