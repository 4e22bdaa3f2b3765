"""The parts layout: one self-contained file per block, entity and format, listed in the
manifest; verify, read_tables and validate understand both layouts; generate's options."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from esdh_agent.core.blockwork import encode_csv
from esdh_agent.core.contract import ENTITIES, arrow_schema
from esdh_agent.core.manifest import BlockEntry, part_path
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.snapshots.operations import read_tables, validate_path, verify
from esdh_agent.workspace import Workspace, init_workspace

from tests.engines.test_engines import FORMATS, PLAN, build

Cli = Callable[..., object]


def test_parts_are_complete_files_listed_with_rows_bytes_and_sha256(workspace: Workspace) -> None:
    parts = build(workspace, "parts", layout="parts").commit
    single = build(workspace, "parts", data="single").commit  # same name: same ids
    manifest = parts.manifest
    assert manifest.layout == "parts" and single.manifest.layout == "single"
    assert manifest.content_hash == single.manifest.content_hash
    assert sorted(p.name for p in parts.path.iterdir()) == [
        "manifest.json",
        "metadata.json",
        "persons",
        "profiles",
        "vehicles",
    ]
    for entity in ENTITIES:
        header = encode_csv(arrow_schema(entity).empty_table(), True).to_pybytes()
        for index, block in enumerate(manifest.entities[entity].blocks):
            for fmt in FORMATS:
                entry = manifest.file(part_path(entity, index, fmt))
                assert entry is not None and entry.rows == block.rows, (entity, index, fmt)
                assert (parts.path / entry.path).stat().st_size == entry.bytes
            csv = (parts.path / part_path(entity, index, "csv")).read_bytes()
            assert csv.startswith(header) and len(csv) == len(header) + block.bytes
            rows = json.loads((parts.path / part_path(entity, index, "json")).read_bytes())
            assert len(rows) == block.rows
            table = pq.read_table(parts.path / part_path(entity, index, "parquet"))
            assert table.num_rows == block.rows and table.schema.names == arrow_schema(entity).names
    tables_parts, _ = read_tables(parts.path)
    tables_single, _ = read_tables(single.path)
    assert all(tables_parts[e].equals(tables_single[e]) for e in ENTITIES)
    assert validate_path(workspace, parts.path) == validate_path(workspace, single.path)
    assert validate_path(workspace, parts.path).ok


def test_verify_names_a_changed_part_a_missing_one_and_strays(workspace: Workspace) -> None:
    commit = build(workspace, "parts", layout="parts").commit
    assert verify(workspace.store(), "parts").ok
    part = commit.path / "vehicles/part-00003.csv"
    data = bytearray(part.read_bytes())
    data[-5] = ord("0") if data[-5] != ord("0") else ord("1")
    part.write_bytes(bytes(data))
    (commit.path / "persons" / "stray.csv").write_text("x")
    (commit.path / "extra").mkdir()
    problems = verify(workspace.store(), "parts").problems
    assert problems == [
        "extra: not listed in the manifest",
        "persons/stray.csv: not listed in the manifest",
        "vehicles/part-00003.csv: SHA-256 differs from the manifest",
    ]
    (commit.path / "persons/part-00001.parquet").unlink()
    assert "persons/part-00001.parquet: missing" in verify(workspace.store(), "parts").problems


@pytest.mark.parametrize("layout", ["single", "parts"])
def test_streamed_validation_reports_what_whole_tables_do(
    workspace: Workspace, layout: str
) -> None:
    commit = build(workspace, layout, layout=layout).commit
    # Break rows in several blocks: an enum, a date, and a licence number repeated across blocks.
    for path in [commit.path / "persons.csv", *(commit.path / "persons").glob("*.csv")]:
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        lines[5] = lines[5].replace('"Personal"', '"Persnal"').replace('"Commercial"', '"Comm"')
        lines[9] = lines[9].replace("-0", "-x", 1)
        path.write_text("\n".join(lines), encoding="utf-8")
    _repeat_vin(commit.path, commit.manifest.entities["vehicles"].blocks, layout)
    streamed = validate_path(workspace, commit.path)
    tables, type_findings = read_tables(commit.path)
    vocab, marker = workspace.vocabulary(), commit.manifest.marker
    ctx = ValidationContext(vocab=vocab, as_of=PLAN.as_of_date, marker=marker, plan=PLAN)
    whole = validate_tables(ctx, tables)
    assert not streamed.ok
    assert {f.rule for f in streamed.findings} >= {"contract.enum", "contract.type", "unique.vin"}
    assert [f for f in streamed.findings if f.rule != "contract.type"] == whole.findings
    assert [f for f in streamed.findings if f.rule == "contract.type"] == type_findings


def _repeat_vin(root: Path, blocks: list[BlockEntry], layout: str) -> None:
    """Copy the VIN of block 0's first vehicle into blocks 4 and 7."""

    def lines_of(index: int) -> tuple[Path, list[str], int]:
        if layout == "parts":
            path = root / part_path("vehicles", index, "csv")
            return path, path.read_text(encoding="utf-8").split("\n"), 1
        path = root / "vehicles.csv"
        start = 1 + sum(b.rows for b in blocks[:index])
        return path, path.read_text(encoding="utf-8").split("\n"), start

    path, lines, start = lines_of(0)
    vin = next(csv.reader([lines[start]]))[2]
    for index in (4, 7):
        path, lines, start = lines_of(index)
        old = next(csv.reader([lines[start + 1]]))[2]
        lines[start + 1] = lines[start + 1].replace(old, vin)
        path.write_text("\n".join(lines), encoding="utf-8")


