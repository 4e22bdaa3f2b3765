"""What ``run slice-generation`` and ``resume`` print: node-by-node progress and a summary.

The summary leads with the outcome, then the request's **requirements** (``print_ledger``:
one line per requirement with its quote, reading, source and status — met, unmet with what
the data has, not supported, declined, refused, overridden — then what was not honoured, the
conflicts and the discarded model readings; a committed run that went on without parts of
its request says so in a warning line). A paused run shows every reason and the exact resume
command, a refused one the gate's or the critics' reasons, a failed one its error (on stdout
too, so a log of stdout alone says why). ``transcripts show`` prints the same ledger block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.graphs.slice_generation.runner import RunResult
    from esdh_agent.transcripts.ledger_view import LedgerView

__all__ = [
    "NODE_LABELS",
    "STATUS_STYLE",
    "live_progress",
    "print_ledger",
    "print_result",
    "progress_printer",
]

STATUS_STYLE = {
    "met": "green",
    "unmet": "bold red",
    "not_supported": "yellow",
    "declined": "yellow",
    "refused": "bold red",
    "overridden": "dim",
    "pending": "",
}
"""The colour of each requirement status, on every terminal view."""
_QUOTE = 34

NODE_LABELS = {
    "load_context": "read workspace",
    "planner": "planner",
    "policy_gate": "policy gate",
    "human_approval": "approval",
    "generate": "generate",
    "validate": "validate",
    "critic": "critic",
    "decide": "decide",
    "commit": "commit",
    "give_up": "give up",
}
_FOLLOWING = {
    "load_context": "planner",
    "planner": "policy gate",
    "policy_gate": "generate",
    "human_approval": "generate",
    "generate": "validate",
    "validate": "critics",
    "critic": "critics",
    "decide": "commit / revise",
}


def _gate_detail(update: dict[str, Any]) -> str:
    decision = update.get("gate_decision") or {}
    if decision.get("message"):
        return str(decision["message"])
    gate = update.get("gate") or {}
    return str(update.get("outcome") or ("; ".join(gate.get("notes", [])) or "pass"))


def progress_printer(console: Console, slice_id: str) -> Any:
    """A progress callback printing one line per finished node."""
    from esdh_agent.agents.models import verdict_state

    def show(node: str, update: dict[str, Any]) -> None:
        detail = ""
        if node == "planner":
            p = update.get("planner", {})
            detail = (
                f"proposal {'valid' if p.get('valid') else 'invalid, salvaged'} after "
                f"{p.get('attempts')} call(s) ({p.get('mode')})"
            )
        elif node in ("policy_gate", "human_approval"):
            detail = _gate_detail(update)
        elif node == "generate":
            rows = (update.get("bundle") or {}).get("rows", {})
            detail = ", ".join(f"{n:,} {e}" for e, n in rows.items())
        elif node == "critic":
            for v in update.get("verdicts", []):
                detail = f"{v['critic']}: {verdict_state(v)}"
        elif node == "decide":
            detail = update.get("decision") or ""
        elif node == "commit":
            snap = update.get("snapshot") or {}
            detail = f"{snap.get('status')} {snap.get('name')}"
        elif node == "__interrupt__":
            node, detail = "human_approval", "paused: waiting for a human approval"
        label = NODE_LABELS.get(node, node)
        console.print(f"  [dim]{escape(slice_id)}[/] [cyan]{label:<14}[/] {escape(detail)}")

    return show


@contextlib.contextmanager
def live_progress(console: Console, slice_id: str) -> Iterator[Any]:
    """Node-by-node lines, plus a spinner naming the running step on a terminal."""
    show = progress_printer(console, slice_id)
    if not console.is_terminal:
        yield show
        return
    with console.status(f"{slice_id}: reading the workspace") as status:

        def update(node: str, data: dict[str, Any]) -> None:
            show(node, data)
            status.update(f"{slice_id}: {_FOLLOWING.get(node, 'finishing')}…")

        yield update


def _line(console: Console, label: str, text: str) -> None:
    console.print(f"  {label:<11} {escape(text)}")


def _print_gate(result: RunResult, console: Console) -> None:
    s = result.summary
    for note in (s.get("gate") or {}).get("notes", []):
        _line(console, "gate", note)
    decision = s.get("gate_decision") or {}
    kind = decision.get("decision")
    reasons = decision.get("reasons") or []
    if result.status == "awaiting_approval":
        reasons = reasons or (s.get("awaiting") or {}).get("reasons", [])
        for reason in reasons:
            _line(console, "waiting", reason)
        command = decision.get("resume_command") or (
            f"esdh-agent resume {result.run_id} --approve|--reject"
        )
        _line(console, "next", f"{command} [--comment TEXT]")
    elif kind == "refused":
        for reason in reasons:
            _line(console, "refused", reason)
    elif kind in ("pass", "approved", "rejected") and reasons:
        for reason in reasons:
            _line(console, "approval", f"needed: {reason}")
        _line(console, "approval", str(decision.get("message") or kind))


def _quote(text: str, limit: int = _QUOTE) -> str:
    line = " ".join(text.split())
    return f'"{line if len(line) <= limit else line[: limit - 1].rstrip() + "…"}"'


def _found(measured: object, detail: str) -> str:
    from esdh_agent.transcripts.ledger_view import show_value

    measured_text = "" if measured is None else f"measured {show_value(measured)}"
    return "; ".join(p for p in (measured_text, " ".join(detail.split())) if p) or "—"


def print_ledger(console: Console, view: LedgerView, *, committed: bool = False) -> None:
    """The requirements block: one line per requirement (id first, whole; columns aligned,
    long lines wrap rather than being cut), then what was not honoured, the conflicts and the
    discarded model readings (see the module's docstring)."""
    from esdh_agent.transcripts.ledger_view import (
        STATUS_LABEL,
        not_honoured,
        show_value,
        unhonoured_warning,
    )

    ledger = view.ledger
    console.print(Text.assemble(("\nRequirements ", "bold"), (f"({view.stage})", "dim")))
    reqs = ledger.requirements
    quotes = [_quote(r.quote) for r in reqs]
    labels = [r.label() for r in reqs]
    wid, wq, wl = (
        max((len(x) for x in col), default=0) for col in ([r.id for r in reqs], quotes, labels)
    )
    for r, quote, label in zip(reqs, quotes, labels, strict=True):
        console.print(
            Text.assemble(
                (f"  {r.id:<{wid}} ", "bold"),
                f"{quote:<{wq}} {label:<{wl}} ",
                (f"{r.source:<7} ", "dim"),
                (f"{STATUS_LABEL[r.status]:<13}", STATUS_STYLE[r.status]),
                (f" {_found(r.measured, r.detail)}", "dim" if r.status == "met" else ""),
            )
        )
    if not reqs:
        console.print(Text("  no checkable requirement was read from the request", "dim"))
    missing = not_honoured(view)
    if missing:
        console.print(Text("Not honoured", "bold yellow"))
        for h in missing:
            console.print(
                Text.assemble(
                    (f"  {h.ident} ", "bold"),
                    _quote(h.quote, 80),
                    (f": {h.status}", "yellow"),
                    (f" — {h.why}", "dim"),
                )
            )
    if ledger.conflicts:
        console.print(Text("Conflicts", "bold"))
        for c in ledger.conflicts:
            other = c.other
            console.print(
                Text.assemble(
                    f"  {c.kept} kept over {other.id} {_quote(other.quote)} ({other.label()})",
                    (f": {c.reason}", "dim"),
                )
            )
    if ledger.discarded:
        console.print(Text("Discarded model readings", "bold"))
        for d in ledger.discarded:
            console.print(
                Text.assemble(
                    f"  {d.target} {_quote(d.quote)} = {show_value(d.value)}",
                    (f": {d.reason}", "dim"),
                )
            )
    warning = unhonoured_warning(view) if committed else None
    if warning:
        console.print(Text.assemble(("warning: ", "bold yellow"), warning))


def print_result(result: RunResult, console: Console) -> None:
    """The run's summary: outcome, plan, gate, validator, critics, snapshot, model use."""
    from esdh_agent.agents.models import summary_line, verdict_reason, verdict_state
    from esdh_agent.transcripts.ledger_view import NOT_GROUNDED, run_ledger

    s = result.summary
    colour = {"committed": "green", "unchanged": "green", "awaiting_approval": "yellow"}.get(
        result.status, "red"
    )
    console.print(
        f"[bold]{escape(result.slice_id)}[/] run {result.run_id}: [{colour}]{result.status}[/]"
    )
    error = result.error.one_line() if result.error is not None else s.get("error")
    if result.status == "failed" or error:
        _line(console, "error", str(error or "the run stopped without an outcome"))
    view = run_ledger({"ledger": s.get("ledger")}, [])
    if view is not None:
        print_ledger(console, view, committed=result.status in ("committed", "unchanged"))
    elif "ledger" in s:
        _line(console, "ledger", NOT_GROUNDED)
    plan = s.get("plan") or {}
    if plan:
        _line(
            console,
            "plan",
            f"{plan.get('person_count'):,} persons, seed {plan.get('seed')}"
            f", {plan.get('dataset_version')}, LOB {plan.get('lob_mix')}, states "
            f"{plan.get('state_mix')}",
        )
    _print_gate(result, console)
    if s.get("validation"):
        v = s["validation"]
        _line(
            console,
            "validator",
            f"{v['errors']} errors, {v['warnings']} warnings over {v.get('rows')}",
        )
    for v in s.get("verdicts", []):
        score = "" if v.get("score") is None else f" score {v['score']:.2f}"
        summary = v.get("summary_line") or summary_line(v.get("summary"))
        _line(console, "critic", f"{v['critic']}: {verdict_state(v)}{score} — {summary}")
        reason = v.get("reason") or verdict_reason(v)
        if reason:
            _line(console, "", f"why: {reason}")
    if s.get("snapshot"):
        snap = s["snapshot"]
        _line(console, "snapshot", f"{snap['name']} ({snap['status']}) at {snap['path']}")
    by_gate = (s.get("gate_decision") or {}).get("decision") in ("refused", "rejected")
    if s.get("reason") and result.status not in ("committed", "unchanged") and not by_gate:
        _line(console, "reason", str(s["reason"]))
    llm = s.get("llm") or {}
    _line(
        console,
        "model use",
        f"{llm.get('calls', 0)} calls, {llm.get('tokens', 0):,} tokens; "
        f"transcript data/runs/{result.run_id}/transcript.jsonl",
    )
