"""A run's transcript as one self-contained HTML page, for reviewers.

Why a run committed, was refused or paused — header, plan and proposals, gate notes,
validator findings, every critic's verdict per revision (blocking findings first), re-asks,
model calls, decisions and model use per node — in a single file with inline CSS and vanilla
JS, so it opens offline from a CI artifact or a pull request. Every value is escaped (a
transcript holds model output), a Content-Security-Policy allows only this page's own style
and script (by hash), and the output depends on the input alone, so two exports of the same
run are byte-identical. Rows carry ``data-node`` / ``data-critic`` and the filters in the
page hide the rows of other nodes or critics.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterable
from itertools import zip_longest
from typing import Any

from esdh_agent.agents.models import verdict_state
from esdh_agent.transcripts.diff import (
    USAGE_KEYS,
    critic_of,
    finding_key,
    node_usage,
    outcome_line,
)

__all__ = ["render_run_html"]

_STATUS_CLASS = {"committed": "ok", "unchanged": "ok", "awaiting_approval": "wait"}
_SKIP = ("seq", "ts", "run_id", "node", "type")
_GATE_LISTS = ("notes", "needs_approval", "refused")
_REASK_KINDS = {"reask", "structured_failed", "mode_rejected", "llm_error"}
_BADGE = {"FAIL": ("fail", ""), "abstained": ("abstain", "mute"), "pass": ("pass", "ok")}

_CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--wait:#9a6700;--mute:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328}
header,main{padding:0 24px}header{background:var(--bg);border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0;padding:16px 0 4px}h2{font-size:17px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff;
background:var(--bad)}.badge.ok{background:var(--ok)}.badge.wait{background:var(--wait)}
.badge.mute{background:var(--mute)}#run-why{font-size:15px;margin:6px 0 12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 16px}
dt{color:var(--mute)}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:var(--bg)}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:var(--bg);padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;
word-break:break-word;margin:4px 0}code{font-size:12px}
#filters{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);
padding:8px 24px;z-index:1;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
.card{border:1px solid var(--line);border-left:5px solid var(--ok);padding:8px 12px}
.card.fail{border-left-color:var(--bad)}.card.abstain{border-left-color:var(--mute)}
.card td:nth-child(5){width:40%}.blocking td{background:#ffebe9}.muted{color:var(--mute)}
ul{margin:4px 0;padding-left:20px}
"""

_JS = """(function () {
  var node = document.getElementById('filter-node');
  var critic = document.getElementById('filter-critic');
  function apply() {
    var n = node.value, c = critic.value, shown = 0;
    document.querySelectorAll('.filterable').forEach(function (el) {
      var en = el.getAttribute('data-node'), ec = el.getAttribute('data-critic');
      el.hidden = (n !== '' && en !== n) || (c !== '' && ec !== '' && ec !== c);
      if (!el.hidden && el.classList.contains('event')) { shown += 1; }
    });
    document.getElementById('filter-count').textContent = shown + ' event(s) shown';
  }
  node.addEventListener('change', apply);
  critic.addEventListener('change', apply);
  document.getElementById('filter-reset').addEventListener('click', function () {
    node.value = ''; critic.value = ''; apply();
  });
  document.getElementById('expand-all').addEventListener('click', function () {
    var open = this.getAttribute('data-open') !== 'true';
    document.querySelectorAll('details').forEach(function (d) { d.open = open; });
    this.setAttribute('data-open', String(open));
    this.textContent = open ? 'collapse all' : 'expand all';
  });
  apply();
})();"""


