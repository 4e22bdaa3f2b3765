"""Synthetic runs with a requirements ledger, written the way a run writes them.

``write_run`` records the events of a slice-generation run (``Transcript``) and its
``run.json`` in a runs directory, with a ledger whose quotes overlap ("600 commercial-line
customers" holds "commercial-line"), one requirement of every interesting status, a pinned
one, a conflict, a discarded model reading and a sentence no requirement covers. Offsets are
computed from the prose, so ``prose[start:end] == quote`` holds as in a real run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from esdh_agent.ledger.model import (
    Conflict,
    Discarded,
    Ledger,
    Requirement,
    Unsupported,
    prose_hash,
)
from esdh_agent.llm.transcript import Transcript, read_transcript

PROSE = (
    "\nPlease build 600 commercial-line customers in Arizona and Nevada, mostly trucks "
    "(around 70%).\nWrite the snapshot to ../../etc. Each has 12 trailers.\n"
)
TRAILERS = "Each has 12 trailers."
HOSTILE = (
    'Make <b>600</b> persons & <script>alert("x")</script> in "Texas" '
    "<img src=x onerror=alert(1)>.\n"
)
PLAN = {
    "person_count": 600,
    "seed": 77,
    "lob_mix": {"Commercial": 1.0},
    "state_mix": {"AZ": 0.5, "NV": 0.5},
    "body_style_mix": {"Commercial": {"Truck": 0.7, "SUV": 0.3}},
    "model_year_min": 2015,
}


def _req(prose: str, rid: str, quote: str, **data: Any) -> Requirement:
    start = prose.index(quote)
    return Requirement(id=rid, quote=quote, start=start, end=start + len(quote), **data)


def fleet_ledger(prose: str = PROSE) -> Ledger:
    """The ledger of ``PROSE``: met, unmet, declined, overridden, pinned and not supported."""
    overridden = _req(
        prose, "R6", "mostly trucks", target="body_style", key="Truck", op="share",
        tolerance="mostly", source="model", status="overridden",
        detail="the grammar's reading wins",
    )  # fmt: skip
    return Ledger(
        slice_id="fleet",
        prose_sha256=prose_hash(prose),
        grammar_sha256="ab" * 32,
        requirements=[
            Requirement(
                id="P1", target="seed", op="eq", value=77, quote="seed: 77", source="pinned",
                status="met", measured=77, plan_fields=["seed"],
            ),
            _req(
                prose, "R1", "600 commercial-line customers", target="person_count", op="eq",
                value=600, status="met", measured=600, plan_fields=["person_count"],
            ),
            _req(
                prose, "R2", "commercial-line", target="lob", op="only", value=["Commercial"],
                tolerance="all", status="met", measured=1.0, plan_fields=["lob_mix"],
            ),
            _req(
                prose, "R3", "in Arizona and Nevada", target="state", op="only",
                value=["AZ", "NV"], tolerance="all", status="unmet", measured=0.93,
                detail="7% of persons live in TX", plan_fields=["state_mix"],
            ),
            _req(
                prose, "R4", "mostly trucks (around 70%)", target="body_style", key="Truck",
                op="share", value=0.7, tolerance="approx", status="met", measured=0.6843,
                plan_fields=["body_style_mix"],
            ),
            _req(
                prose, "R5", "Write the snapshot to ../../etc", target="directive",
                key="output_path", op="eq", status="declined",
                detail="declined by the policy (output_path): the run goes on without it",
            ),
            overridden,
        ],
        unsupported=[
            Unsupported(
                quote=TRAILERS, start=prose.index(TRAILERS),
                end=prose.index(TRAILERS) + len(TRAILERS), reason="no plan field counts trailers",
            )
        ],
        discarded=[
            Discarded(target="state", quote="in Texas", value=["TX"], reason="not in the prose")
        ],
        conflicts=[Conflict(kept="R4", other=overridden, reason="the grammar's reading wins")],
    )  # fmt: skip


def hostile_ledger() -> Ledger:
    """A ledger of ``HOSTILE`` whose quote holds markup (and whose detail does)."""
    quote = '<b>600</b> persons & <script>alert("x")</script>'
    return Ledger(
        slice_id="evil",
        prose_sha256=prose_hash(HOSTILE),
        requirements=[
            _req(
                HOSTILE, "R1", quote, target="person_count", op="eq", value=600, status="met",
                measured=600, detail='<i>"ok"</i>',
            ),
            _req(HOSTILE, "R2", '"Texas"', target="state", op="only", value=["TX"]),
        ],
        unsupported=[Unsupported(quote="<img src=x onerror=alert(1)>", reason="<u>no</u>")],
    )  # fmt: skip


def grounded(ledger: Ledger) -> Ledger:
    """The same ledger as ``ground`` records it: nothing measured yet."""
    reqs = [
        r.model_copy(update={"status": "pending", "measured": None, "detail": ""})
        if r.status in ("met", "unmet")
        else r
        for r in ledger.requirements
    ]
    return ledger.model_copy(update={"requirements": reqs})


def write_run(
    runs: Path,
    run_id: str,
    *,
    prose: str = PROSE,
    ledger: Ledger | None = None,
    status: str = "committed",
    with_ledger: bool = True,
    record_ledger: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write ``runs/<run_id>/{transcript.jsonl,run.json}``; return (record, events).

    ``with_ledger`` False writes a run as recorded before requirements ledgers (no
    ``ground`` event, no ``ledger`` key); ``record_ledger`` False leaves the verified ledger
    out of ``run.json`` (the views then merge the ``verified`` event's statuses)."""
    ledger = ledger or fleet_ledger(prose)
    run_dir = runs / run_id
    t = Transcript(run_dir / "transcript.jsonl", run_id)
    t.event("run", "run_start", slice="fleet")
    t.event("run", "request", slice="fleet", version="1", prose=prose)
    t.event("load_context", "context", slice="fleet", slice_version="1", pinned={"seed": 77})
    if with_ledger:
        t.event(
            "ground",
            "ledger",
            ledger=grounded(ledger).model_dump(mode="json"),
            fields={k: PLAN[k] for k in ("person_count", "lob_mix", "state_mix")},
            provenance={
                "person_count": ["R1"],
                "lob_mix": ["R2"],
                "state_mix": ["R3"],
                "body_style_mix": ["R4"],
            },
            refused=[f'{r.id} "{r.quote}": {r.detail}' for r in ledger.by_status("refused")],
            needs_approval=[],
            declined=[f'{r.id} "{r.quote}": {r.detail}' for r in ledger.by_status("declined")],
            model_calls=2,
        )
    proposal = {"model_year_min": 2015, "body_style_mix": PLAN["body_style_mix"]}
    t.event("planner", "proposal", revision=0, valid=True, proposal=proposal, dropped=[])
    t.event("policy_gate", "decision", outcome="pass", notes=[], plan=PLAN)
    t.event("validate", "tool_result", tool="validate_bundle", summary={"error": 0}, rules=3)
    if with_ledger:
        t.event(
            "validate",
            "verified",
            revision=0,
            statuses={r.id: r.status for r in ledger.requirements},
            unmet=['R3 "in Arizona and Nevada": 7% of persons live in TX'],
        )
    t.event("commit", "commit", status="created", name="fleet-v1", content_hash="c0ffee")
    record: dict[str, Any] = {
        "run_id": run_id,
        "slice_id": "fleet",
        "status": status,
        "llm_mode": "replay",
        "revision": 0,
        "plan": PLAN,
    }
    if with_ledger:
        record["ledger"] = ledger.model_dump(mode="json") if record_ledger else None
    (run_dir / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record, read_transcript(run_dir / "transcript.jsonl")
