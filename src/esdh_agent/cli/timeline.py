"""A run's transcript as a readable view in the terminal (``transcripts show``).

It reads top to bottom the way a reviewer asks, like the HTML page: the outcome, **the
request** (the slice's prose as the run used it, each grounded quote underlined), **the
requirements** its ledger read from it (``cli.run_view.print_ledger``: status, measured value,
what was not honoured; older transcripts say they were recorded before requirements
ledgers), **the plan** with each field's source (pinned, ``request R3``, model, default; what
the planner dropped), **the gate**, **the data** (validator
counts), **the critics** of the last revision (state — blocking, pass, advisory, abstained —
with its reason, the model's one-line summary and every finding with why it did or did not
count), then the timeline of events: model calls numbered by attempt, the expected
json_schema → json_object fallback as *info*, tokens and recorded latency per node.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from esdh_agent.agents.models import one_line, summary_line, verdict_reason, verdict_state
from esdh_agent.cli.run_view import print_ledger
from esdh_agent.transcripts.diff import finding_key, node_usage, outcome_line
from esdh_agent.transcripts.events import EventNote, event_notes, latency_label
from esdh_agent.transcripts.html_critics import STATE_WHY
from esdh_agent.transcripts.ledger_view import event_line, ledger_note, prose_spans, run_ledger
from esdh_agent.transcripts.request import SliceText, plan_provenance, run_request, slice_prose

__all__ = ["STATE_COLOUR", "print_timeline"]

STATE_COLOUR = {"blocking": "red", "pass": "green", "advisory": "yellow", "abstained": "magenta"}
_SOURCE_STYLE = {"pinned": "bold blue", "request": "green", "model": "yellow", "default": "dim"}


def _short(value: Any, limit: int = 160) -> str:
    return one_line(value if isinstance(value, str) else json.dumps(value, default=str), limit)


def _workspace_prose(record: dict[str, Any]) -> SliceText | None:
    """The slice file's prose, from the workspace this command found, if the run is its own."""
    from esdh_agent.cli.common import open_workspace
    from esdh_agent.errors import EsdhError

    run_id, slice_id = record.get("run_id"), record.get("slice_id")
    if not isinstance(run_id, str) or not isinstance(slice_id, str):
        return None
    try:
        ws = open_workspace(None)
        if not ws.paths.run_record(run_id).is_file():
            return None  # another workspace: its slice file says nothing about this run
    except (EsdhError, OSError, ValueError):
        return None
    return slice_prose(ws, slice_id)


def _request(
    console: Console, record: dict[str, Any], events: list[Any], fallback: SliceText | str | None
) -> None:
    req = run_request(record, events, fallback)
    if req.prose is None and fallback is None:
        req = run_request(record, events, _workspace_prose(record))
    version = f" version {req.version}" if req.version else ""
    console.print(f"\n[bold]Request[/] slice {escape(req.slice_id)}{version} — {req.source}")
    view = run_ledger(record, events)
    prose = Text(req.prose or "")
    for span in prose_spans(prose.plain, view) if view is not None else []:
        prose.stylize("underline", span.start, span.end)
    for line in prose.split("\n") if prose.plain else []:
        console.print(Text("  │ ") + line)
    if view is not None:
        print_ledger(console, view, committed=record.get("status") in ("committed", "unchanged"))
    else:
        note = ledger_note(record, events)
        console.print(Text.assemble(("\nRequirements ", "bold"), (str(note), "dim")))


def _plan(console: Console, record: dict[str, Any], events: list[Any]) -> None:
    prov = plan_provenance(record, events)
    if not prov.fields:
        console.print("\n[bold]Plan[/] none resolved")
        return
    console.print(f"\n[bold]Plan[/] (revision {prov.revision}) — each field's source")
    table = Table("field", "value", "source", box=None, padding=(0, 2), pad_edge=True)
    for f in prov.fields:
        style = _SOURCE_STYLE.get(f.source.split(",")[0].split(" ")[0], "")
        table.add_row(Text(f.name), Text(_short(f.value, 400)), Text(f.source, style))
    console.print(table)
    if prov.dropped:
        console.print(
            Text(f"  dropped from the planner's proposal as invalid: {', '.join(prov.dropped)}")
        )
        for error in prov.errors[:6]:
            console.print(Text(f"    {_short(error)}", "dim"))


