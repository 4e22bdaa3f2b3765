"""The run page's critics: one card per critic and revision, the verdict explained.

A card reads like an evaluation viewer's row: the verdict's state (blocking, pass, advisory,
abstained) and the reason it has that state, the model's summary on one line (or "unusable
answer"), every finding with its status and why it did or did not count, and — side by side —
the prompt the critic got and the answers it gave (numbered by attempt).
"""

from __future__ import annotations

from typing import Any

from esdh_agent.agents.models import (
    UNUSABLE,
    one_line,
    summary_line,
    verdict_reason,
    verdict_state,
)
from esdh_agent.transcripts.diff import critic_of, finding_key
from esdh_agent.transcripts.events import critic_exchanges, event_notes, fallback_text
from esdh_agent.transcripts.markup import attrs, details, esc, pre, slug, table, ul

__all__ = ["STATE_RANK", "STATE_WHY", "critics_section"]

STATE_RANK = {"blocking": 0, "advisory": 1, "abstained": 2, "pass": 3}
"""Cards of a revision in this order: what stopped the run first, plain passes last."""
_BADGE = {"blocking": "", "advisory": "wait", "abstained": "mute", "pass": "ok"}
STATE_WHY = {
    "blocking": "blocks",
    "advisory": "does not count",
    "abstained": "abstained",
    "pass": "passes",
}
"""What each state means for the run, put before its reason on every view."""


def _exchange(calls: list[dict[str, Any]], attempts: dict[int, int | None]) -> str:
    """The critic's prompt (input) beside its answers (output), collapsed."""
    prompt = next(
        (
            str(m.get("content", ""))
            for e in calls
            if e.get("type") == "llm_request"
            for m in e.get("messages") or []
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    answers = []
    for e in calls:
        if e.get("type") == "llm_response":
            head = f"attempt {attempts.get(id(e)) or '?'} ({e.get('completion_tokens')} tok)"
            answers.append(details(head, pre(e.get("content") or "")))
        elif str(e.get("type", "")).startswith("mode_"):
            answers.append(f'<p class="muted">info: {esc(fallback_text(e))}</p>')
        elif e.get("type") in ("reask", "refused"):
            answers.append(ul(e.get("errors") or [e.get("refusal")]))
    if not prompt and not answers:
        return ""
    left = details(f"input: the prompt ({len(prompt)} chars)", pre(prompt)) if prompt else ""
    right = "".join(answers) or '<p class="muted">no answer</p>'
    return f'<div class="exchange"><div>{left}</div><div><b>output</b>{right}</div></div>'


def _card(
    rev: int, v: dict[str, Any], calls: list[dict[str, Any]], attempts: dict[int, int | None]
) -> str:
    """One critic's verdict on one revision: state and reason, summary, findings, exchange."""
    name = str(v.get("critic") or critic_of(str(v.get("node"))))
    state = verdict_state(v)
    score = "—" if v.get("score") is None else f"{float(v['score']):.2f}"
    ordered = sorted(v.get("findings") or [], key=finding_key)
    rows = [
        f"<td>{'BLOCKING' if f.get('blocking') else ''}</td><td>{esc(f.get('status'))}</td>"
        f"<td>{esc(f.get('severity'))}</td><td>{esc(f.get('rule'))} {esc(f.get('field'))}</td>"
        f"<td>{esc(f.get('message'))}</td><td>{esc(f.get('reason'))}</td>"
        for f in ordered
    ]
    row_attrs = [
        f'class="finding{" blocking" if f.get("blocking") else ""}" '
        f'data-status="{esc(f.get("status"))}"'
        for f in ordered
    ]
    head = ("", "status", "severity", "rule", "message", "why it did or did not count")
    body = table(head, rows, row_attrs) if rows else '<p class="muted">no findings</p>'
    if v.get("errors"):
        body += ul(v["errors"])
    if v.get("suggested_changes"):
        body += details("suggested changes (never applied directly)", pre(v["suggested_changes"]))
    line, whose = summary_line(v.get("summary")), "model's " if v.get("kind") != "rules" else ""
    summary = f"<p>{esc(whose)}summary: {esc(line)}</p>"
    if line == UNUSABLE:
        raw = one_line(v.get("summary"), 400) or "(empty)"
        summary = f'<p class="muted">{esc(whose)}summary: <b>unusable answer</b></p>'
        summary += details("what the model wrote", pre(raw))
    ident = f"verdict-r{rev}-{slug(name)}"
    return (
        f'<div {attrs(f"critic:{name}", f"card {state}")} id="{ident}" '
        f'data-revision="{rev}" data-state="{state}"><b>{esc(name)}</b> '
        f'<span class="badge {_BADGE[state]}">{esc(state)}</span> score {esc(score)} '
        f"(threshold {esc(v.get('threshold'))})"
        f'<p class="reason" id="{ident}-reason">{esc(STATE_WHY[state])}: '
        f"{esc(verdict_reason(v))}</p>"
        f"{summary}{body}"
        f"{_exchange(calls, attempts)}</div>"
    )


def critics_section(events: list[dict[str, Any]]) -> str:
    """Every revision's verdicts, blocking first."""
    exchanges = critic_exchanges(events)
    attempts = {id(e): n.attempt for e, n in zip(events, event_notes(events), strict=True)}
    verdicts = [(i, e) for i, e in enumerate(events) if e.get("type") == "verdict"]
    out = ['<section id="critics"><h2>Critics</h2>']
    for rev in sorted({int(v.get("revision") or 0) for _, v in verdicts}):
        current = [(i, v) for i, v in verdicts if int(v.get("revision") or 0) == rev]
        current.sort(key=lambda iv: STATE_RANK[verdict_state(iv[1])])
        cards = "".join(_card(rev, v, exchanges.get(i, []), attempts) for i, v in current)
        out.append(f'<h3 id="critics-r{rev}">Revision {rev}</h3><div class="cards">{cards}</div>')
    if not verdicts:
        out.append("<p>No critic judged this run.</p>")
    return "".join(out) + "</section>"
