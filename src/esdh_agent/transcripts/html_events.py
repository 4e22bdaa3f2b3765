"""The run page's event-level sections: decisions, re-asks and fallbacks, model use, the
full timeline and the filters over them.

Each event is one row with ``data-node`` / ``data-critic`` for the filters. Model calls are
numbered by attempt (1, 2, 3 across re-asks) and the expected json_schema → json_object
fallback is shown as *info*, not as a model error (``transcripts.events``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from esdh_agent.agents.models import summary_line, verdict_reason, verdict_state
from esdh_agent.transcripts.diff import USAGE_KEYS, critic_of, node_usage
from esdh_agent.transcripts.events import EventNote, event_notes, is_mode_change, latency_label
from esdh_agent.transcripts.ledger_view import event_line
from esdh_agent.transcripts.markup import attrs, details, esc, js, pre, slug, table, ul

__all__ = ["event_detail", "filters", "is_reask", "listing", "timeline", "usage"]

_REASK_KINDS = {"reask", "structured_failed", "llm_error", "retry", "llm_gave_up", "refused"}
_SKIP = ("seq", "ts", "run_id", "node", "type")


def _type_label(e: dict[str, Any], note: EventNote) -> str:
    return "info" if note.fallback else str(e.get("type"))


def is_reask(event: dict[str, Any]) -> bool:
    """Does the "re-asks, fallbacks and model errors" section list ``event``?"""
    return event.get("type") in _REASK_KINDS or is_mode_change(event)


def listing(
    ident: str, title: str, events: list[dict[str, Any]], pick: Callable[[dict[str, Any]], bool]
) -> str:
    notes = event_notes(events)
    picked = [(e, n) for e, n in zip(events, notes, strict=True) if pick(e)]
    rows = [
        f"<td>{esc(e.get('seq'))}</td><td>{esc(e.get('node'))}</td>"
        f"<td>{esc(_type_label(e, n))}</td><td>{event_detail(e, n)}</td>"
        for e, n in picked
    ]
    row_attrs = [attrs(str(e.get("node")), "info" if n.fallback else "") for e, n in picked]
    body = table(("#", "node", "type", "detail"), rows, row_attrs) if rows else "<p>None.</p>"
    return f'<section id="{esc(ident)}"><h2>{esc(title)}</h2>{body}</section>'


def usage(events: list[dict[str, Any]]) -> str:
    per = node_usage(events)
    total = {k: sum(row[k] for row in per.values()) for k in USAGE_KEYS}

    def cells(node: str, row: dict[str, int]) -> str:
        nums = [row[k] for k in USAGE_KEYS[:6]] + [row["prompt"] + row["completion"]]
        tds = "".join(f'<td class="num">{n:,}</td>' for n in [*nums, row["latency_ms"]])
        return f"<td>{esc(node)}</td>{tds}"

    rows = [cells(node, row) for node, row in per.items()] + [cells("total", total)]
    row_attrs = [f'{attrs(node)} id="usage-{slug(node)}"' for node in per]
    head = ("node", "requests", "responses", "re-asks", "errors", "prompt tok", "completion tok")
    body = table((*head, "total tok", "latency ms"), rows, row_attrs)
    note = '<p class="muted">latency as recorded; errors leave out the expected mode fallback</p>'
    return f'<section id="usage"><h2>Model use per node</h2>{body}{note}</section>'


def event_detail(e: dict[str, Any], note: EventNote) -> str:
    """One event's detail: a short line plus, for bulky payloads, a collapsible block."""
    kind = e.get("type")
    attempt = f"attempt {note.attempt}"
    if note.fallback:
        return esc(f"info: {note.fallback} (expected; not a model error)")
    if kind == "llm_request":
        msgs = [(str(m.get("role")), str(m.get("content", ""))) for m in e.get("messages") or []]
        blocks = "".join(details(f"{r} ({len(t)} chars)", pre(t)) for r, t in msgs)
        retry = f", HTTP retry {e['attempt']}" if int(e.get("attempt") or 1) > 1 else ""
        return esc(f"request to {e.get('model')} ({e.get('mode')}, {attempt}{retry})") + blocks
    if kind == "llm_response":
        line = f"response, {attempt}: {e.get('prompt_tokens')} + {e.get('completion_tokens')} "
        line += f"tok, {latency_label(e)}, {e.get('mode')}, {e.get('finish_reason')}"
        return details(line, pre(e.get("content") or ""))
    if kind == "llm_error":
        return esc(f"model error, {attempt}: {e.get('status') or ''} {e.get('error')}")
    if kind == "reask":
        return esc(f"{attempt} was invalid; re-asking:") + ul(e.get("errors") or [])
    if kind == "structured_failed":
        head = f"still invalid after {e.get('attempts')} attempt(s):"
        return esc(head) + ul(e.get("errors") or [])
    if kind == "decision":
        parts = [e.get("decision") or e.get("outcome"), e.get("reason")]
        parts += [f"failing: {', '.join(e['failing'])}" if e.get("failing") else None]
        parts += list(e.get("notes") or []) + list(e.get("refused") or [])
        return "<b>" + esc(parts[0]) + "</b> " + esc("; ".join(str(p) for p in parts[1:] if p))
    if kind == "verdict":
        score = "—" if e.get("score") is None else f"{float(e['score']):.2f}"
        line = f"{verdict_state(e)} (score {score}): {verdict_reason(e)} — "
        return esc(line + f"summary: {summary_line(e.get('summary'))}")
    if kind == "commit":
        return esc(f"{e.get('status')} {e.get('name')} {e.get('content_hash')}")
    if kind in ("ledger", "verified"):
        bulky = {k: e[k] for k in ("ledger", "fields", "provenance", "statuses") if e.get(k)}
        return esc(event_line(e)) + "".join(details(k, pre(v)) for k, v in bulky.items())
    rest = {k: v for k, v in e.items() if k not in _SKIP}
    bulky = {k: v for k, v in rest.items() if isinstance(v, dict | list) or len(str(v)) > 120}
    line = ", ".join(f"{k}={js(v)}" for k, v in rest.items() if k not in bulky)
    return esc(line) + "".join(details(k, pre(v)) for k, v in bulky.items())


