"""``esdh-agent transcripts diff RUN_A RUN_B`` and ``transcripts export RUN_ID --html FILE``.

Reviewers' tools for run transcripts: what changed between two runs (outcome, plan, validator,
flipped verdicts, snapshot content, model use), and one self-contained HTML report of a run to
attach to a pull request or keep as a CI artifact. Heavy modules are imported inside the
commands so ``esdh-agent --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from esdh_agent.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace, print_table
from esdh_agent.cli.common import out_console as _out

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.workspace import Workspace

__all__ = ["diff_command", "export_command", "write_report"]


def _load(ws: Workspace, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run's record and transcript events; one clear error for an unknown or corrupt run."""
    from esdh_agent.errors import InputError
    from esdh_agent.graphs.slice_generation.runner import read_run
    from esdh_agent.llm.transcript import read_transcript

    record = read_run(ws, run_id)
    path = ws.paths.transcript(run_id)
    try:
        events = read_transcript(path)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read the transcript of run {run_id}: {exc}") from exc
    return record, events


def write_report(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    A reader never sees a half-written report, and a failure leaves no temporary file.
    """
    from esdh_agent.core.store import write_atomic
    from esdh_agent.errors import InputError

    target = path.expanduser()
    if target.is_dir():
        raise InputError(f"cannot write {target}: it is a directory", hint="give a file name")
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {target}: directory {parent} does not exist")
    try:
        write_atomic(target, text)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def _show(value: Any, limit: int = 60) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_hash(value: Any) -> str:
    """``sha256:`` and the first 16 hex digits: enough to tell two contents apart."""
    return "—" if value is None else str(value)[:23]


def _arrow(pair: dict[str, Any], show: Callable[[Any], str] = _show) -> str:
    if not pair["changed"]:
        return f"{show(pair['a'])} (same)"
    delta = pair.get("delta")
    sign = f" ({delta:+g})" if isinstance(delta, int | float) and delta else ""
    return f"{show(pair['a'])} → {show(pair['b'])}{sign}"


def _verdict_text(v: dict[str, Any] | None) -> str:
    if v is None:
        return "—"
    score = "" if v.get("score") is None else f" {float(v['score']):.2f}"
    return f"{v['state']}{score}"


def _print_diff(diff: dict[str, Any], console: Console) -> None:
    """The diff as a few aligned lines and tables; every value is plain text, never markup.

    Tables never cut a field, critic or node name (``print_table``: one block per row on a
    narrow terminal).
    """
    from rich.text import Text

    def line(label: str, text: str, changed: bool = False) -> None:
        style = "bold yellow" if changed else ""
        console.print(Text(f"  {label:<12}", style="cyan") + Text(text, style=style))

    for side in ("a", "b"):
        run = diff[side]
        head = f"{side.upper()}  {run['run_id']}  {run['slice_id']}  {run['status']}"
        console.print(Text(head, style="bold"))
        console.print(Text(f"   {run['why']}", style="dim"))
    if not diff["changed"]:
        console.print(Text("No differences: same outcome, plan, verdicts, content and model use."))
    for key in ("slice", "status", "revision", "reason"):
        if diff[key]["changed"]:
            line(key, _arrow(diff[key]), True)
    plan = diff["plan"]
    if plan["a_missing"] or plan["b_missing"]:
        line("plan", f"resolved in A: {not plan['a_missing']}, in B: {not plan['b_missing']}")
    if plan["changed"]:
        line("plan", f"{len(plan['changed'])} field(s) differ, {plan['unchanged']} the same", True)
        fields = [
            (Text(row["field"]), Text(_show(row["a"])), Text(_show(row["b"])))
            for row in plan["changed"]
        ]
        print_table(console, ("field", "A", "B"), fields, box=None, padding=(0, 2))
    elif not (plan["a_missing"] or plan["b_missing"]):
        line("plan", f"same ({plan['unchanged']} fields)")
    val = diff["validation"]
    rows = "; ".join(f"{entity} {_arrow(p)}" for entity, p in val["rows"].items())
    text = f"errors {_arrow(val['errors'])}, warnings {_arrow(val['warnings'])}"
    line("validator", text + (f"; rows {rows}" if rows else ""), val["changed"])
    if diff["verdicts"]:
        verdicts = []
        for v in diff["verdicts"]:
            change = "FLIPPED" if v["flipped"] else "score" if v["changed"] else ""
            if v["score_delta"]:
                change += f" {v['score_delta']:+.2f}"
            style = "bold red" if v["flipped"] else "yellow" if v["changed"] else ""
            verdicts.append(
                (
                    Text(v["critic"]),
                    Text(_verdict_text(v["a"])),
                    Text(_verdict_text(v["b"])),
                    Text(change.strip(), style=style),
                )
            )
        line("critics", f"{len(diff['flipped'])} verdict(s) flipped", bool(diff["flipped"]))
        print_table(console, ("critic", "A", "B", "change"), verdicts, box=None, padding=(0, 2))
    snap = diff["snapshot"]
    same = {True: "same content", False: "DIFFERENT content", None: "not both committed"}
    hashes = _arrow(snap["content_hash"], _short_hash)
    line("snapshot", f"{same[snap['same_content']]}; content hash {hashes}")
    line("bundle", f"last generated content hash {_arrow(diff['bundle_hash'], _short_hash)}")
    llm = diff["llm"]
    text = f"calls {_arrow(llm['calls'])}, tokens {_arrow(llm['tokens'])}"
    line("model use", text, llm["changed"])
    moved = [n for n in llm["per_node"] if n["tokens"]["changed"]]
    if moved:
        usage = [
            (Text(n["node"]), Text(_arrow(n["tokens"])), Text(_arrow(n["latency_ms"])))
            for n in moved
        ]
        headers = ("node", "tokens A → B", "latency ms A → B")
        print_table(console, headers, usage, box=None, padding=(0, 2))


def diff_command(
    run_a: Annotated[str, typer.Argument(help="The run to compare from (see `transcripts list`).")],
    run_b: Annotated[str, typer.Argument(help="The run to compare to.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two runs: outcome, plan, validator, verdicts, snapshot, model use."""
    from esdh_agent.transcripts.diff import diff_runs

    ws = open_workspace(workspace)
    a, events_a = _load(ws, run_a)
    b, events_b = _load(ws, run_b)
    diff = diff_runs(a, events_a, b, events_b)
    if as_json:
        emit_json(diff)
        return
    _print_diff(diff, _out())


def export_command(
    run_id: Annotated[str, typer.Argument(help="Run id (see `esdh-agent transcripts list`).")],
    html: Annotated[
        Path,
        typer.Option("--html", help="Write a self-contained HTML report to FILE.", metavar="FILE"),
    ],
    workspace: WorkspaceOpt = None,
) -> None:
    """Export a run as one self-contained HTML report (no network needed to open it)."""
    from rich.markup import escape

    from esdh_agent.transcripts.html import render_run_html
    from esdh_agent.transcripts.request import slice_prose

    ws = open_workspace(workspace)
    record, events = _load(ws, run_id)
    page = render_run_html(record, events, request=slice_prose(ws, str(record.get("slice_id"))))
    target = write_report(html, page)
    size = len(page.encode("utf-8"))
    _out().print(f"wrote {escape(str(target))} ({size:,} bytes, {len(events)} events)")
