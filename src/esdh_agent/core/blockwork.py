"""The unit of work: generate, validate and encode one block (runs in a worker).

Also the way back: ``decode_csv`` and ``CsvRows`` read the canonical CSV (a whole file, a
part, or a single file block by block) into contract-typed tables for validation.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from esdh_agent import __version__
from esdh_agent.core.contract import arrow_schema
from esdh_agent.core.generator import GENERATOR_VERSION, generate_block
from esdh_agent.core.jsonrows import encode_json_rows
from esdh_agent.core.layout import Layout
from esdh_agent.core.report import Finding
from esdh_agent.core.validate import BlockCheck, ValidationContext, check_block
from esdh_agent.errors import InputError

__all__ = [
    "VALUE_LIBRARIES",
    "BlockOutput",
    "BlockTask",
    "Checked",
    "CsvRows",
    "Encoded",
    "Sink",
    "Written",
    "check_generated",
    "decode_csv",
    "encode_checked",
    "encode_csv",
    "encode_parquet",
    "run_block",
    "worker_fingerprint",
]

VALUE_LIBRARIES = ("numpy", "pyarrow", "Faker", "zipcodes")
"""Libraries whose exact versions shape generated values (pinned; recorded in manifests)."""

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed", eol="\n")


def encode_csv(table: pa.Table, header: bool = False) -> pa.Buffer:
    """The canonical CSV encoding (see manifest.CSV_DIALECT)."""
    sink = pa.BufferOutputStream()
    options = _CSV_OPTIONS
    if header:
        options = pacsv.WriteOptions(include_header=True, quoting_style="needed", eol="\n")
    pacsv.write_csv(table, sink, options)
    return sink.getvalue()


def encode_parquet(table: pa.Table) -> pa.Buffer:
    """One complete Parquet file (zstd, one row group) of a block: a part of the parts layout."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=max(1, table.num_rows))
    return sink.getvalue()


@dataclass(frozen=True)
class BlockTask:
    """Everything a worker needs, shipped once per worker.

    ``parts``: the snapshot is written one file per block, so Parquet is encoded here, in
    the worker, and only the compressed file travels back; a single Parquet file needs the
    Arrow tables in the writer instead.
    """

    layout: Layout
    ctx: ValidationContext
    formats: tuple[str, ...]
    parts: bool = False


@dataclass(frozen=True)
class Written:
    """A file a worker wrote itself: a complete part (with its SHA-256) or a chunk of a
    single-layout file (hashed by the parent as it joins the chunks, so ``sha256`` is empty)."""

    path: str
    entity: str
    format: str
    bytes: int
    sha256: str = ""


@dataclass
class BlockOutput:
    """One block's results. ``csv``/``json``/``tables``/``parquet`` hold its encoded data
    unless a sink took it (``written`` then lists the files); ``sizes`` are the CSV bytes.
    ``seconds`` are CPU seconds of the thread that ran each phase (generate, validate,
    encode): phases of an in-process build overlap on two threads, so wall time would count
    each one's wait for the other."""

    index: int
    csv: dict[str, pa.Buffer]
    digests: dict[str, str]
    rows: dict[str, int]
    check: BlockCheck
    sizes: dict[str, int] = field(default_factory=dict)
    json: dict[str, pa.Buffer] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    parquet: dict[str, pa.Buffer] = field(default_factory=dict)
    written: list[Written] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


Encoded: TypeAlias = "pa.Buffer | bytes | pa.Table"
Sink: TypeAlias = Callable[[str, str, Encoded], None]
"""``sink(entity, format, data)`` takes an encoded block (format ``table``: the Arrow table
for a single Parquet file) so it can be written and dropped at once."""


@dataclass
class Checked:
    """A block generated and validated but not yet encoded (``check_generated``)."""

    index: int
    tables: dict[str, pa.Table]
    check: BlockCheck
    seconds: dict[str, float]


def _check(task: BlockTask, index: int, tables: dict[str, pa.Table]) -> BlockCheck:
    spec = task.layout.blocks[index]
    offsets = {
        "persons": spec.person_start,
        "vehicles": spec.vehicle_start,
        "profiles": spec.person_start,
    }
    return check_block(task.ctx, tables, offsets)


def check_generated(task: BlockTask, index: int) -> Checked:
    """The first half of ``run_block``: generate block ``index`` and validate its rows."""
    t0 = time.thread_time()
    tables = generate_block(task.layout, task.layout.blocks[index])
    t1 = time.thread_time()
    check = _check(task, index, tables)
    seconds = {"generate": t1 - t0, "validate": time.thread_time() - t1}
    return Checked(index=index, tables=tables, check=check, seconds=seconds)


def encode_checked(task: BlockTask, checked: Checked, sink: Sink | None = None) -> BlockOutput:
    """The second half of ``run_block``: encode a checked block in every format asked for.

    Encoding (Arrow's CSV and Parquet writers, the JSON kernels, SHA-256) runs mostly without
    the GIL, so a thread can encode one block while the next is generated. The block's tables
    are dropped from ``checked`` as they are encoded.
    """
    t2 = time.thread_time()
    block = checked.tables
    out = BlockOutput(
        index=checked.index,
        csv={},
        digests={},
        rows={name: table.num_rows for name, table in block.items()},
        check=checked.check,
    )
    for name in list(block):
        table = block.pop(name)  # each table is freed once encoded (unless kept for Parquet)
        data = encode_csv(table)
        out.digests[name] = hashlib.sha256(data).hexdigest()
        out.sizes[name] = data.size
        _keep(sink, out.csv, name, "csv", data)
        if "json" in task.formats:
            _keep(sink, out.json, name, "json", encode_json_rows(table))
        if "parquet" in task.formats and task.parts:
            _keep(sink, out.parquet, name, "parquet", encode_parquet(table))
        elif "parquet" in task.formats:
            _keep(sink, out.tables, name, "table", table)
        del data, table
    out.seconds = {**checked.seconds, "encode": time.thread_time() - t2}
    return out


