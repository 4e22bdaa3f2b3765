"""Deterministic prompt rendering: the same inputs always give the same bytes.

No run ids, timestamps, today's date or absolute paths ever enter a prompt; JSON is rendered
with sorted keys. That is what lets a cassette match on the request body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from esdh_agent.agents.context import AgentWorkspace, CriticTemplate, Slice
from esdh_agent.agents.models import JsonObject, Judge
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import ValidationReport
from esdh_agent.llm.schema import field_guide

__all__ = [
    "CRITIC_SYSTEM",
    "critic_prompt",
    "dumps",
    "planner_messages",
    "render_critic",
    "validation_summary",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
CRITIC_SYSTEM = (
    "You are a careful reviewer of synthetic insurance test data. Answer with one JSON "
    "object: score (0-1), summary, findings (severity info/minor/major/critical, field, rule, "
    "message, optional check) and suggested_changes (plan field -> new value)."
)


def dumps(value: Any) -> str:
    """Compact, stable JSON."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "), default=str
    )


def policy_summary(aw: AgentWorkspace) -> str:
    p = aw.policy
    return (
        f"allowed states: {', '.join(p.allowed_states)}; at most {p.records.max_persons} "
        f"persons; above {p.approval.above_persons} persons a data steward must approve; "
        f"approved dataset versions: {', '.join(p.approval.approved_dataset_versions)}; "
        f"every row carries the marker {p.required_marker!r}"
    )


def planner_messages(
    aw: AgentWorkspace, slice_: Slice, feedback: list[str], grounding: Any = None
) -> tuple[str, str]:
    """(system, user) for the planner; ``grounding`` (agents.grounding.Grounding) lists the
    fields the request's own words already decide, so the model plans only the rest."""
    system = (
        aw.mop.body.strip()
        + "\n\nPlan fields (all optional; leave out what the request does not mention):\n"
        + field_guide(GenerationPlan)
    )
    parts = [
        "REQUEST:",
        slice_.prose.strip(),
        "",
        "PINNED REQUIREMENTS (enforced whatever you answer):",
        dumps(slice_.meta.pinned) if slice_.meta.pinned else "(none)",
        "",
        "POLICY: " + policy_summary(aw),
    ]
    if grounding is not None and grounding.fields:
        parts += ["", "ALREADY DECIDED BY THE REQUEST'S WORDS (kept whatever you answer):"]
        quotes = {r.id: r.quote for r in grounding.ledger.requirements}
        for name, value in grounding.fields.items():
            said = "; ".join(f'"{quotes[i]}"' for i in grounding.provenance.get(name, []))
            parts.append(f"- {name} = {dumps(value)} ({said})")
        parts.append("Plan only the other fields.")
    if feedback:
        parts += ["", "REVIEWERS' FEEDBACK ON YOUR PREVIOUS PLAN (fix these):"]
        parts += [f"- {line}" for line in feedback]
    parts += ["", "Answer with the JSON plan only."]
    return system, "\n".join(parts)


def validation_summary(report: ValidationReport) -> str:
    """The validator's verdict in a few lines: counts and each broken rule."""
    s = report.summary()
    lines = [
        f"{s['error']} error and {s['warning']} warning findings over "
        + ", ".join(f"{n} {e}" for e, n in sorted(report.rows.items()))
        + f"; {len(report.rules)} rules checked."
    ]
    for f in report.findings[:12]:
        where = f"{f.entity}.{f.field}" if f.field else f.entity
        lines.append(f"- {f.severity} {f.rule} on {where} ({f.count} rows): {f.message}")
    return "\n".join(lines)


def render_critic(template: CriticTemplate, values: dict[str, str]) -> str:
    """Fill a critic template's placeholders."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.doc.body)


def critic_prompt(aw: AgentWorkspace, template: CriticTemplate, case: Judge) -> str:
    """A critic template rendered for ``case`` (the user message an LLM critic gets)."""
    report = ValidationReport.model_validate(case.validation)
    return render_critic(
        template,
        {
            "slice_prompt": case.slice_prompt.strip(),
            "pinned": dumps(case.pinned) if case.pinned else "(none)",
            "plan": dumps(case.plan),
            "validation": validation_summary(report),
            "profile": dumps({k: v for k, v in case.profile.items() if k != "samples"}),
            "samples": dumps(case.profile.get("samples", {})),
            "policy": policy_summary(aw),
            "ledger": ledger_summary(case.ledger),
        },
    )


def ledger_summary(ledger: JsonObject | None) -> str:
    """The request's requirements, one short line each: quote, reading, status (the measured
    value when unmet). Pinned requirements the data meets are left out: the pinned block is
    shown on its own."""
    if not ledger:
        return "(no requirements ledger)"
    lines = []
    for req in ledger.get("requirements", []):
        status = req.get("status", "pending")
        if req.get("source") == "pinned" and status == "met":
            continue
        quote = str(req.get("quote", ""))
        quote = quote if len(quote) <= 60 else quote[:57] + "..."
        key = f" {req['key']}" if req.get("key") else ""
        value = "" if req.get("value") is None else f" {dumps(req['value'])}"
        detail = f" ({req['detail']})" if req.get("detail") and status != "met" else ""
        lines.append(
            f'- {req["id"]} "{" ".join(quote.split())}": {req["target"]}{key} {req["op"]}{value}'
            f" -> {status}{detail}"
        )
    return "\n".join(lines) or "(the request states no checkable requirement)"
