"""``transcripts diff`` and ``transcripts export`` through a small local Typer app.

The commands are not registered in ``esdh-agent`` by this package; the local app wires them
the way ``cli/run.py`` will, and ``invoke`` reports errors as ``main()`` does (one line and
the error's exit code). Once registered, the last test runs them through the real CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from esdh_agent.cli.transcripts_extra import diff_command, export_command
from esdh_agent.errors import EsdhError, ExitCode
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult
from tests.transcripts.conftest import Runs

app = typer.Typer()
app.command("diff")(diff_command)
app.command("export")(export_command)


@dataclass
class Outcome:
    code: int
    out: str
    error: str


def invoke(ws: Workspace, *args: str) -> Outcome:
    result = CliRunner().invoke(app, [*args, "--workspace", str(ws.root)])
    exc = result.exception
    if isinstance(exc, EsdhError):
        return Outcome(int(exc.exit_code), result.stdout, exc.one_line())
    assert exc is None or isinstance(exc, SystemExit), result.exception
    return Outcome(result.exit_code, result.stdout, "")


def test_diff_json(workspace: Workspace, runs: Runs) -> None:
    result = invoke(workspace, "diff", runs.baseline, runs.refused, "--json")
    assert result.code == 0, result.error
    diff = json.loads(result.out)
    assert diff["a"]["run_id"] == runs.baseline and diff["b"]["run_id"] == runs.refused
    assert diff["flipped"] == ["rules"]
    assert diff["status"] == {"a": "committed", "b": "refused", "changed": True}


def test_diff_readable(workspace: Workspace, runs: Runs) -> None:
    result = invoke(workspace, "diff", runs.baseline, runs.refused)
    assert result.code == 0, result.error
    out = result.out
    assert "committed → refused" in out
    assert "person_count" in out and "200" in out and "50" in out
    assert "FLIPPED" in out and "1 verdict(s) flipped" in out
    assert "errors 0 → 1" in out and "model use" in out
    same = invoke(workspace, "diff", runs.baseline, runs.baseline)
    assert "No differences" in same.out and "same content" in same.out


def test_export_writes_one_html_file_atomically(
    workspace: Workspace, runs: Runs, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    result = invoke(workspace, "export", runs.refused, "--html", str(target))
    assert result.code == 0, result.error
    assert f"wrote {target}" in result.out.replace("\n", "")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and runs.refused in page
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


@pytest.mark.parametrize(
    ("make_target", "message"),
    [
        (lambda tmp: tmp, "it is a directory"),
        (lambda tmp: tmp / "missing" / "r.html", "does not exist"),
        (lambda tmp: tmp / "file.txt" / "r.html", "does not exist"),
    ],
)
def test_export_to_an_unwritable_path_is_one_clear_error(
    workspace: Workspace,
    runs: Runs,
    tmp_path: Path,
    make_target: Callable[[Path], Path],
    message: str,
) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    result = invoke(workspace, "export", runs.baseline, "--html", str(make_target(tmp_path)))
    assert result.code == ExitCode.USAGE
    assert message in result.error and "\n" not in result.error


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    workspace: Workspace, runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    result = invoke(workspace, "export", runs.baseline, "--html", str(target))
    assert result.code == ExitCode.USAGE
    assert result.error == f"cannot write {target}: Permission denied"
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


@pytest.mark.parametrize("command", ["diff", "export"])
def test_unknown_runs_are_one_clear_error(
    workspace: Workspace, runs: Runs, tmp_path: Path, command: str
) -> None:
    args = [runs.baseline, "nope"] if command == "diff" else ["nope", "--html", str(tmp_path / "r")]
    result = invoke(workspace, command, *args)
    assert result.code == ExitCode.USAGE
    assert result.error.startswith("no run 'nope'") and "transcripts list" in result.error
    assert not (tmp_path / "r").exists()


def test_through_the_real_cli_once_registered(
    cli: Callable[..., CliResult], runs: Runs, tmp_path: Path
) -> None:
    from esdh_agent.cli.run import transcripts_app

    callbacks = {c.callback for c in transcripts_app.registered_commands}
    if not {diff_command, export_command} <= callbacks:
        pytest.skip("transcripts diff/export are not registered in cli/run.py yet")
    listed = cli("transcripts", "list", "--json")
    assert {r["run_id"] for r in json.loads(listed.out)} >= {runs.baseline, runs.refused}
    diff = cli("transcripts", "diff", runs.baseline, runs.refused, "--json")
    assert diff.code == 0 and json.loads(diff.out)["flipped"] == ["rules"]
    target = tmp_path / "r.html"
    assert cli("transcripts", "export", runs.refused, "--html", str(target)).code == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    missing = cli("transcripts", "export", "nope", "--html", str(target))
    assert missing.code == 2 and "no run 'nope'" in missing.err
