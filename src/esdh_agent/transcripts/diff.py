"""What changed between two agent runs: outcome, plan, validator, verdicts, snapshot, model use.

Reviewers compare a run with the one before it (a new cassette, a changed MOP, a revised
critic template) to see whether the *outcome* moved and why: which final plan fields differ,
whether the validator counts changed, which critic verdicts flipped, whether the committed
content is the same, and what the model calls cost. Inputs are each run's ``run.json`` record
and transcript events, so the comparison needs no workspace and works on archived runs. The
small helpers here (per-node model use, the finding order, the outcome line) are shared with
the HTML report so both tools read a transcript the same way; a verdict's state and reason
come from ``agents.models`` (``verdict_state`` / ``verdict_reason``), as on every surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from esdh_agent.agents.models import verdict_reason, verdict_state
from esdh_agent.transcripts.events import event_notes

__all__ = [
    "STATUS_RANK",
    "USAGE_KEYS",
    "critic_of",
    "diff_runs",
    "final_plan",
    "finding_key",
    "flatten",
    "node_usage",
    "outcome_line",
]

STATUS_RANK = {"verified": 0, "satisfied": 1, "dismissed": 2, "advisory": 3}
"""Order of a finding's status: what failed on the data first, plain advice last."""
_SEVERITY_RANK = {"critical": 0, "error": 0, "major": 1, "warning": 1, "minor": 2, "info": 3}
USAGE_KEYS = ("requests", "responses", "reasks", "errors", "prompt", "completion", "latency_ms")
"""Per-node model-use counters: calls, re-asks, errors (not the expected json_schema fallback,
which is info), tokens and summed latency."""
_USAGE_EVENT = {"llm_request": "requests", "reask": "reasks", "llm_error": "errors"}
_ABSENT = object()


def critic_of(node: str) -> str:
    """The critic's name of a ``critic:<name>`` node, else ``""``."""
    return node.split(":", 1)[1] if node.startswith("critic:") else ""


def outcome_line(record: dict[str, Any]) -> str:
    """One sentence saying why the run ended as it did (committed, refused, paused…)."""
    status = record.get("status")
    if status in ("committed", "unchanged"):
        snap = record.get("snapshot") or {}
        return (
            f"every critic passed on revision {record.get('revision')}; snapshot "
            f"{snap.get('name')} {snap.get('status')}"
        )
    if status == "awaiting_approval":
        reasons = "; ".join((record.get("awaiting") or {}).get("reasons", []))
        line = f"paused for a human approval: {reasons or 'no reason recorded'}"
        command = (record.get("gate_decision") or {}).get("resume_command")
        return f"{line} — answer with: {command}" if command else line
    return str(record.get("reason") or record.get("error") or f"status {status}")


def finding_key(finding: dict[str, Any]) -> tuple[int, int, int]:
    """Sort key: blocking first, then by status (verified … advisory), then by severity."""
    return (
        0 if finding.get("blocking") else 1,
        STATUS_RANK.get(str(finding.get("status")), 9),
        _SEVERITY_RANK.get(str(finding.get("severity")), 9),
    )


def node_usage(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Model use per node, in the order nodes first called a model."""
    per: dict[str, dict[str, int]] = {}
    for e, note in zip(events, event_notes(events), strict=True):
        kind = str(e.get("type"))
        if (kind != "llm_response" and kind not in _USAGE_EVENT) or note.fallback:
            continue
        row = per.setdefault(str(e.get("node")), dict.fromkeys(USAGE_KEYS, 0))
        if kind == "llm_response":
            row["responses"] += 1
            row["prompt"] += int(e.get("prompt_tokens") or 0)
            row["completion"] += int(e.get("completion_tokens") or 0)
            row["latency_ms"] += int(e.get("latency_ms") or 0)
        else:
            row[_USAGE_EVENT[kind]] += 1
    return per


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted paths of nested mappings (``lob_mix.Personal``); lists stay whole values."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def final_plan(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The plan the run generated (or would have): run.json's, else the gate's last one."""
    if record.get("plan"):
        return dict(record["plan"])
    for e in reversed(events):
        if e.get("node") == "policy_gate" and e.get("type") == "decision" and e.get("plan"):
            return dict(e["plan"])
    return None


def _pair(a: Any, b: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"a": a, "b": b, "changed": a != b}
    numeric = (int, float)
    if isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool):
        out["delta"] = round(b - a, 6)
    return out