def test_generate_with_dask_and_parts_from_the_command_line(
    cli: Cli, workspace: Workspace, dask_scheduler: str, tmp_path: Path
) -> None:
    base = ("generate", "--persons", "300", "--json", "--name", "snap")
    other = init_workspace(tmp_path / "other")  # the same name in another workspace
    local = cli(*base, "--workspace", str(other))
    dask = cli(*base, "--engine", "dask", "--scheduler", dask_scheduler,
               "--layout", "parts", "--format", "csv,parquet")  # fmt: skip
    assert local.code == 0 and dask.code == 0, dask.err  # type: ignore[attr-defined]
    a, b = json.loads(local.out), json.loads(dask.out)  # type: ignore[attr-defined]
    assert a["content_hash"] == b["content_hash"]
    assert "persons/part-00000.parquet" in b["files"]
    assert cli("snapshots", "verify", "snap").code == 0  # type: ignore[attr-defined]
    assert cli("validate", "snap").code == 0  # type: ignore[attr-defined]
    (workspace.root / "esdh-workspace.yaml").write_text(
        f"engine: dask\nscheduler: {dask_scheduler}\nlayout: parts\n", encoding="utf-8"
    )
    human = cli("generate", "--persons", "300", "--name", "from-settings")
    assert human.code == 0, human.err  # type: ignore[attr-defined]
    assert "3 parts in persons/, vehicles/, profiles/" in human.out  # type: ignore[attr-defined]
    assert (workspace.data / "snapshots/from-settings/persons/part-00000.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scheduler", "tcp://127.0.0.1:8786"), "--scheduler needs --engine dask"),
        (("--engine", "spark"), "unknown engine 'spark'"),
        (("--layout", "folders"), "unknown layout 'folders'"),
    ],
)
def test_bad_engine_options_are_usage_errors(
    cli: Cli, workspace: Workspace, args: tuple[str, ...], message: str
) -> None:
    result = cli("generate", "--persons", "10", *args)
    assert result.code == 2 and message in result.err  # type: ignore[attr-defined]
    assert workspace.store().names() == []


def test_part_paths_sort_in_block_order() -> None:
    paths = [part_path("persons", i, "csv") for i in (0, 9, 10, 99_999)]
    assert paths == sorted(paths) and Path(paths[1]).name == "part-00009.csv"