def _e(value: object) -> str:
    """Escape any value for text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _j(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _pre(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre><code>{_e(text)}</code></pre>"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{_e(summary)}</summary>{body}</details>"


def _ul(items: Iterable[object]) -> str:
    lis = "".join(f"<li>{_e(i)}</li>" for i in items)
    return f"<ul>{lis}</ul>" if lis else '<span class="muted">none</span>'


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _attrs(node: str, extra: str = "") -> str:
    """The filter attributes of an element that belongs to ``node``."""
    cls = f"filterable {extra}".strip()
    return f'class="{_e(cls)}" data-node="{_e(node)}" data-critic="{_e(critic_of(node))}"'


def _table(head: Iterable[str], rows: list[str], attrs: Iterable[str] = ()) -> str:
    heads = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(f"<tr {a}>{r}</tr>" for r, a in zip_longest(rows, attrs, fillvalue="") if r)
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs: Iterable[tuple[str, str]], ident: str = "") -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    ident_attr = f' id="{_e(ident)}"' if ident else ""
    return f'<dl class="kv"{ident_attr}>{items}</dl>'


def _header(record: dict[str, Any]) -> str:
    status = str(record.get("status") or "unknown")
    snap, llm = record.get("snapshot") or {}, record.get("llm") or {}
    approval, approval_text = record.get("approval") or {}, "none"
    if approval:
        verb = "approved" if approval.get("approved") else "rejected"
        approval_text = f"{verb} by {approval.get('by')} at {approval.get('at')}: "
        approval_text += str(approval.get("comment"))
    pairs = [
        ("slice", f'<span id="run-slice">{_e(record.get("slice_id"))}</span>'),
        ("revision", _e(record.get("revision"))),
        ("reason", f'<span id="run-reason">{_e(record.get("reason") or "—")}</span>'),
        ("snapshot", f'<span id="run-snapshot">{_e(snap.get("name") or "none")}</span>'),
        ("snapshot status", _e(snap.get("status") or "—")),
        ("content hash", f"<code>{_e(snap.get('content_hash') or '—')}</code>"),
        ("approval", f'<span id="run-approval">{_e(approval_text)}</span>'),
        ("llm", _e(f"{record.get('llm_mode')} ({record.get('cassette') or 'no cassette'})")),
        ("model use", _e(f"{llm.get('calls', 0)} calls, {llm.get('tokens', 0):,} tokens")),
        ("models", _e(", ".join(llm.get("models", [])) or "—")),
        ("started / ended", _e(f"{record.get('started_at')} / {record.get('ended_at') or '—'}")),
    ]
    if record.get("error"):
        pairs.append(("error", _e(record["error"])))
    badge = f'class="badge {_STATUS_CLASS.get(status, "")}" data-status="{_e(status)}"'
    return (
        f'<header><h1>Run <span id="run-id">{_e(record.get("run_id"))}</span> '
        f'<span id="run-status" {badge}>{_e(status)}</span></h1>'
        f'<p id="run-why">{_e(outcome_line(record))}</p>{_kv(pairs, "run-header")}</header>'
    )


def _plan(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    plan = record.get("plan") or {}
    rows = [f"<td>{_e(k)}</td><td><code>{_e(_j(v))}</code></td>" for k, v in plan.items()]
    out = ['<section id="plan"><h2>Plan</h2>']
    out.append(_table(("field", "value"), rows) if rows else "<p>No plan was resolved.</p>")
    if record.get("planner"):
        out.append(f'<p class="muted">planner: {_e(_j(record["planner"]))}</p>')
    for e in (e for e in events if e.get("type") == "proposal"):
        state = "valid" if e.get("valid") else f"invalid, dropped {_j(e.get('dropped'))}"
        pairs = [("attempts / mode", _e(f"{e.get('attempts')} / {e.get('mode')}"))]
        pairs += [("errors", _ul(e.get("errors") or [])), ("proposal", _pre(e.get("proposal")))]
        out.append(
            f'<div {_attrs("planner")} id="proposal-r{_e(e.get("revision"))}">'
            f"<h3>Revision {_e(e.get('revision'))}: proposal {_e(state)}</h3>{_kv(pairs)}</div>"
        )
    return "".join(out) + "</section>"


def _gate(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    out = ['<section id="gate"><h2>Policy gate</h2>']
    for e in events:
        if e.get("node") == "policy_gate" and e.get("type") == "decision":
            pairs = [("outcome", _e(e.get("outcome")))]
            pairs += [(k.replace("_", " "), _ul(e.get(k) or [])) for k in _GATE_LISTS]
            out.append(f'<div {_attrs("policy_gate")} id="gate-{_e(e.get("seq"))}">')
            out.append(f"{_kv(pairs)}</div>")
        elif e.get("type") == "approval":
            verb = "approved" if e.get("approved") else "rejected"
            who = f"{verb} by {e.get('by')}: {e.get('comment')}"
            out.append(f"<p {_attrs('policy_gate')}>{_e(who)}</p>")
    awaiting = record.get("awaiting")
    if awaiting and record.get("status") == "awaiting_approval":
        out.append(f"<p><b>Waiting for approval:</b></p>{_ul(awaiting.get('reasons', []))}")
    if len(out) == 1:
        out.append("<p>The gate did not decide in this run.</p>")
    return "".join(out) + "</section>"


def _validation(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    counts = record.get("validation") or {}
    out = ['<section id="validation"><h2>Validator</h2>']
    if counts:
        out.append(
            f'<p id="validation-counts">{_e(counts.get("errors"))} error(s), '
            f"{_e(counts.get('warnings'))} warning(s) over {_e(_j(counts.get('rows')))}</p>"
        )
    results = [e for e in events if e.get("node") == "validate" and e.get("type") == "tool_result"]
    for i, e in enumerate(results):
        rows = [
            f"<td>{_e(f.get('severity'))}</td><td>{_e(f.get('rule'))}</td>"
            f"<td>{_e(f.get('entity'))}.{_e(f.get('field'))}</td>"
            f'<td class="num">{_e(f.get("count"))}</td><td>{_e(f.get("message"))}</td>'
            f"<td>{_e('; '.join(f.get('samples') or [])[:300])}</td>"
            for f in sorted(e.get("findings") or [], key=finding_key)
        ]
        head = ("severity", "rule", "where", "rows", "message", "samples")
        title = f"Validation {i + 1}: {_j(e.get('summary'))}, {e.get('rules')} rules"
        out.append(f"<div {_attrs('validate')}><h3>{_e(title)}</h3>{_table(head, rows)}</div>")
    if len(out) == 1:
        out.append("<p>Nothing was validated in this run.</p>")
    return "".join(out) + "</section>"


def _card(rev: int, v: dict[str, Any]) -> str:
    """One critic's verdict on one revision: state, score, summary, findings (blocking first)."""
    name = str(v.get("critic") or critic_of(str(v.get("node"))))
    state = verdict_state(v)
    kind, badge = _BADGE[state]
    score = "—" if v.get("score") is None else f"{float(v['score']):.2f}"
    ordered = sorted(v.get("findings") or [], key=finding_key)
    rows = [
        f"<td>{'BLOCKING' if f.get('blocking') else ''}</td><td>{_e(f.get('status'))}</td>"
        f"<td>{_e(f.get('severity'))}</td><td>{_e(f.get('rule'))} {_e(f.get('field'))}</td>"
        f"<td>{_e(f.get('message'))}</td><td>{_e(f.get('reason'))}</td>"
        for f in ordered
    ]
    attrs = [
        f'class="finding{" blocking" if f.get("blocking") else ""}" '
        f'data-status="{_e(f.get("status"))}"'
        for f in ordered
    ]
    head = ("", "status", "severity", "rule", "message", "reason")
    body = _table(head, rows, attrs) if rows else '<p class="muted">no findings</p>'
    if v.get("errors"):
        body += _ul(v["errors"])
    if v.get("suggested_changes"):
        body += _details("suggested changes", _pre(v["suggested_changes"]))
    return (
        f'<div {_attrs(f"critic:{name}", f"card {kind}")} id="verdict-r{rev}-{_slug(name)}" '
        f'data-revision="{rev}" data-state="{kind}"><b>{_e(name)}</b> '
        f'<span class="badge {badge}">{_e(state)}</span> score {_e(score)} '
        f"(threshold {_e(v.get('threshold'))})<p>{_e(v.get('summary'))}</p>{body}</div>"
    )