def _gate_and_data(console: Console, record: dict[str, Any], events: list[Any]) -> None:
    gates = [e for e in events if e.get("node") == "policy_gate" and e.get("type") == "decision"]
    marks = [e for e in events if e.get("type") == "gate" and e.get("resume_command")]
    awaiting = record.get("awaiting") or {}
    if gates:
        e = gates[-1]
        parts = [str(e.get("outcome"))]
        for key in ("notes", "needs_approval", "refused"):
            if e.get(key):
                parts.append(f"{key.replace('_', ' ')}: {'; '.join(map(str, e[key]))}")
        if marks:
            parts.append(f"resume with: {marks[-1]['resume_command']}")
        console.print(Text.assemble(("\nGate  ", "bold"), " — ".join(parts)))
    elif record.get("status") == "awaiting_approval" and awaiting.get("reasons"):
        reasons = "; ".join(map(str, awaiting["reasons"]))
        paused = f"paused for a human approval: {reasons}"
        console.print(Text.assemble(("\nGate  ", "bold"), paused))
    else:
        console.print("\n[bold]Gate[/]  did not decide in this run")
    counts = record.get("validation")
    if counts:
        rows = ", ".join(f"{n:,} {entity}" for entity, n in (counts.get("rows") or {}).items())
        text = f"validator {counts.get('errors')} error(s), {counts.get('warnings')} warning(s)"
        console.print(Text.assemble(("Data  ", "bold"), f"{text} over {rows or 'no rows'}"))


def _verdict(
    console: Console, v: dict[str, Any], prefix: str, indent: int, findings: bool = True
) -> None:
    """A verdict: state, score and reason; the model's summary; findings with their reasons."""
    pad = " " * indent
    state = verdict_state(v)
    score = "" if v.get("score") is None else f" score {float(v['score']):.2f}"
    threshold = "" if v.get("threshold") is None else f" (threshold {v['threshold']:g})"
    console.print(
        f"{prefix}[{STATE_COLOUR[state]}]{state}[/]{score}{threshold} — "
        f"{STATE_WHY[state]}: {escape(verdict_reason(v))}"
    )
    whose = (
        ""
        if v.get("kind", "rules" if v.get("critic") == "rules" else "llm") == "rules"
        else "model's "
    )
    console.print(Text(f"{pad}{whose}summary: {summary_line(v.get('summary'))}", "dim"))
    ordered = sorted(v.get("findings") or [], key=finding_key) if findings else []
    for f in ordered[:8]:
        mark = "blocking" if f.get("blocking") else str(f.get("status"))
        what = " ".join(str(x) for x in (f.get("severity"), f.get("rule")) if x)
        console.print(
            Text(f"{pad}{mark}", "red" if f.get("blocking") else "dim")
            + Text(f" {what}: {_short(f.get('message'), 100)}")
            + Text(f" — {_short(f.get('reason'), 100)}", "dim")
        )
    if len(ordered) > 8:
        console.print(Text(f"{pad}(+{len(ordered) - 8} more findings)", "dim"))


def _critics(console: Console, record: dict[str, Any], events: list[Any]) -> int | None:
    """The last revision's verdicts (blocking first); returns that revision."""
    verdicts = [e for e in events if e.get("type") == "verdict"]
    if not verdicts:
        verdicts, last = list(record.get("verdicts") or []), record.get("revision")
    else:
        last = max(int(v.get("revision") or 0) for v in verdicts)
        verdicts = [v for v in verdicts if int(v.get("revision") or 0) == last]
    if not verdicts:
        console.print("\n[bold]Critics[/] none judged this run")
        return None
    console.print(f"\n[bold]Critics[/] (revision {last})")
    rank = {"blocking": 0, "advisory": 1, "abstained": 2, "pass": 3}
    for v in sorted(verdicts, key=lambda v: rank[verdict_state(v)]):
        _verdict(console, v, f"  {escape(str(v.get('critic'))):<20} ", 23)
    return None if last is None else int(last)