def timeline(events: list[dict[str, Any]]) -> str:
    notes = event_notes(events)
    rows = [
        f"<td>{esc(e.get('seq'))}</td><td>{esc(str(e.get('ts', ''))[11:23])}</td>"
        f"<td>{esc(e.get('node'))}</td><td>{esc(_type_label(e, n))}</td>"
        f"<td>{event_detail(e, n)}</td>"
        for e, n in zip(events, notes, strict=True)
    ]
    row_attrs = [
        f"{attrs(str(e.get('node')), 'event info' if n.fallback else 'event')} "
        f'id="ev-{esc(e.get("seq"))}" data-type="{esc(e.get("type"))}"'
        for e, n in zip(events, notes, strict=True)
    ]
    body = table(("#", "time", "node", "type", "detail"), rows, row_attrs)
    return f'<section id="timeline"><h2>Timeline</h2>{body}</section>'


def filters(events: list[dict[str, Any]]) -> str:
    nodes = list(dict.fromkeys(str(e.get("node")) for e in events))
    critics = list(dict.fromkeys(critic_of(n) for n in nodes if critic_of(n)))
    node_opts, critic_opts = (
        '<option value="">all</option>'
        + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        for values in (nodes, critics)
    )
    return (
        f'<nav id="filters"><label>node <select id="filter-node">{node_opts}</select></label>'
        f'<label>critic <select id="filter-critic">{critic_opts}</select></label>'
        '<button id="filter-reset" type="button">show all</button>'
        '<button id="expand-all" type="button" data-open="false">expand all</button>'
        '<span id="filter-count" class="muted"></span></nav>'
    )
