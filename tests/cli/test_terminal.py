"""Terminals and pipes: nothing cut on a narrow terminal, a closed pipe is a quiet exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from rich.console import Console

from esdh_agent.cli.common import print_table
from esdh_agent.graphs.slice_generation.records import write_run
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
LONG_IDS = [
    "20261201T220040Z-hostile-approval-forgery-a1b2c3",
    "20261201T220041Z-careless-contradictions-0f0f0f",
    "20261201T220042Z-baseline-123abc",
]


def add_runs(ws: Workspace) -> None:
    for run_id in LONG_IDS:
        run_dir = ws.paths.run_dir(run_id)
        run_dir.mkdir(parents=True)
        slice_id = run_id.split("-", 1)[1].rsplit("-", 1)[0]
        write_run(
            run_dir,
            {
                "run_id": run_id,
                "slice_id": slice_id,
                "status": "awaiting_approval",
                "started_at": "2026-12-01T22:00:40+00:00",
                "llm_mode": "replay",
            },
        )


def esdh(ws: Workspace, *args: str, columns: int | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ESDH_WORKSPACE": str(ws.root)}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.Popen(
        [sys.executable, "-m", "esdh_agent.cli.app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["graph"],
        ["--help"],
        ["transcripts", "list"],
        ["transcripts", "list", "--json"],
        ["approvals"],
        ["plan", "schema"],
    ],
    ids=" ".join,
)
def test_a_reader_that_closes_early_ends_the_command_quietly(
    workspace: Workspace, args: list[str]
) -> None:
    """`esdh-agent … | head -1`: the reader is gone before anything is written."""
    add_runs(workspace)
    proc = esdh(workspace, *args)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head`, the reader leaves: every write gets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def test_head_reads_one_line_and_the_command_still_exits_0(workspace: Workspace) -> None:
    add_runs(workspace)
    proc = esdh(workspace, "transcripts", "list")
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    assert first.strip()
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b""


def test_a_narrow_terminal_lists_run_ids_in_full(workspace: Workspace) -> None:
    add_runs(workspace)
    proc = esdh(workspace, "transcripts", "list", columns=60)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    for run_id in LONG_IDS:
        assert run_id in lines  # whole, on a line of its own: copyable
    assert "…" not in out.decode()
    wide = esdh(workspace, "transcripts", "list", columns=200)
    text = wide.communicate(timeout=120)[0].decode()
    assert "started (UTC)" in text
    for run_id in LONG_IDS:
        assert any(line.strip().startswith(run_id) for line in text.splitlines())


def test_snapshot_names_are_never_cut(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        cli("generate", "--persons", "20", "--name", "a-rather-long-snapshot-name-v0.1").code == 0
    )
    names = [s["name"] for s in json.loads(cli("snapshots", "list", "--json").out)]
    for columns in ("60", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        out = cli("snapshots", "list").out
        assert "…" not in out
        for name in names:
            assert name in out, (columns, out)


def test_print_table_keeps_headers_and_values_whole_when_it_does_not_fit() -> None:
    rows = [("critic-with-a-long-name", "pass 0.90", "FAIL 0.10", "FLIPPED -0.80")]
    columns = ("critic", "version at HEAD", "version in the workspace", "change")
    narrow = Console(width=40, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    print_table(narrow, columns, rows)
    text = narrow.export_text()
    for value in (*rows[0], *columns[1:]):
        assert value in text
    wide = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    print_table(wide, columns, rows)
    table = wide.export_text()
    assert all(header in table for header in columns) and "┃" in table
