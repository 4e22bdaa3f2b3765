"""A run's transcript as one self-contained HTML page, for reviewers.

The page reads top to bottom the way a reviewer asks: the outcome and why, then **the
request** (the slice's prose, as the run used it, each grounded quote marked and linked to
its requirement), **the requirements** ledger (status, measured value, plan fields; what was
not honoured, with its quote: ``transcripts.ledger_html``), **the plan** with each field's
source (pinned, ``request R3`` linked to its requirement, model, default; fields the planner
dropped), **the gate**, **the data** (validator
counts and findings), **the critics** (each verdict's state — blocking, pass, advisory,
abstained — with its reason, the model's one-line summary, every finding with why it did or
did not count, and the critic's prompt beside its answers), then decisions, re-asks and
fallbacks (the expected json_schema fallback is info), model use per node and every event.

A single file with inline CSS and vanilla JS, so it opens offline from a CI artifact or a pull
request. Every value is escaped (a transcript holds model output), a Content-Security-Policy
allows only this page's own style and script (by hash), and the output depends on its input
alone, so two exports of the same run are byte-identical. Rows carry ``data-node`` /
``data-critic`` and the filters in the page hide the rows of other nodes or critics.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from esdh_agent.transcripts.assets import CSS, JS
from esdh_agent.transcripts.diff import finding_key, outcome_line
from esdh_agent.transcripts.html_critics import critics_section
from esdh_agent.transcripts.html_events import filters, is_reask, listing, timeline, usage
from esdh_agent.transcripts.ledger_html import marked_prose, requirements_section, row_anchor
from esdh_agent.transcripts.ledger_view import run_ledger
from esdh_agent.transcripts.markup import attrs, details, esc, js, kv, pre, table, ul
from esdh_agent.transcripts.request import SliceText, plan_provenance, run_request

__all__ = ["render_run_html"]

_STATUS_CLASS = {"committed": "ok", "unchanged": "ok", "awaiting_approval": "wait"}
_GATE_LISTS = ("notes", "needs_approval", "refused")


def _header(record: dict[str, Any]) -> str:
    status = str(record.get("status") or "unknown")
    snap, llm = record.get("snapshot") or {}, record.get("llm") or {}
    approval, approval_text = record.get("approval") or {}, "none"
    if approval:
        verb = "approved" if approval.get("approved") else "rejected"
        approval_text = f"{verb} by {approval.get('by')} at {approval.get('at')}: "
        approval_text += str(approval.get("comment"))
    pairs = [
        ("slice", f'<span id="run-slice">{esc(record.get("slice_id"))}</span>'),
        ("revision", esc(record.get("revision"))),
        ("reason", f'<span id="run-reason">{esc(record.get("reason") or "—")}</span>'),
        ("snapshot", f'<span id="run-snapshot">{esc(snap.get("name") or "none")}</span>'),
        ("snapshot status", esc(snap.get("status") or "—")),
        ("content hash", f"<code>{esc(snap.get('content_hash') or '—')}</code>"),
        ("approval", f'<span id="run-approval">{esc(approval_text)}</span>'),
        ("llm", esc(f"{record.get('llm_mode')} ({record.get('cassette') or 'no cassette'})")),
        ("model use", esc(f"{llm.get('calls', 0)} calls, {llm.get('tokens', 0):,} tokens")),
        ("models", esc(", ".join(llm.get("models", [])) or "—")),
        ("started / ended", esc(f"{record.get('started_at')} / {record.get('ended_at') or '—'}")),
    ]
    if record.get("error"):
        pairs.append(("error", esc(record["error"])))
    badge = f'class="badge {_STATUS_CLASS.get(status, "")}" data-status="{esc(status)}"'
    return (
        f'<header><h1>Run <span id="run-id">{esc(record.get("run_id"))}</span> '
        f'<span id="run-status" {badge}>{esc(status)}</span></h1>'
        f'<p id="run-why">{esc(outcome_line(record))}</p>{kv(pairs, "run-header")}</header>'
    )


def _request(
    record: dict[str, Any], events: list[dict[str, Any]], fallback: SliceText | str | None
) -> tuple[str, set[str]]:
    """The request section, and the ids of the requirements whose quote it marked."""
    req = run_request(record, events, fallback)
    version = f" version {req.version}" if req.version else ""
    head = f"slice {req.slice_id}{version} — {req.source}"
    view = run_ledger(record, events)
    located: set[str] = set()
    if req.prose and view is not None:
        text, located = marked_prose(req.prose, view)
        body = f'<blockquote id="request-prose">{text}</blockquote>'
    elif req.prose:
        body = f'<blockquote id="request-prose">{esc(req.prose)}</blockquote>'
    else:
        body = (
            '<p id="request-prose" class="muted">The slice\'s prose is not in this transcript.</p>'
        )
    section = (
        f'<section id="request"><h2>Request</h2><p class="muted" id="request-source">'
        f"{esc(head)}</p>{body}</section>"
    )
    return section, located


def _source(source: str, ids: tuple[str, ...]) -> str:
    """A plan field's source cell: ``request R3, R4`` links to the requirements' rows."""
    if not ids:
        return f'<td class="src-{esc(source.split(",")[0])}">{esc(source)}</td>'
    links = ", ".join(f'<a href="#{esc(row_anchor(i))}">{esc(i)}</a>' for i in ids)
    return f'<td class="src-request">request {links}</td>'


def _plan(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    prov = plan_provenance(record, events)
    rows = [
        f"<td>{esc(f.name)}</td><td><code>{esc(js(f.value))}</code></td>"
        + _source(f.source, f.requirements)
        for f in prov.fields
    ]
    row_attrs = [f'id="plan-{esc(f.name)}" data-source="{esc(f.source)}"' for f in prov.fields]
    out = ['<section id="plan"><h2>Plan</h2>']
    if rows:
        out.append(table(("field", "value", "source"), rows, row_attrs))
    else:
        out.append("<p>No plan was resolved.</p>")
    if prov.dropped:
        out.append(
            f'<p id="plan-dropped">dropped from the planner\'s proposal (revision '
            f"{esc(prov.revision)}) as invalid: <b>{esc(', '.join(prov.dropped))}</b></p>"
            + ul(prov.errors)
        )
    for e in (e for e in events if e.get("type") == "proposal"):
        state = "valid" if e.get("valid") else f"invalid, dropped {js(e.get('dropped'))}"
        pairs = [("attempts / mode", esc(f"{e.get('attempts')} / {e.get('mode')}"))]
        pairs += [("errors", ul(e.get("errors") or [])), ("proposal", pre(e.get("proposal")))]
        title = f"Revision {e.get('revision')}: the planner's proposal, {state}"
        out.append(
            f'<div {attrs("planner")} id="proposal-r{esc(e.get("revision"))}">'
            f"{details(title, kv(pairs))}</div>"
        )
    return "".join(out) + "</section>"


def _gate(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    out = ['<section id="gate"><h2>Policy gate</h2>']
    for e in events:
        if e.get("node") == "policy_gate" and e.get("type") == "decision":
            pairs = [("outcome", esc(e.get("outcome")))]
            pairs += [(k.replace("_", " "), ul(e.get(k) or [])) for k in _GATE_LISTS]
            out.append(f'<div {attrs("policy_gate")} id="gate-{esc(e.get("seq"))}">')
            out.append(f"{kv(pairs)}</div>")
        elif e.get("type") == "gate" and e.get("node") == "policy_gate":
            out.append(f'<p {attrs("policy_gate")} id="gate-message">{esc(e.get("message"))}</p>')
            if e.get("resume_command"):
                command = esc(e["resume_command"])
                out.append(f'<p>resume with: <code id="gate-resume">{command}</code></p>')
        elif e.get("type") == "approval":
            verb = "approved" if e.get("approved") else "rejected"
            who = f"{verb} by {e.get('by')}: {e.get('comment')}"
            out.append(f"<p {attrs('policy_gate')}>{esc(who)}</p>")
    awaiting = record.get("awaiting")
    if awaiting and record.get("status") == "awaiting_approval":
        out.append(f"<p><b>Waiting for approval:</b></p>{ul(awaiting.get('reasons', []))}")
    if len(out) == 1:
        out.append("<p>The gate did not decide in this run.</p>")
    return "".join(out) + "</section>"


def _validation(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    counts = record.get("validation") or {}
    out = ['<section id="validation"><h2>Data</h2>']
    if counts:
        out.append(
            f'<p id="validation-counts">validator: {esc(counts.get("errors"))} error(s), '
            f"{esc(counts.get('warnings'))} warning(s) over {esc(js(counts.get('rows')))}</p>"
        )
    results = [e for e in events if e.get("node") == "validate" and e.get("type") == "tool_result"]
    for i, e in enumerate(results):
        rows = [
            f"<td>{esc(f.get('severity'))}</td><td>{esc(f.get('rule'))}</td>"
            f"<td>{esc(f.get('entity'))}.{esc(f.get('field'))}</td>"
            f'<td class="num">{esc(f.get("count"))}</td><td>{esc(f.get("message"))}</td>'
            f"<td>{esc('; '.join(f.get('samples') or [])[:300])}</td>"
            for f in sorted(e.get("findings") or [], key=finding_key)
        ]
        head = ("severity", "rule", "where", "rows", "message", "samples")
        title = f"Validation {i + 1}: {js(e.get('summary'))}, {e.get('rules')} rules"
        out.append(f"<div {attrs('validate')}><h3>{esc(title)}</h3>{table(head, rows)}</div>")
    if len(out) == 1:
        out.append("<p>Nothing was validated in this run.</p>")
    return "".join(out) + "</section>"


def render_run_html(
    record: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    request: SliceText | str | None = None,
) -> str:
    """One self-contained, deterministic HTML page for a run's ``run.json`` and transcript.

    ``request`` is the slice's prose from the workspace (``transcripts.request.slice_prose``),
    shown only when the transcript does not hold the prose itself (a run the gate refused
    before the planner was asked).
    """
    style, script = (
        "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        for text in (CSS, JS)
    )
    csp = (
        f"default-src 'none'; style-src '{style}'; script-src '{script}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    title = f"ESDH run {record.get('run_id')} — {record.get('status')}"
    decisions = {"decision", "approval", "commit"}
    request_html, located = _request(record, events, request)
    sections = (
        _header(record),
        filters(events),
        "<main>",
        request_html,
        requirements_section(record, events, located),
        _plan(record, events),
        _gate(record, events),
        _validation(record, events),
        critics_section(events),
        listing("decisions", "Decisions", events, lambda e: e.get("type") in decisions),
        listing("reasks", "Re-asks, fallbacks and model errors", events, is_reask),
        usage(events),
        timeline(events),
        "</main>",
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}<script>{JS}</script></body></html>\n"
    )