def run_block(task: BlockTask, index: int, sink: Sink | None = None) -> BlockOutput:
    """Generate block ``index``, validate its rows and encode it.

    Without ``sink`` the encoded data is returned in the output; with one, each encoding is
    handed to it as soon as it is made and not kept, so a worker holds one at a time.
    """
    return encode_checked(task, check_generated(task, index), sink)


def _keep(sink: Sink | None, into: dict[str, Any], entity: str, fmt: str, data: Any) -> None:
    if sink is None:
        into[entity] = data
    else:
        sink(entity, fmt, data)


def worker_fingerprint() -> dict[str, str]:
    """What a process must share with the driver for its blocks to be byte-identical.

    Remote workers (a Dask cluster) are compared against the driver before any block runs:
    the same esdh-agent and generator version and the same value-shaping library versions.
    """
    return {
        "esdh-agent": __version__,
        "generator_version": str(GENERATOR_VERSION),
        **{name: version(name) for name in VALUE_LIBRARIES},
    }


# --- reading the canonical CSV back --------------------------------------------------------


def _csv_options(entity: str) -> dict[str, Any]:
    """Every column read as a string (nulls: empty unquoted fields), values may hold newlines."""
    schema = arrow_schema(entity)
    return {
        "read_options": pacsv.ReadOptions(autogenerate_column_names=False),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types={f.name: pa.string() for f in schema},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    }


def _check_columns(names: list[str], entity: str, where: str) -> None:
    expected = arrow_schema(entity).names
    if names == expected:
        return
    missing = [c for c in expected if c not in names]
    extra = [c for c in names if c not in expected]
    detail = (
        f"missing {', '.join(missing)}"
        if missing
        else f"unexpected {', '.join(extra)}"
        if extra
        else "columns out of contract order"
    )
    raise InputError(
        f"{Path(where).name} does not have the contract's columns: {detail}",
        location=where,
        hint=f"expected, in order: {', '.join(expected)}",
    )


def _unreadable(exc: pa.ArrowInvalid, where: str) -> InputError:
    return InputError(f"unreadable CSV: {str(exc).splitlines()[0]}", location=where)


def typed(raw: pa.Table, entity: str) -> tuple[pa.Table, list[Finding]]:
    """Coerce a table of strings to the contract types; unparsable values become nulls
    and one ``contract.type`` finding per column (counts add up across blocks)."""
    schema = arrow_schema(entity)
    findings: list[Finding] = []
    columns = []
    for f in schema:
        values = raw.column(f.name)
        if f.type == pa.string():
            columns.append(values)
            continue
        if f.type == pa.date32():
            parsed = pc.cast(
                pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
            )
        else:
            ok = pc.match_substring_regex(values, r"^-?[0-9]{1,9}$")
            parsed = pc.cast(pc.if_else(ok, values, None), f.type)
        count = pc.sum(pc.and_(values.is_valid(), parsed.is_null())).as_py() or 0
        if count:
            findings.append(
                Finding(
                    rule="contract.type",
                    entity=entity,
                    field=f.name,
                    severity="error",
                    count=count,
                    message=f"{f.name} is not a valid {f.type}",
                )
            )
        columns.append(parsed)
    return pa.Table.from_arrays(columns, schema=schema), findings


def decode_csv(path: Path, entity: str) -> tuple[pa.Table, list[Finding]]:
    """One whole CSV file (with its header) as a contract-typed table, plus type findings."""
    try:
        raw = pacsv.read_csv(path, **_csv_options(entity))
    except FileNotFoundError:
        raise InputError(f"missing {path.name}", location=str(path.parent)) from None
    except pa.ArrowInvalid as exc:
        raise _unreadable(exc, str(path)) from None
    _check_columns(raw.column_names, entity, str(path))
    return typed(raw, entity)


class CsvRows:
    """A single-layout CSV read as a stream: ``take(n)`` gives the next ``n`` rows, typed.

    Validating a snapshot block by block with the manifest's row counts keeps memory at
    about one block whatever the file's size.
    """

    def __init__(self, path: Path, entity: str) -> None:
        self.path, self.entity = path, entity
        try:
            self.reader = pacsv.open_csv(path, **_csv_options(entity))
        except FileNotFoundError:
            raise InputError(f"missing {path.name}", location=str(path.parent)) from None
        except pa.ArrowInvalid as exc:
            raise _unreadable(exc, str(path)) from None
        _check_columns(self.reader.schema.names, entity, str(path))
        self.held: list[pa.RecordBatch] = []
        self.rows = 0

    def take(self, n: int | None) -> tuple[pa.Table, list[Finding]]:
        """The next ``n`` rows (None: every row left)."""
        try:
            while n is None or self.rows < n:
                batch = self.reader.read_next_batch()
                self.held.append(batch)
                self.rows += batch.num_rows
        except StopIteration:
            pass
        except pa.ArrowInvalid as exc:
            raise _unreadable(exc, str(self.path)) from None
        table = pa.Table.from_batches(self.held, schema=self.reader.schema)
        cut = table.num_rows if n is None else min(n, table.num_rows)
        rest = table.slice(cut)
        self.held, self.rows = rest.to_batches(), rest.num_rows
        return typed(table.slice(0, cut).combine_chunks(), self.entity)