def _plan_diff(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    flat_a, flat_b = dict(flatten(a or {})), dict(flatten(b or {}))
    fields = list(dict.fromkeys([*flat_a, *flat_b]))
    changed = []
    for key in fields:
        va, vb = flat_a.get(key, _ABSENT), flat_b.get(key, _ABSENT)
        if va != vb:
            only = "b" if va is _ABSENT else "a" if vb is _ABSENT else None
            changed.append(
                {
                    "field": key,
                    "a": None if va is _ABSENT else va,
                    "b": None if vb is _ABSENT else vb,
                    "only_in": only,
                }
            )
    return {
        "a_missing": a is None,
        "b_missing": b is None,
        "changed": changed,
        "unchanged": len(fields) - len(changed),
    }


def _validation_diff(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    a, b = a or {}, b or {}
    rows_a, rows_b = a.get("rows") or {}, b.get("rows") or {}
    rows = {k: _pair(rows_a.get(k), rows_b.get(k)) for k in dict.fromkeys([*rows_a, *rows_b])}
    return {
        "a": a or None,
        "b": b or None,
        "errors": _pair(a.get("errors"), b.get("errors")),
        "warnings": _pair(a.get("warnings"), b.get("warnings")),
        "rows": rows,
        "changed": (a or None) != (b or None),
    }


def _final_verdicts(record: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """run.json's verdicts (the last revision), else the transcript's last revision."""
    if record.get("verdicts"):
        return list(record["verdicts"])
    verdicts = [e for e in events if e.get("type") == "verdict"]
    last = max((int(v.get("revision") or 0) for v in verdicts), default=0)
    return [v for v in verdicts if int(v.get("revision") or 0) == last]


def _verdicts_diff(
    a: list[dict[str, Any]], b: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    def brief(v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        keys = ("passed", "abstained", "score")
        return {
            **{k: v.get(k) for k in keys},
            "state": verdict_state(v),
            "reason": verdict_reason(v),
        }

    by_a = {str(v.get("critic")): v for v in a}
    by_b = {str(v.get("critic")): v for v in b}
    rows, flipped = [], []
    for critic in dict.fromkeys([*by_a, *by_b]):
        va, vb = brief(by_a.get(critic)), brief(by_b.get(critic))
        flip = bool(
            va and vb and (va["passed"], va["abstained"]) != (vb["passed"], vb["abstained"])
        )
        score_delta = None
        if va and vb and va["score"] is not None and vb["score"] is not None:
            score_delta = round(float(vb["score"]) - float(va["score"]), 6)
        if flip:
            flipped.append(critic)
        rows.append(
            {
                "critic": critic,
                "a": va,
                "b": vb,
                "flipped": flip,
                "score_delta": score_delta,
                "changed": va != vb,
            }
        )
    return rows, flipped


def _snapshot(record: dict[str, Any]) -> dict[str, Any] | None:
    snap = record.get("snapshot")
    if not snap:
        return None
    return {k: snap.get(k) for k in ("name", "status", "content_hash")}


def _bundle_hash(events: list[dict[str, Any]]) -> str | None:
    """The content hash of the last bundle generated (committed or not)."""
    for e in reversed(events):
        if e.get("node") == "generate" and e.get("type") == "tool_result":
            value = e.get("content_hash")
            return str(value) if value is not None else None
    return None


def _llm_diff(
    a: dict[str, Any], events_a: list[dict[str, Any]], b: dict[str, Any], events_b: list[Any]
) -> dict[str, Any]:
    la, lb = a.get("llm") or {}, b.get("llm") or {}
    ua, ub = node_usage(events_a), node_usage(events_b)

    def get(row: dict[str, int] | None, key: str) -> int | None:
        if row is None:
            return None
        return row["prompt"] + row["completion"] if key == "tokens" else row[key]

    per_node = [
        {"node": node} | {k: _pair(get(ua.get(node), k), get(ub.get(node), k)) for k in _NODE_KEYS}
        for node in dict.fromkeys([*ua, *ub])
    ]
    totals = {k: _pair(la.get(k, d), lb.get(k, d)) for k, d in (("calls", 0), ("tokens", 0))}
    models = _pair(la.get("models", []), lb.get("models", []))
    changed = models["changed"] or any(p["changed"] for p in totals.values())
    return {**totals, "models": models, "per_node": per_node, "changed": changed}


_NODE_KEYS = ("responses", "tokens", "latency_ms")


def _ident(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "slice_id", "status", "revision", "llm_mode", "started_at")
    return {**{k: record.get(k) for k in keys}, "why": outcome_line(record)}


def diff_runs(
    a: dict[str, Any],
    events_a: list[dict[str, Any]],
    b: dict[str, Any],
    events_b: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything that differs between run ``a`` and run ``b`` (``a`` is the baseline).

    Each compared value is ``{"a", "b", "changed"}`` (with ``delta`` for numbers);
    ``changed`` lists the sections that differ, so ``not result["changed"]`` means the two
    runs reached the same outcome the same way.
    """
    verdicts, flipped = _verdicts_diff(_final_verdicts(a, events_a), _final_verdicts(b, events_b))
    snap_a, snap_b = _snapshot(a), _snapshot(b)
    hash_a = snap_a["content_hash"] if snap_a else None
    hash_b = snap_b["content_hash"] if snap_b else None
    result: dict[str, Any] = {
        "a": _ident(a),
        "b": _ident(b),
        "slice": _pair(a.get("slice_id"), b.get("slice_id")),
        "status": _pair(a.get("status"), b.get("status")),
        "reason": _pair(a.get("reason"), b.get("reason")),
        "revision": _pair(a.get("revision"), b.get("revision")),
        "plan": _plan_diff(final_plan(a, events_a), final_plan(b, events_b)),
        "validation": _validation_diff(a.get("validation"), b.get("validation")),
        "verdicts": verdicts,
        "flipped": flipped,
        "snapshot": {
            "a": snap_a,
            "b": snap_b,
            "content_hash": _pair(hash_a, hash_b),
            "same_content": None if not (hash_a and hash_b) else hash_a == hash_b,
        },
        "bundle_hash": _pair(_bundle_hash(events_a), _bundle_hash(events_b)),
        "llm": _llm_diff(a, events_a, b, events_b),
    }
    changed = [k for k in ("slice", "status", "reason", "revision") if result[k]["changed"]]
    if result["plan"]["changed"] or result["plan"]["a_missing"] != result["plan"]["b_missing"]:
        changed.append("plan")
    if result["validation"]["changed"]:
        changed.append("validation")
    if any(v["changed"] for v in verdicts):
        changed.append("verdicts")
    if result["snapshot"]["content_hash"]["changed"] or result["bundle_hash"]["changed"]:
        changed.append("snapshot")
    if result["llm"]["changed"]:
        changed.append("llm")
    result["changed"] = changed
    return result