def _event(console: Console, e: dict[str, Any], note: EventNote, shown: int | None) -> None:
    node, kind = str(e.get("node")), e.get("type")
    head = f"[dim]{str(e.get('ts', ''))[11:19]}[/] [cyan]{escape(node):<26}[/]"
    attempt = f"attempt {note.attempt}"
    if note.fallback:
        if kind == "llm_error" or not str(kind).startswith("mode_"):
            console.print(f"{head} [dim]info[/] {escape(note.fallback)} (expected)")
    elif kind == "llm_response":
        console.print(
            f"{head} response ({attempt}, {e.get('mode')}, {e.get('finish_reason')}, "
            f"{e.get('completion_tokens')} tok, {latency_label(e)}): "
            f"{escape(_short(e.get('content', ''), 120))}"
        )
    elif kind == "llm_request":
        console.print(f"{head} request to {e.get('model')} ({e.get('mode')}, {attempt})")
    elif kind == "reask":
        console.print(
            f"{head} [yellow]reask[/] ({attempt} invalid): {escape('; '.join(e.get('errors', [])))}"
        )
    elif kind == "structured_failed":
        errors = escape("; ".join(e.get("errors", [])))
        console.print(f"{head} [yellow]still invalid[/] after {e.get('attempts')}: {errors}")
    elif kind == "llm_error":
        console.print(
            f"{head} [red]model error[/] ({attempt}) {e.get('status') or ''} "
            f"{escape(_short(e.get('error', '')))}"
        )
    elif kind == "proposal":
        state = "valid" if e.get("valid") else f"invalid, dropped {e.get('dropped')}"
        console.print(
            f"{head} revision {e.get('revision')}: proposal {state}: "
            f"{escape(_short(e.get('proposal')))}"
        )
    elif kind == "decision":
        extra = e.get("decision") or e.get("outcome")
        notes = "; ".join(e.get("notes", []) or [])
        console.print(
            f"{head} [bold]{extra}[/] {escape(_short(notes))} "
            f"{escape(_short(e.get('reason') or '', 300))}"
        )
    elif kind == "gate":
        text = e.get("message") or "; ".join(map(str, e.get("reasons") or []))
        console.print(f"{head} [bold]{e.get('decision')}[/] {escape(_short(text, 300))}")
    elif kind == "approval":
        verb = "approved" if e.get("approved") else "rejected"
        console.print(
            f"{head} [bold]{verb}[/] by {escape(str(e.get('by')))}: {escape(str(e.get('comment')))}"
        )
    elif kind == "tool_result":
        detail = e.get("rows") or e.get("summary")
        console.print(f"{head} {e.get('tool')}: {escape(_short(detail))}")
    elif kind == "verdict":
        revision = int(e.get("revision") or 0)
        _verdict(console, e, f"{head} (revision {revision}) ", 38, findings=revision != shown)
    elif kind == "commit":
        console.print(f"{head} [green]{e.get('status')}[/] {e.get('name')} {e.get('content_hash')}")
    elif kind in ("ledger", "verified"):
        console.print(Text.from_markup(f"{head} {kind} ") + Text(event_line(e) or ""))
    elif kind in ("run_start", "run_resume", "run_end", "run_error"):
        console.print(f"{head} {kind} {escape(_short(e.get('status') or e.get('error') or ''))}")


def print_timeline(
    record: dict[str, Any],
    events: list[dict[str, Any]],
    console: Console,
    *,
    request: SliceText | str | None = None,
) -> None:
    """Request, plan, gate, data, critics, then every event and model use per node.

    ``request`` is the slice's prose from the workspace (``transcripts.request.slice_prose``),
    shown only when the transcript does not hold the prose itself (a run the gate refused
    before the planner was asked); without it, the workspace this command found is read when
    it holds the run."""
    console.print(
        f"[bold]run {escape(str(record.get('run_id')))}[/] slice "
        f"{escape(str(record.get('slice_id')))} — {record.get('status')} "
        f"(llm {record.get('llm_mode')})"
    )
    if record.get("status") not in (None, "running") and record.get("run_id"):
        console.print(Text(f"  {outcome_line(record)}"))
    if any(e.get("node") in ("load_context", "ground", "planner") for e in events) or request:
        _request(console, record, events, request)
        _plan(console, record, events)
        _gate_and_data(console, record, events)
    shown = _critics(console, record, events)
    console.print("\n[bold]Timeline[/]")
    for e, note in zip(events, event_notes(events), strict=True):
        _event(console, e, note, shown)
    per = node_usage(events)
    if per:
        console.print(
            "[bold]model use per node[/] (recorded latency): "
            + ", ".join(
                f"{node} {row['prompt'] + row['completion']:,} tok / "
                f"{row['latency_ms'] / 1000:.1f} s"
                for node, row in sorted(per.items())
            )
        )