def _critics(events: list[dict[str, Any]]) -> str:
    verdicts = [e for e in events if e.get("type") == "verdict"]
    out = ['<section id="critics"><h2>Critics</h2>']
    for rev in sorted({int(v.get("revision") or 0) for v in verdicts}):
        current = [v for v in verdicts if int(v.get("revision") or 0) == rev]
        current.sort(key=lambda v: (bool(v.get("passed")), bool(v.get("abstained"))))
        cards = "".join(_card(rev, v) for v in current)
        out.append(f'<h3 id="critics-r{rev}">Revision {rev}</h3><div class="cards">{cards}</div>')
    if not verdicts:
        out.append("<p>No critic judged this run.</p>")
    return "".join(out) + "</section>"


def _listing(ident: str, title: str, events: list[dict[str, Any]], kinds: set[str]) -> str:
    picked = [e for e in events if e.get("type") in kinds]
    rows = [
        f"<td>{_e(e.get('seq'))}</td><td>{_e(e.get('node'))}</td><td>{_e(e.get('type'))}</td>"
        f"<td>{_brief(e)}</td>"
        for e in picked
    ]
    attrs = [_attrs(str(e.get("node"))) for e in picked]
    body = _table(("#", "node", "type", "detail"), rows, attrs) if rows else "<p>None.</p>"
    return f'<section id="{_e(ident)}"><h2>{_e(title)}</h2>{body}</section>'


def _usage(events: list[dict[str, Any]]) -> str:
    per = node_usage(events)
    total = {k: sum(row[k] for row in per.values()) for k in USAGE_KEYS}

    def cells(node: str, row: dict[str, int]) -> str:
        nums = [row[k] for k in USAGE_KEYS[:6]] + [row["prompt"] + row["completion"]]
        tds = "".join(f'<td class="num">{n:,}</td>' for n in [*nums, row["latency_ms"]])
        return f"<td>{_e(node)}</td>{tds}"

    rows = [cells(node, row) for node, row in per.items()] + [cells("total", total)]
    attrs = [f'{_attrs(node)} id="usage-{_slug(node)}"' for node in per]
    head = ("node", "requests", "responses", "re-asks", "errors", "prompt tok", "completion tok")
    table = _table((*head, "total tok", "latency ms"), rows, attrs)
    return f'<section id="usage"><h2>Model use per node</h2>{table}</section>'


