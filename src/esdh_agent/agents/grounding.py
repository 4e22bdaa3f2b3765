"""Ground a slice in its own words: the ledger, the plan fields it sets, the policy over it.

``ground`` reads the prose with the workspace's grammar, asks the model focused questions
(one aspect at a time, each answer checked against its quote), assembles the ledger (pinned
over grammar over model), compiles the plan fields the ledger decides, and applies the
policy to every requirement. ``verify`` checks the ledger on the generated tables.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.agents.context import AgentWorkspace, Slice
from esdh_agent.agents.extraction import extract_with_model
from esdh_agent.agents.extraction_aspects import ASPECTS, Aspect
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.ledger.build import assemble
from esdh_agent.ledger.compile import compile_ledger
from esdh_agent.ledger.extract import extract, readings
from esdh_agent.ledger.grammar import Grammar, grammar_path, load_grammar
from esdh_agent.ledger.judge import judge_ledger, quoted
from esdh_agent.ledger.model import (
    DATA_TARGETS,
    Conflict,
    Discarded,
    Ledger,
    Requirement,
    Unsupported,
)
from esdh_agent.ledger.verify import verify_ledger
from esdh_agent.llm.protocol import StructuredModel

__all__ = [
    "Grounding",
    "ground",
    "model_fills",
    "slice_grammar",
    "unmet_messages",
    "unread_aspects",
    "verify",
    "verify_requirements",
]


class Grounding(BaseModel):
    """What the request decides, before any planner is asked."""

    model_config = ConfigDict(extra="forbid")

    ledger: Ledger
    fields: dict[str, Any] = Field(description="Plan fields the ledger sets.")
    provenance: dict[str, list[str]] = Field(description="Plan field -> requirement ids.")
    refused: list[str] = Field(default_factory=list)
    needs_approval: list[str] = Field(default_factory=list)
    declined: list[str] = Field(default_factory=list)
    model_calls: int = 0

    def usable(self) -> bool:
        """Does the prose (or the pinned block) say anything checkable about the rows?

        A seed, a dataset version or an as-of date alone does not: a request must say what
        the data is before anything is generated under its name."""
        return any(
            r.target in DATA_TARGETS and r.status not in ("overridden", "refused", "declined")
            for r in self.ledger.requirements
        )


def slice_grammar(aw: AgentWorkspace) -> Grammar:
    return load_grammar(grammar_path(aw.ws.governance))


def ground(aw: AgentWorkspace, llm: StructuredModel | None, slice_: Slice) -> Grounding:
    """The slice's ledger, compiled and judged. ``llm`` None: the grammar alone.

    The grammar's reading is judged first: when the policy already refuses it, no model is
    asked (an out-of-policy request costs no call). Nor is it for a locked slice: its plan is
    its pins and the defaults, which no reading can change; the grammar's reading is still
    verified on the data.
    """
    grammar = slice_grammar(aw)
    prose = slice_.prose
    found, unsupported = extract(prose, grammar)
    grounded = _ground(aw, slice_, grammar, found, unsupported)
    if llm is None or grounded.refused or slice_.meta.locked or not prose.strip():
        return grounded
    aspects = unread_aspects(found)
    if not aspects:
        return grounded
    extraction = extract_with_model(
        llm,
        aw.model_for("planner"),
        prose,
        readings_fn=readings,
        grammar=grammar,
        max_reasks=aw.index.max_reasks,
        aspects=aspects,
    )
    grounded = _ground(
        aw,
        slice_,
        grammar,
        found,
        unsupported,
        extraction.requirements,
        extraction.discarded,
    )
    return grounded.model_copy(update={"model_calls": extraction.calls})


def unread_aspects(found: list[Requirement]) -> list[Aspect]:
    """The questions worth asking the model: aspects of which the grammar read nothing.

    The grammar's reading wins wherever it read something (docs/requests.md), so a model
    answer on an aspect it already read could only lose: the model fills the gaps.
    """
    read = {r.target for r in found}
    return [a for a in ASPECTS if not read & set(a.targets)]


def model_fills(found: list[Requirement], model: list[Requirement]) -> list[Requirement]:
    """The model readings a run would have asked for (``unread_aspects``), from readings of
    every aspect (a corpus cassette holds all of them)."""
    asked = {t for a in unread_aspects(found) for t in a.targets}
    return [r for r in model if r.target in asked]


def _ground(
    aw: AgentWorkspace,
    slice_: Slice,
    grammar: Grammar,
    found: list[Requirement],
    unsupported: list[Unsupported],
    model_reqs: list[Requirement] | None = None,
    discarded: list[Discarded] | None = None,
) -> Grounding:
    prose = slice_.prose
    ledger = assemble(
        slice_.id,
        prose,
        dict(slice_.meta.pinned),
        found,
        model_reqs or [],
        grammar_sha256=grammar.sha256,
        unsupported=unsupported,
        discarded=discarded or [],
    )
    base = GenerationPlan().model_dump(mode="json")
    prose_reqs = [
        r for r in ledger.requirements if r.source != "pinned" and r.status != "overridden"
    ]
    compiled = compile_ledger(prose_reqs, base)
    judgement = judge_ledger(ledger, aw.policy, compiled.unsupported, frozenset(slice_.meta.pinned))
    standing = {
        r.id
        for r in judgement.ledger.requirements
        if r.status in ("pending", "met") and r.source != "pinned"
    }
    # Compile again without what the policy refused or declined, so no refused value
    # reaches a plan; record which plan fields each requirement set.
    compiled = compile_ledger([r for r in prose_reqs if r.id in standing], base)
    # Pinned fields are the pins' (edge_cases merges rate by rate, so it stays shared).
    pins = set(slice_.meta.pinned) - {"edge_cases"}
    provenance = {k: v for k, v in compiled.provenance.items() if k not in pins}
    by_req: dict[str, list[str]] = {}
    for plan_field, ids in provenance.items():
        for rid in ids:
            by_req.setdefault(rid, []).append(plan_field)
    requirements = []
    for req in judgement.ledger.requirements:
        if req.id in by_req:
            req = req.model_copy(update={"plan_fields": sorted(by_req[req.id])})
        if req.id in compiled.unsupported and req.status == "pending":
            req = req.model_copy(
                update={"status": "not_supported", "detail": compiled.unsupported[req.id]}
            )
        requirements.append(req)
    ledger = judgement.ledger.model_copy(update={"requirements": requirements})
    fields = {k: v for k, v in compiled.fields.items() if k not in pins}
    return Grounding(
        ledger=ledger,
        fields=fields,
        provenance=provenance,
        refused=judgement.refused,
        needs_approval=judgement.needs_approval,
        declined=judgement.declined,
    )


def verify_requirements(
    ledger: Ledger, plan: GenerationPlan, tables: dict[str, pa.Table]
) -> Ledger:
    """The ledger with every checkable requirement verified on ``tables``.

    A prose requirement found unmet whose plan fields were all pinned is ``overridden``: the
    pinned value wins, and the conflict is shown rather than refused.
    """
    checkable = [r for r in ledger.requirements if r.status in ("pending", "met", "unmet")]
    verified = {r.id: r for r in verify_ledger(checkable, plan, tables)}
    out: list[Requirement] = []
    conflicts = list(ledger.conflicts)
    # A pin wins over the prose only where the data honours the pin: when the pins of a field
    # are unmet too, the data is simply wrong and the prose requirement stays unmet.
    broken_pins = {
        f
        for r in verified.values()
        if r.source == "pinned" and r.status == "unmet"
        for f in r.plan_fields
    }
    for req in ledger.requirements:
        new = verified.get(req.id, req)
        if (
            new.status == "unmet"
            and new.source != "pinned"
            and _pinned_fields(new, ledger)
            and not _target_fields(new) & broken_pins
        ):
            new = new.model_copy(
                update={"status": "overridden", "detail": f"pinned value wins: {new.detail}"}
            )
            fields = ", ".join(sorted(_target_fields(new) & set(ledger.pinned_fields)))
            conflicts.append(
                Conflict(
                    kept="pinned", other=new, reason=f"the pinned {fields} wins over the prose"
                )
            )
        out.append(new)
    return ledger.model_copy(update={"requirements": out, "conflicts": conflicts})


def _pinned_fields(req: Requirement, ledger: Ledger) -> bool:
    """Was ``req`` decided by pinned values (its plan fields all pinned, none set by it)?"""
    if req.plan_fields:
        return False
    pinned = set(ledger.pinned_fields)
    pinned |= {f for p in ledger.requirements if p.source == "pinned" for f in p.plan_fields}
    return bool(pinned) and _target_fields(req) <= pinned


_FIELDS = {
    "person_count": {"person_count"},
    "state": {"state_mix"},
    "lob": {"lob_mix"},
    "body_style": {"body_style_mix"},
    "risk": {"risk_mix"},
    "age": {"age_bands"},
    "model_year": {"model_year_min", "model_year_max"},
    "vehicles_per_person": {"vehicles_per_person"},
    "address_line_2": {"address_line_2_rate"},
    "zip_plus4": {"zip_plus4_rate"},
    "name_variant": {"edge_cases"},
    "boundary_age": {"edge_cases"},
    "seed": {"seed"},
    "dataset_version": {"dataset_version"},
    "as_of_date": {"as_of_date"},
}


def _target_fields(req: Requirement) -> set[str]:
    return _FIELDS.get(req.target, {"?"})


def verify(ledger: Ledger, plan: dict[str, Any], tables: dict[str, pa.Table]) -> Ledger:
    return verify_requirements(ledger, GenerationPlan.model_validate(plan), tables)


def unmet_messages(ledger: Ledger) -> list[str]:
    """One line per unmet requirement: its quote and what the data has."""
    return [f"{quoted(r)}: {r.detail}" for r in ledger.requirements if r.status == "unmet"]
