"""What was asked, and how the plan answers it: the request's prose and each field's source.

Every run view opens with these, before the gate, the data and the critics.

* **The request** is the slice's prose as the run used it. A ``request`` event (``prose``)
  is read first; transcripts without one still hold the prose in the planner's first request
  (after ``REQUEST:``, before the pinned requirements, as ``agents/render.py`` writes it), so
  the view needs no workspace and shows exactly what the model read. A run the gate refused
  before the planner was asked holds neither: a caller with the workspace passes the slice
  file's prose (``slice_prose``) as a fallback, labelled as such (and with the version the
  file has now, when it is not the one the run used). A ``request`` event recorded where the
  run starts would make every transcript self-contained.
* **The plan's provenance**: each field of the plan the run generated (or would have, or
  that awaits approval) is
  ``pinned`` (the slice's front matter, recorded by ``load_context``), ``request R3`` (set
  by the requirements of the request's ledger that quote it, from the ``ground`` event's
  provenance; they win over the planner like pins), ``model`` (the
  planner's proposal, as proposed), ``model, changed by the gate`` (proposed, then clamped or
  corrected by policy) or ``default``. A locked slice, or a proposal the gate set aside, leaves
  no model fields. Fields the planner dropped as invalid are listed with their errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esdh_agent.transcripts.diff import final_plan
from esdh_agent.transcripts.ledger_view import field_requirements, run_ledger

if TYPE_CHECKING:
    from esdh_agent.workspace import Workspace

__all__ = [
    "PlanField",
    "PlanProvenance",
    "Request",
    "SliceText",
    "plan_provenance",
    "run_request",
    "slice_prose",
]

_REQUEST_HEAD = "REQUEST:\n"
_REQUEST_END = "\n\nPINNED REQUIREMENTS"
_SET_ASIDE = (
    "the proposal conflicts",
    "the proposal cannot be generated",
    "the proposal is not an object",
)


@dataclass(frozen=True)
class Request:
    """The slice's prose (``None`` when no source has it) and where it was read."""

    slice_id: str
    version: str | None
    prose: str | None
    source: str


@dataclass(frozen=True)
class SliceText:
    """A slice file's prose and version as the workspace holds it now."""

    prose: str
    version: str


def slice_prose(ws: Workspace, slice_id: str) -> SliceText | None:
    """The slice's prose from the workspace's slice file, or ``None`` when it cannot be read."""
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.errors import EsdhError

    try:
        found = load_agent_workspace(ws).slice(slice_id)
    except (EsdhError, OSError, ValueError):
        return None
    return SliceText(found.prose, found.meta.version)


@dataclass(frozen=True)
class PlanField:
    """One plan field, its source, and the requirements that set it (``request`` source)."""

    name: str
    value: Any
    source: str
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanProvenance:
    """The plan's fields with their source, and what the planner's proposal lost."""

    revision: int | None
    fields: list[PlanField]
    dropped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _context(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next((e for e in events if e.get("node") == "load_context"), {})


def _planner_prose(events: list[dict[str, Any]]) -> str | None:
    for e in events:
        if e.get("node") != "planner" or e.get("type") != "llm_request":
            continue
        for message in e.get("messages") or []:
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            text = str(message.get("content") or "")
            if text.startswith(_REQUEST_HEAD):
                end = text.rfind(_REQUEST_END)
                return text[len(_REQUEST_HEAD) : end if end > 0 else None].strip() or None
    return None


def run_request(
    record: dict[str, Any], events: list[dict[str, Any]], fallback: SliceText | str | None = None
) -> Request:
    """The request's prose, from the transcript if it holds it, else from ``fallback``."""
    slice_id = str(record.get("slice_id") or _context(events).get("slice") or "?")
    version = _context(events).get("slice_version")
    recorded = next((e for e in events if e.get("type") == "request" and e.get("prose")), None)
    if recorded is not None:
        return Request(slice_id, version, str(recorded["prose"]).strip(), "recorded by the run")
    prose = _planner_prose(events)
    if prose is not None:
        return Request(slice_id, version, prose, "as the planner received it")
    text = SliceText(fallback, "") if isinstance(fallback, str) else fallback
    if text is not None and text.prose.strip():
        source = "from the slice file (the transcript does not hold it)"
        if text.version and version and text.version != version:
            source = f"from the slice file, now version {text.version} (not in the transcript)"
        return Request(slice_id, version or text.version or None, text.prose.strip(), source)
    return Request(slice_id, version, None, "not recorded in this transcript")


def plan_provenance(record: dict[str, Any], events: list[dict[str, Any]]) -> PlanProvenance:
    """Each field of the final plan with its source (see the module's docstring)."""
    plan = final_plan(record, events) or _mapping(_mapping(record.get("awaiting")).get("plan"))
    context = _context(events)
    pinned = _mapping(context.get("pinned"))
    proposals = [e for e in events if e.get("node") == "planner" and e.get("type") == "proposal"]
    last = proposals[-1] if proposals else {}
    gates = [e for e in events if e.get("node") == "policy_gate" and e.get("type") == "decision"]
    notes = [str(n) for n in (gates[-1].get("notes") or [])] if gates else []
    proposal = _mapping(last.get("proposal"))
    used = not context.get("locked") and not any(n.startswith(_SET_ASIDE) for n in notes)
    view = None if context.get("locked") else run_ledger(record, events)
    fields = []
    for name, value in plan.items():
        ids: tuple[str, ...] = ()
        if name in pinned:
            source = "pinned"
        elif ids := tuple(field_requirements(view, name)):
            source = "request " + ", ".join(ids)
        elif used and name in proposal:
            source = "model" if proposal[name] == value else "model, changed by the gate"
        else:
            source = "default"
        fields.append(PlanField(name, value, source, ids))
    return PlanProvenance(
        revision=last.get("revision", record.get("revision")),
        fields=fields,
        dropped=[str(d) for d in last.get("dropped") or []],
        errors=[str(e) for e in last.get("errors") or []],
        notes=notes,
    )