def _brief(e: dict[str, Any]) -> str:
    """One event's detail: a short line plus, for bulky payloads, a collapsible block."""
    kind = e.get("type")
    if kind == "llm_request":
        msgs = [(str(m.get("role")), str(m.get("content", ""))) for m in e.get("messages") or []]
        blocks = "".join(_details(f"{r} ({len(t)} chars)", _pre(t)) for r, t in msgs)
        line = f"request to {e.get('model')} ({e.get('mode')}, attempt {e.get('attempt')})"
        return _e(line) + blocks
    if kind == "llm_response":
        line = f"response {e.get('prompt_tokens')} + {e.get('completion_tokens')} tok, "
        line += f"{e.get('latency_ms')} ms, {e.get('mode')}, {e.get('finish_reason')}"
        return _details(line, _pre(e.get("content") or ""))
    if kind in ("reask", "structured_failed"):
        return _e(f"attempt {e.get('attempt') or e.get('attempts')}:") + _ul(e.get("errors") or [])
    if kind == "mode_rejected":
        return _e(f"server rejected {e.get('mode')}; next {e.get('next_mode')}")
    if kind == "decision":
        parts = [e.get("decision") or e.get("outcome"), e.get("reason")]
        parts += [f"failing: {', '.join(e['failing'])}" if e.get("failing") else None]
        parts += list(e.get("notes") or []) + list(e.get("refused") or [])
        return "<b>" + _e(parts[0]) + "</b> " + _e("; ".join(str(p) for p in parts[1:] if p))
    if kind == "verdict":
        score = "—" if e.get("score") is None else f"{float(e['score']):.2f}"
        findings = len(e.get("findings") or [])
        return _e(f"{verdict_state(e)} score {score}: {e.get('summary')} ({findings} finding(s))")
    if kind == "commit":
        return _e(f"{e.get('status')} {e.get('name')} {e.get('content_hash')}")
    rest = {k: v for k, v in e.items() if k not in _SKIP}
    bulky = {k: v for k, v in rest.items() if isinstance(v, dict | list) or len(str(v)) > 120}
    line = ", ".join(f"{k}={_j(v)}" for k, v in rest.items() if k not in bulky)
    return _e(line) + "".join(_details(k, _pre(v)) for k, v in bulky.items())


def _timeline(events: list[dict[str, Any]]) -> str:
    rows = [
        f"<td>{_e(e.get('seq'))}</td><td>{_e(str(e.get('ts', ''))[11:23])}</td>"
        f"<td>{_e(e.get('node'))}</td><td>{_e(e.get('type'))}</td><td>{_brief(e)}</td>"
        for e in events
    ]
    ids = [f'id="ev-{_e(e.get("seq"))}" data-type="{_e(e.get("type"))}"' for e in events]
    attrs = [f"{_attrs(str(e.get('node')), 'event')} {i}" for e, i in zip(events, ids, strict=True)]
    table = _table(("#", "time", "node", "type", "detail"), rows, attrs)
    return f'<section id="timeline"><h2>Timeline</h2>{table}</section>'


def _filters(events: list[dict[str, Any]]) -> str:
    nodes = list(dict.fromkeys(str(e.get("node")) for e in events))
    critics = list(dict.fromkeys(critic_of(n) for n in nodes if critic_of(n)))
    node_opts, critic_opts = (
        '<option value="">all</option>'
        + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
        for values in (nodes, critics)
    )
    return (
        f'<nav id="filters"><label>node <select id="filter-node">{node_opts}</select></label>'
        f'<label>critic <select id="filter-critic">{critic_opts}</select></label>'
        '<button id="filter-reset" type="button">show all</button>'
        '<button id="expand-all" type="button" data-open="false">expand all</button>'
        '<span id="filter-count" class="muted"></span></nav>'
    )


def render_run_html(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """One self-contained, deterministic HTML page for a run's ``run.json`` and transcript."""
    style, script = (
        "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        for text in (_CSS, _JS)
    )
    csp = (
        f"default-src 'none'; style-src '{style}'; script-src '{script}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    title = f"ESDH run {record.get('run_id')} — {record.get('status')}"
    sections = (
        _header(record),
        _filters(events),
        "<main>",
        _listing("decisions", "Decisions", events, {"decision", "approval", "commit"}),
        _plan(record, events),
        _gate(record, events),
        _validation(record, events),
        _critics(events),
        _listing("reasks", "Re-asks and model errors", events, _REASK_KINDS),
        _usage(events),
        _timeline(events),
        "</main>",
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(sections)}<script>{_JS}</script></body></html>\n"
    )
