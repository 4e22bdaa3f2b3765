"""``transcripts diff`` and ``transcripts export`` through a small local Typer app.

The commands are not registered in ``esdh-agent`` by this package; the local app wires them
the way ``cli/run.py`` will, and ``invoke`` reports errors as ``main()`` does (one line and
the error's exit code). Once registered, the last test runs them through the real CLI.
"""

from __future__ import annotations

import json
import os
import re
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
    assert diff["flipped"] == []  # the gate refused B before any critic judged it
    assert diff["status"] == {"a": "committed", "b": "refused", "changed": True}
    states = {v["critic"]: v["a"]["state"] for v in diff["verdicts"]}
    assert states == {
        "rules": "pass",
        "request": "pass",
        "plan-fidelity": "advisory",
        "governance-privacy": "advisory",
        "realism-coherence": "pass",
    }


def test_diff_readable(workspace: Workspace, runs: Runs) -> None:
    result = invoke(workspace, "diff", runs.baseline, runs.refused)
    assert result.code == 0, result.error
    out = result.out
    assert "committed → refused" in out
    assert "person_count" in out and "200" in out and "50" in out
    assert "0 verdict(s) flipped" in out and "advisory 0.00" in out
    assert "errors 0 → —" in out and "model use" in out
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
    assert diff.code == 0 and json.loads(diff.out)["status"]["b"] == "refused"
    target = tmp_path / "r.html"
    assert cli("transcripts", "export", runs.refused, "--html", str(target)).code == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    missing = cli("transcripts", "export", "nope", "--html", str(target))
    assert missing.code == 2 and "no run 'nope'" in missing.err


def _show(cli: Callable[..., CliResult], run_id: str) -> str:
    result = cli("transcripts", "show", run_id)
    assert result.code == 0, result.err
    return result.out


def test_show_opens_with_the_request_then_plan_gate_data_critics(
    cli: Callable[..., CliResult], runs: Runs
) -> None:
    out = _show(cli, runs.baseline)
    heads = ["Request slice baseline", "Plan (revision 0)", "Gate ", "Data ", "Critics", "Timeline"]
    positions = [out.index(h) for h in heads]
    assert positions == sorted(positions), positions
    assert "version 1.0.0 — recorded by the run" in out
    assert "│ We need the standard v0.1 baseline" in out
    plan = out[out.index("Plan (revision 0)") : out.index("Gate ")]
    assert re.search(r"person_count\s+200\s+pinned", plan)
    assert re.search(r"make_mix\s+.*default", plan)
    assert "slice is locked" in out[out.index("Gate ") :]


def test_show_says_what_each_verdict_means(cli: Callable[..., CliResult], runs: Runs) -> None:
    out = _show(cli, runs.baseline)
    critics = out[out.index("Critics") : out.index("Timeline")]
    lines = {
        line.split()[0]: line
        for line in critics.splitlines()
        if line.startswith("  ") and "score" in line
    }
    states = [line.split()[1] for line in lines.values()]
    assert states == ["advisory", "advisory", "pass", "pass", "pass"]  # what does not count first
    assert (
        "advisory score 0.00 (threshold 0.5) — does not count: score 0.00 below 0.5 but no "
        "verified finding" in lines["governance-privacy"]
    )
    assert (
        "advisory score 0.50 (threshold 0.5) — does not count: critical finding not verified "
        "(no check the framework can verify)" in lines["plan-fidelity"]
    )
    assert (
        "pass score 1.00 (threshold 1) — passes: no error-level validation findings"
        in (lines["rules"])
    )
    assert (
        "pass score 1.00 (threshold 1) — passes: all 32 checkable requirement(s) met on the data"
        in lines["request"]
    )
    # governance-privacy's "… DATA: {" and plan-fidelity's "{" are not prose
    assert critics.count("model's summary: unusable answer") == 2
    assert "model's summary: The request is not acceptable and the data should be" in critics
    assert not re.search(r"summary: .*\{\s*$", critics, re.M)
    assert all(len(line) < 300 for line in critics.splitlines())  # one bounded line each


def test_show_numbers_attempts_and_treats_the_fallback_as_info(
    cli: Callable[..., CliResult], runs: Runs
) -> None:
    out = _show(cli, runs.paused)
    assert "info server does not support json_schema; using json_object (expected)" in out
    assert "model error" not in out
    for n in (1, 2, 3):
        assert f"(json_object, attempt {n})" in out
    assert "reask (attempt 1 invalid)" in out and "reask (attempt 2 invalid)" in out
    assert f"resume with: esdh-agent resume {runs.paused} --approve|--reject" in out
    assert "dropped from the planner's proposal as invalid" in out


def test_show_opens_a_run_the_gate_refused_first_with_its_request(
    cli: Callable[..., CliResult], runs: Runs
) -> None:
    out = _show(cli, runs.refused)
    assert "Request slice impossible-14 version 1.0.0 — recorded by the run" in out
    assert "│ We want to check that the quote engine rejects underage drivers" in out
    assert "no approval can allow it" in out and "Critics none judged this run" in out


def test_show_json_carries_each_verdicts_state_and_reason(
    cli: Callable[..., CliResult], runs: Runs
) -> None:
    result = cli("transcripts", "show", runs.baseline, "--json")
    data = json.loads(result.out)
    briefs = {v["critic"]: v for v in data["run"]["verdicts"]}
    assert briefs["governance-privacy"]["state"] == "advisory"
    assert briefs["governance-privacy"]["reason"] == "score 0.00 below 0.5 but no verified finding"
    assert briefs["governance-privacy"]["summary_line"] == "unusable answer"
    assert briefs["governance-privacy"]["passed"] is True  # the old fields keep their meaning
    assert briefs["plan-fidelity"]["state"] == "advisory"
    assert briefs["plan-fidelity"]["reason"].startswith(
        "critical finding not verified (no check the framework can verify)"
    )
    assert briefs["request"]["state"] == "pass"
    assert briefs["request"]["reason"] == "all 32 checkable requirement(s) met on the data"
    events = [e for e in data["events"] if e["type"] == "verdict"]
    assert {e["critic"]: e["state"] for e in events} == {c: v["state"] for c, v in briefs.items()}
