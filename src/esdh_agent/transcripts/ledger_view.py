"""The request-first reading of a run: its requirements ledger, as every review view shows it.

A run grounds its request in a ledger (``docs/requests.md``): the ``ground`` event holds it
as grounded (with the plan fields it set and the policy's refusals, approvals and
declines), ``validate``'s ``verified`` events the statuses found on each revision's data, and
``run.json`` the ledger as far as the run got (verified, else as grounded). This module reads
those into one :class:`LedgerView` and derives what the terminal, JSON and HTML views share:

* the **spans** of the prose each requirement quotes (``prose_segments``): the prose cut at
  every quote's edge, so overlapping quotes ("600 commercial-line customers" and
  "commercial-line") become disjoint segments, each knowing every requirement covering it;
* what the run did **not honour** (not supported, declined, and checkable sentences no
  requirement covers), each with its quote;
* which requirements set each **plan field** (the grounding's provenance).

Runs recorded before requirements ledgers have neither a ``ground`` event nor a ``ledger``
key in ``run.json``: ``ledger_note`` says so in one line, and the views render as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from esdh_agent.ledger.model import Ledger, Requirement

__all__ = [
    "OLDER_NOTE",
    "STATUS_LABEL",
    "UNHONOURED",
    "Honour",
    "LedgerView",
    "Segment",
    "Span",
    "event_line",
    "field_requirements",
    "ledger_json",
    "ledger_note",
    "locate",
    "not_honoured",
    "prose_segments",
    "prose_spans",
    "run_ledger",
    "show_value",
    "unhonoured_warning",
]

OLDER_NOTE = "recorded before requirements ledgers"
"""The one line an older transcript (no ledger anywhere) shows where the ledger would be."""
NOT_GROUNDED = "none: the run stopped before its request was grounded"
UNHONOURED = ("not_supported", "declined")
"""Statuses of requirements a committed run went on without (``--strict`` exits 7)."""
STATUS_LABEL = {
    "pending": "pending",
    "met": "met",
    "unmet": "unmet",
    "not_supported": "not supported",
    "refused": "refused",
    "declined": "declined",
    "overridden": "overridden",
}


@dataclass(frozen=True)
class LedgerView:
    """A run's ledger with its latest statuses, and what the grounding decided about it."""

    ledger: Ledger
    stage: str
    provenance: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    needs_approval: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    model_calls: int = 0

    def unhonoured(self) -> list[Requirement]:
        return self.ledger.by_status(*UNHONOURED)


@dataclass(frozen=True)
class Honour:
    """One part of the request the run did not honour: ``ident`` is a requirement's id or,
    for checkable words no requirement covers, ``U1``, ``U2``…"""

    ident: str
    quote: str
    status: str
    why: str


@dataclass(frozen=True)
class Span:
    """Where one requirement (or uncovered sentence ``U1``…) quotes the prose."""

    ident: str
    start: int
    end: int
    status: str


@dataclass(frozen=True)
class Segment:
    """A run of prose text and the spans covering it, innermost first (empty: plain text);
    ``ends`` lists the spans that end with this segment."""

    text: str
    spans: tuple[Span, ...] = ()
    ends: tuple[Span, ...] = ()


def _events(events: list[dict[str, Any]], node: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("node") == node and e.get("type") == kind]


def _ledger(data: object) -> Ledger | None:
    if not isinstance(data, dict):
        return None
    try:
        return Ledger.model_validate(data)
    except ValidationError:
        return None


