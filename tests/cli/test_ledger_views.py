"""The requirements ledger on the terminal views: the run summary, ``transcripts show`` (also
at 60 columns and as ``--json``) and ``transcripts export --html``, from synthetic runs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable

import pytest
from rich.console import Console

from esdh_agent.cli.run_view import print_result
from esdh_agent.graphs.slice_generation.runner import RunResult
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult
from tests.transcripts.ledger_runs import fleet_ledger, write_run

Cli = Callable[..., CliResult]
RUN = "20260101T000000Z-fleet-abcdef-with-a-long-id"


def _summary(status: str = "committed", **changes: object) -> str:
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    summary = {"plan": None, "ledger": fleet_ledger().model_dump(mode="json"), **changes}
    print_result(RunResult("r1", "fleet", status, summary), console)  # type: ignore[arg-type]
    return console.export_text()


def _row(text: str, rid: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(rid + " "))


def test_run_summary_lists_every_requirement_with_its_status() -> None:
    text = _summary()
    assert text.index("fleet run r1") < text.index("Requirements (verified on the data)")
    r3 = _row(text, "R3")
    assert '"in Arizona and Nevada"' in r3 and "state only [AZ,NV] (all)" in r3
    assert "unmet" in r3 and "measured 0.93; 7% of persons live in TX" in r3
    assert "met" in _row(text, "R4") and "measured 0.6843" in _row(text, "R4")
    assert "pinned" in _row(text, "P1") and "overridden" in _row(text, "R6")
    assert "Not honoured" in text
    assert 'R5 "Write the snapshot to ../../etc": declined' in text
    assert 'U1 "Each has 12 trailers.": not supported — no plan field counts trailers' in text
    assert 'R4 kept over R6 "mostly trucks"' in text and "Discarded model readings" in text
    assert 'state "in Texas" = [TX]: not in the prose' in text
    warning = "warning: committed, but 1 requirement(s) not honoured (--strict exits 7) and "
    assert warning + "1 sentence(s) not read as requirements" in text


def test_run_summary_colours_statuses_and_warns_only_when_committed() -> None:
    console = Console(width=200, record=True, force_terminal=True, file=open(os.devnull, "w"))  # noqa: SIM115
    summary = {"ledger": fleet_ledger().model_dump(mode="json")}
    print_result(RunResult("r1", "fleet", "committed", summary), console)
    styled = console.export_text(styles=True)
    assert re.search(r"\x1b\[1;31munmet", styled) and re.search(r"\x1b\[33mdeclined", styled)
    assert re.search(r"\x1b\[32mmet", styled)
    assert "warning:" not in _summary("refused")
    assert "ledger      none: the run stopped before its request was grounded" in _summary(
        "refused", ledger=None
    )


def test_transcripts_show_puts_the_ledger_after_the_prose(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run(workspace.data / "runs", RUN)
    for columns in ("60", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        out = cli("transcripts", "show", RUN).out
        assert out.index("│ Please build 600") < out.index("Requirements") < out.index("Plan")
        for rid in ("P1", "R1", "R2", "R3", "R4", "R5", "R6"):
            assert re.search(rf"^\s*{rid}\b", out, re.M), (columns, rid)  # whole, copyable
        assert "7% of persons live in TX" in out and "Not honoured" in out
        assert "warning: committed, but" in out
        plan = out[out.index("Plan") :]
        assert re.search(r"state_mix .*request R3", plan) or "request R3" in plan
    assert re.search(r"^\s*R3\s+\"in Arizona and Nevada\"\s+state only", out, re.M)


def test_transcripts_show_of_an_older_run_notes_it(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run(workspace.data / "runs", "old-run", with_ledger=False)
    monkeypatch.setenv("COLUMNS", "120")
    out = cli("transcripts", "show", "old-run").out
    assert "Requirements recorded before requirements ledgers" in out
    assert "Not honoured" not in out and "request R" not in out


def test_transcripts_show_json_carries_the_verified_ledger(cli: Cli, workspace: Workspace) -> None:
    write_run(workspace.data / "runs", RUN)
    data = json.loads(cli("transcripts", "show", RUN, "--json").out)
    statuses = {r["id"]: r["status"] for r in data["run"]["ledger"]["requirements"]}
    assert statuses == {
        "P1": "met", "R1": "met", "R2": "met", "R3": "unmet", "R4": "met", "R5": "declined",
        "R6": "overridden",
    }  # fmt: skip
    ground = next(e for e in data["events"] if e["node"] == "ground")
    assert ground["provenance"]["state_mix"] == ["R3"]


def test_export_html_marks_the_prose(cli: Cli, workspace: Workspace) -> None:
    write_run(workspace.data / "runs", RUN)
    target = workspace.root / "report.html"
    assert cli("transcripts", "export", RUN, "--html", str(target)).code == 0
    page = target.read_text(encoding="utf-8")
    assert '<mark class="req st-unmet" data-reqs="R3"' in page and '<tr id="req-R3"' in page
