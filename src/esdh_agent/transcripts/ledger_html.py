"""The run page's request-first view: the prose with every grounded quote marked, and the
requirements ledger table each mark links to (and back).

The prose is cut at every quote's edge (``ledger_view.prose_segments``), so overlapping
quotes never nest badly: each piece is one ``<mark>`` naming every requirement covering it
(``data-reqs``) and linking to the innermost one's row (``#req-R2``); where a quote ends, a
small ``R2`` tag links to its row too and is the anchor (``#q-R2``) the row links back to.
Quotes no requirement covers (not supported) are marked as well and link to their line
under "Not honoured". Every piece of text is escaped after the cut, so no quote can break an
entity or smuggle markup. Rows carry ``data-status`` for the page's status filter and
``data-node="ground"`` / ``data-critic="request"`` for its node and critic filters.
"""

from __future__ import annotations

from typing import Any

from esdh_agent.ledger.model import Requirement
from esdh_agent.transcripts.ledger_view import (
    STATUS_LABEL,
    LedgerView,
    Span,
    ledger_note,
    not_honoured,
    prose_segments,
    prose_spans,
    run_ledger,
    show_value,
    unhonoured_warning,
)
from esdh_agent.transcripts.markup import esc, table, ul

__all__ = ["marked_prose", "requirements_section", "row_anchor"]

_ROW = "req-"
_QUOTE = "q-"
_UNSUPPORTED = "unsup-"


def row_anchor(ident: str) -> str:
    """The id of a requirement's row (``req-R3``), or of an uncovered sentence's line."""
    return f"{_UNSUPPORTED if ident.startswith('U') else _ROW}{ident}"


def _title(span: Span, view: LedgerView) -> str:
    req = view.ledger.get(span.ident)
    if req is None:
        return f"{span.ident}: not supported (no requirement reads these words)"
    return f"{req.id} {req.label()}: {STATUS_LABEL[req.status]}"


def marked_prose(prose: str, view: LedgerView) -> tuple[str, set[str]]:
    """The prose as markup, each grounded quote marked; and the ids whose quote was found."""
    spans = prose_spans(prose, view)
    out = []
    for seg in prose_segments(prose, spans):
        text = esc(seg.text)
        if seg.spans:
            inner = seg.spans[0]
            ids = " ".join(s.ident for s in seg.spans)
            title = "; ".join(_title(s, view) for s in seg.spans)
            text = (
                f'<mark class="req st-{esc(inner.status)}" data-reqs="{esc(ids)}" '
                f'title="{esc(title)}"><a href="#{esc(row_anchor(inner.ident))}">{text}</a></mark>'
            )
        tags = "".join(
            f'<a class="req-tag st-{esc(s.status)}" id="{_QUOTE}{esc(s.ident)}" '
            f'href="#{esc(row_anchor(s.ident))}">{esc(s.ident)}</a>'
            for s in sorted(seg.ends, key=lambda s: s.ident)
        )
        out.append(text + (f"<sup>{tags}</sup>" if tags else ""))
    return "".join(out), {s.ident for s in spans}


def _row(req: Requirement, view: LedgerView, located: set[str]) -> tuple[str, str]:
    back = (
        f' <a class="back" href="#{_QUOTE}{esc(req.id)}" title="to its words">↑</a>'
        if req.id in located
        else ""
    )
    where = "pinned" if req.source == "pinned" else ("" if req.id in located else "not found")
    quote = f"<q>{esc(req.quote)}</q>" + (f' <span class="muted">({where})</span>' if where else "")
    fields = ", ".join(req.plan_fields) or "—"
    cells = (
        f"<td><b>{esc(req.id)}</b>{back}</td><td>{quote}</td><td><code>{esc(req.label())}"
        f"</code></td><td>{esc(req.source)}</td>"
        f'<td class="status"><span class="st st-{esc(req.status)}">'
        f"{esc(STATUS_LABEL[req.status])}</span></td>"
        f'<td class="num">{esc(show_value(req.measured))}</td><td>{esc(req.detail)}</td>'
        f"<td>{esc(fields)}</td>"
    )
    row_attrs = (
        f'id="{_ROW}{esc(req.id)}" class="filterable req-row st-{esc(req.status)}" '
        f'data-node="ground" data-critic="request" data-status="{esc(req.status)}"'
    )
    return cells, row_attrs