def _lines(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def run_ledger(record: dict[str, Any], events: list[dict[str, Any]]) -> LedgerView | None:
    """The run's ledger: ``run.json``'s (verified, else as grounded), else the ``ground``
    event's with the last ``verified`` event's statuses; ``None`` when the run has none."""
    grounds = _events(events, "ground", "ledger")
    ground = grounds[-1] if grounds else {}
    verified = _events(events, "validate", "verified")
    ledger = _ledger(record.get("ledger"))
    from_record = ledger is not None
    if ledger is None:
        ledger = _ledger(ground.get("ledger"))
    if ledger is None:
        return None
    if verified and not from_record:
        statuses = verified[-1].get("statuses") or {}
        ledger = ledger.model_copy(
            update={
                "requirements": [
                    r.model_copy(update={"status": statuses.get(r.id, r.status)})
                    for r in ledger.requirements
                ]
            }
        )
    if verified:
        stage = f"verified on the data of revision {verified[-1].get('revision', '?')}"
    elif ledger.by_status("met", "unmet"):
        stage = "verified on the data"
    else:
        stage = "as grounded (not verified on data)"
    provenance = ground.get("provenance")
    return LedgerView(
        ledger=ledger,
        stage=stage,
        provenance={str(k): _lines(v) for k, v in (provenance or {}).items()}
        if isinstance(provenance, dict)
        else {},
        fields=dict(ground.get("fields") or {}),
        refused=_lines(ground.get("refused")),
        needs_approval=_lines(ground.get("needs_approval")),
        declined=_lines(ground.get("declined")),
        unmet=_lines(verified[-1].get("unmet")) if verified else [],
        model_calls=int(ground.get("model_calls") or 0),
    )


def ledger_note(record: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """Why there is no ledger to show (``None`` when there is one): a run recorded before
    ledgers, or one that stopped before its request was grounded."""
    if run_ledger(record, events) is not None:
        return None
    if "ledger" in record or _events(events, "ground", "ledger"):
        return NOT_GROUNDED
    return OLDER_NOTE


def unhonoured_warning(view: LedgerView) -> str | None:
    """The warning a committed run shows when it went on without parts of its request."""
    parts = []
    if view.unhonoured():
        parts.append(f"{len(view.unhonoured())} requirement(s) not honoured (--strict exits 7)")
    if view.ledger.unsupported:
        parts.append(f"{len(view.ledger.unsupported)} sentence(s) not read as requirements")
    return "committed, but " + " and ".join(parts) + "; see Not honoured" if parts else None


def show_value(value: object) -> str:
    """A requirement's value or measurement, compactly (``0.6``, ``[21,70]``, ``—``)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ",".join(show_value(v) for v in value) + "]"
    return str(value)


def field_requirements(view: LedgerView | None, name: str) -> list[str]:
    """The ids of the requirements that set plan field ``name`` (or a part of it, such as
    ``edge_cases.hyphenated_names``), from the grounding's provenance."""
    if view is None:
        return []
    ids = [
        i
        for key, found in view.provenance.items()
        if key == name or key.startswith(f"{name}.")
        for i in found
    ]
    ids += [r.id for r in view.ledger.requirements if name in r.plan_fields]
    return list(dict.fromkeys(ids))


def not_honoured(view: LedgerView) -> list[Honour]:
    """Not supported and declined requirements, then the ledger's uncovered sentences."""
    out = [
        Honour(r.id, r.quote, STATUS_LABEL[r.status], r.detail or r.label())
        for r in view.unhonoured()
    ]
    out += [
        Honour(f"U{i}", u.quote, "not supported", u.reason)
        for i, u in enumerate(view.ledger.unsupported, 1)
    ]
    return out


def locate(
    prose: str, start: int, end: int, quote: str, *, unplaced: bool = False
) -> tuple[int, int] | None:
    """Where ``quote`` is in ``prose``: at its recorded offsets when they hold it, else the
    occurrence nearest to them (the views show the prose stripped of surrounding blank
    lines), else ``None`` (a pinned line, or prose that is not the one grounded). Offsets
    of -1 mean a pinned line, not prose, unless ``unplaced`` (an uncovered sentence recorded
    without offsets: its first occurrence)."""
    if not quote or (start < 0 and not unplaced):
        return None
    if prose[start:end] == quote:
        return start, end
    hits, at = [], prose.find(quote)
    while at >= 0:
        hits.append(at)
        at = prose.find(quote, at + 1)
    if not hits:
        return None
    best = min(hits, key=lambda i: abs(i - start))
    return best, best + len(quote)


def prose_spans(prose: str, view: LedgerView) -> list[Span]:
    """Every located quote: the requirements' (in ledger order), then uncovered sentences."""
    spans = []
    for r in view.ledger.requirements:
        found = locate(prose, r.start, r.end, r.quote)
        if found is not None:
            spans.append(Span(r.id, found[0], found[1], r.status))
    for i, u in enumerate(view.ledger.unsupported, 1):
        found = locate(prose, u.start, u.end, u.quote, unplaced=True)
        if found is not None:
            spans.append(Span(f"U{i}", found[0], found[1], "not_supported"))
    return spans


def prose_segments(prose: str, spans: list[Span]) -> list[Segment]:
    """``prose`` cut at every span's edge, each piece with the spans covering it (innermost,
    i.e. shortest, first; overridden readings last, as they do not stand) and the spans
    ending with it. Joined, the texts are ``prose``."""
    cuts = sorted({0, len(prose), *(s.start for s in spans), *(s.end for s in spans)})
    out = []
    for a, b in pairwise(cuts):
        covering = sorted(
            (s for s in spans if s.start <= a and s.end >= b),
            key=lambda s: (s.status == "overridden", s.end - s.start, s.start, s.ident),
        )
        ends = tuple(s for s in spans if s.end == b and s.start < b)
        out.append(Segment(prose[a:b], tuple(covering), ends))
    return out


def event_line(event: dict[str, Any]) -> str | None:
    """One line for a ``ground``/``ledger`` or ``validate``/``verified`` event (else None)."""
    kind = event.get("type")
    if kind == "ledger":
        ledger = _ledger(event.get("ledger"))
        count = len(ledger.requirements) if ledger else 0
        parts = [f"{count} requirement(s), {int(event.get('model_calls') or 0)} model call(s)"]
        for key in ("refused", "needs_approval", "declined"):
            if event.get(key):
                parts.append(f"{key.replace('_', ' ')}: {'; '.join(_lines(event[key]))}")
        return "; ".join(parts)
    if kind == "verified":
        statuses = event.get("statuses") or {}
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[str(status)] = counts.get(str(status), 0) + 1
        tally = ", ".join(f"{n} {STATUS_LABEL.get(s, s)}" for s, n in sorted(counts.items()))
        unmet = "; ".join(_lines(event.get("unmet")))
        line = f"revision {event.get('revision')}: {tally or 'nothing checked'}"
        return f"{line}; unmet: {unmet}" if unmet else line
    return None


def ledger_json(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ledger for ``--json``: its requirements with their statuses, what was not
    honoured, and which requirements set each plan field (or why there is no ledger)."""
    view = run_ledger(record, events)
    if view is None:
        return {"ledger": None, "note": ledger_note(record, events)}
    return {
        "stage": view.stage,
        "ledger": view.ledger.model_dump(mode="json"),
        "statuses": {r.id: r.status for r in view.ledger.requirements},
        "provenance": view.provenance,
        "not_honoured": [h.__dict__ for h in not_honoured(view)],
        "refused": view.refused,
        "needs_approval": view.needs_approval,
        "declined": view.declined,
        "unmet": view.unmet,
    }