def _status_filter(view: LedgerView) -> str:
    statuses = list(dict.fromkeys(r.status for r in view.ledger.requirements))
    options = '<option value="">all</option>' + "".join(
        f'<option value="{esc(s)}">{esc(STATUS_LABEL[s])}</option>' for s in statuses
    )
    return (
        '<p class="muted"><label>status <select id="filter-req-status">'
        f"{options}</select></label></p>"
    )


def _lists(view: LedgerView) -> str:
    ledger, out = view.ledger, []
    missing = not_honoured(view)
    if missing:
        items = "".join(
            f'<li id="{esc(row_anchor(h.ident))}"><b>{esc(h.ident)}</b> <q>{esc(h.quote)}</q>: '
            f'<span class="st st-{"declined" if h.status == "declined" else "not_supported"}">'
            f"{esc(h.status)}</span> — {esc(h.why)}</li>"
            for h in missing
        )
        out.append(f'<h3>Not honoured</h3><ul id="not-honoured">{items}</ul>')
    for ident, title, lines in (
        ("ledger-refused", "Refused", view.refused),
        ("ledger-approval", "Needs approval", view.needs_approval),
    ):
        if lines:
            out.append(f'<h3>{esc(title)}</h3><div id="{ident}">{ul(lines)}</div>')
    if ledger.conflicts:
        items = "".join(
            f"<li><b>{esc(c.kept)}</b> kept over {esc(c.other.id)} <q>{esc(c.other.quote)}</q> "
            f"(<code>{esc(c.other.label())}</code>, {esc(c.other.source)}): {esc(c.reason)}</li>"
            for c in ledger.conflicts
        )
        out.append(f'<h3>Conflicts</h3><ul id="ledger-conflicts">{items}</ul>')
    if ledger.discarded:
        items = "".join(
            f"<li>{esc(d.target)} <q>{esc(d.quote)}</q> = <code>{esc(show_value(d.value))}"
            f"</code>: {esc(d.reason)}</li>"
            for d in ledger.discarded
        )
        out.append(f'<h3>Discarded model readings</h3><ul id="ledger-discarded">{items}</ul>')
    return "".join(out)


def requirements_section(
    record: dict[str, Any], events: list[dict[str, Any]], located: set[str]
) -> str:
    """The ledger table (or the one-line note of a run without a ledger), with what was not
    honoured, refused or needs approval, the conflicts and the discarded model readings.
    ``located`` are the ids whose quote the request section marked (their rows link back)."""
    view = run_ledger(record, events)
    if view is None:
        note = ledger_note(record, events)
        return (
            '<section id="requirements"><h2>Requirements</h2>'
            f'<p id="requirements-note" class="muted">{esc(note)}</p></section>'
        )
    built = [_row(r, view, located) for r in view.ledger.requirements]
    head = ("id", "quote", "reading", "source", "status", "measured", "detail", "plan fields")
    body = (
        table(head, [c for c, _ in built], [a for _, a in built])
        if built
        else '<p class="muted">No checkable requirement was read from the request.</p>'
    )
    warning = ""
    line = unhonoured_warning(view)
    if line and record.get("status") in ("committed", "unchanged"):
        warning = f'<p id="requirements-warning" class="warn">{esc(line)}</p>'

    stage = f"{view.stage}; {view.model_calls} model call(s) while grounding"
    return (
        f'<section id="requirements"><h2>Requirements</h2><p class="muted" '
        f'id="requirements-stage">{esc(stage)}</p>{warning}{_status_filter(view)}{body}'
        f"{_lists(view)}</section>"
    )
