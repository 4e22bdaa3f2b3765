"""The policy gate: pinned requirements and governance over whatever the planner proposed.

Deterministic. It applies the slice's pinned requirements, clamps what a model proposed
beyond policy, refuses pinned requirements no approval may allow, and lists what needs a
human. Only a QA lead's pinned requirement can make a run wait for approval; a model's
proposal is clamped instead.

What no approval may allow is derived from the policy (caps, allowed states) and the contract
(a pinned plan that cannot be generated, or licensed drivers outside the licensed ages of the
``domain.licence_age`` rule): none of it depends on a model, so :func:`pinned_refusals` knows
it before any model is asked.

The gate trusts nothing it is given: keys that are not plan fields (``output_path``,
``synthetic_source``, ``skip_critics``...) are dropped with a note, whatever the planner let
through, so no proposal can name a path, a marker or a step of the run.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from esdh_agent.agents.context import AgentWorkspace, Slice, apply_pins
from esdh_agent.agents.grounding import Grounding
from esdh_agent.agents.models import GateResult
from esdh_agent.core.contract import CONTRACT_VERSION
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import policy_violations
from esdh_agent.core.rules.person_rows import LICENSED_AGES
from esdh_agent.errors import PlanError

__all__ = ["gate_plan", "pinned_refusals", "plan_hash"]


def _uniform(keys: list[str]) -> dict[str, float]:
    """Equal shares over ``keys`` (the last absorbs rounding), summing to exactly 1."""
    if not keys:
        return {}
    out = {k: round(1 / len(keys), 6) for k in keys}
    out[keys[-1]] = round(1 - sum(out[k] for k in keys[:-1]), 6)
    return out


def _plan_fields(proposal: object, notes: list[str]) -> dict[str, Any]:
    """The proposal's plan fields; anything else is dropped and noted."""
    if not isinstance(proposal, dict):
        notes.append("the proposal is not an object; using defaults and the pinned requirements")
        return {}
    unknown = sorted(str(k) for k in proposal if k not in GenerationPlan.model_fields)
    if unknown:
        shown = ", ".join(unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        notes.append(f"ignored fields that are not plan fields: {shown}")
    return {k: v for k, v in proposal.items() if k in GenerationPlan.model_fields}


def _renormalize(shares: dict[str, float], keep: set[str]) -> dict[str, float]:
    kept = {k: v for k, v in shares.items() if k in keep and v > 0}
    total = sum(kept.values())
    if not kept or total <= 0:
        return {}
    out = {k: round(v / total, 6) for k, v in kept.items()}
    last = list(out)[-1]
    out[last] = round(1 - sum(v for k, v in out.items() if k != last), 6)
    return out


def _unlicensed_ages(pins: dict[str, Any], plan: GenerationPlan) -> list[str]:
    """Pinned age bands asking for licensed drivers the domain rules never allow."""
    if "age_bands" not in pins:
        return []
    low, high = LICENSED_AGES
    outside = [
        f"{b.min_age}-{b.max_age} (share {b.share:g})"
        for b in plan.age_bands
        if b.share > 0 and (b.min_age < low or b.max_age > high)
    ]
    if not outside:
        return []
    return [
        f"pinned age_bands {', '.join(outside)} ask for licensed drivers outside the licensed "
        f"ages {low}-{high} (rule domain.licence_age); no approval can allow it"
    ]


def plan_hash(plan: dict[str, Any]) -> str:
    """SHA-256 of a gated plan's canonical JSON (what an approval is given for)."""
    return GenerationPlan.model_validate(plan).plan_hash()


def pinned_refusals(aw: AgentWorkspace, slice_: Slice) -> list[str]:
    """What the slice's pinned requirements alone make impossible (no model is asked)."""
    return gate_plan(aw, slice_, {}).refused


def gate_plan(
    aw: AgentWorkspace,
    slice_: Slice,
    proposal: object,
    requested: Grounding | None = None,
    *,
    proposal_valid: bool = True,
) -> GateResult:
    """The gated plan, the gate's notes, what needs approval and what is refused.

    ``requested`` is the slice's grounding: the plan fields its ledger sets win over the
    planner's proposal and, like pinned values, are never clamped (what policy does not
    allow was refused or paused for by the ledger's judgement, naming its quote).
    """
    policy = aw.policy
    requested_fields = dict(requested.fields) if requested is not None else {}
    pins = {**requested_fields, **slice_.meta.pinned}
    if "edge_cases" in requested_fields and "edge_cases" in slice_.meta.pinned:
        pins["edge_cases"] = {**requested_fields["edge_cases"], **slice_.meta.pinned["edge_cases"]}
    notes: list[str] = []
    base = GenerationPlan().model_dump(mode="json")
    fields = _plan_fields(proposal, notes)
    overruled = sorted(k for k in fields if k in requested_fields and k not in slice_.meta.pinned)
    if overruled and not slice_.meta.locked:
        notes.append(
            "the request's own words decide " + ", ".join(overruled) + " (the planner's "
            "values for them are not used)"
        )
    merged = base if slice_.meta.locked else {**base, **fields}
    if slice_.meta.locked and fields:
        notes.append("slice is locked: the planner's proposal is recorded but not used")
    if slice_.meta.locked and requested_fields:
        pins = dict(slice_.meta.pinned)  # a locked slice keeps every unpinned default
    data = apply_pins(merged, pins)
    try:
        GenerationPlan.model_validate(data)
    except ValidationError:
        notes.append(
            "the proposal conflicts with the pinned requirements; using defaults "
            "and the pinned requirements"
        )
        data = apply_pins(base, pins)

    # Clamp what the model proposed beyond policy (pinned values are handled below).
    threshold = policy.approval.above_persons
    if "person_count" not in pins and data["person_count"] > threshold:
        notes.append(f"clamped person_count {data['person_count']} to {threshold} (policy)")
        data["person_count"] = threshold
    if "state_mix" not in pins:
        allowed = {str(s) for s in policy.allowed_states}
        if set(k for k, v in data["state_mix"].items() if v > 0) - allowed:
            fixed = (
                _renormalize(data["state_mix"], allowed)
                or _renormalize(base["state_mix"], allowed)
                or _uniform([str(s) for s in policy.allowed_states])
            )
            notes.append(f"dropped states outside the policy from state_mix -> {fixed}")
            data["state_mix"] = fixed
    if "vehicles_per_person" not in pins:
        cap = policy.records.max_vehicles_per_person
        if any(int(k) > cap for k, v in data["vehicles_per_person"].items() if v > 0):
            fixed = _renormalize(
                {str(k): v for k, v in data["vehicles_per_person"].items()},
                {str(k) for k in range(1, cap + 1)},
            ) or {"1": 1.0}
            notes.append(f"dropped fleets above {cap} vehicles per person (policy)")
            data["vehicles_per_person"] = fixed
    if "dataset_version" not in pins and data["dataset_version"] != slice_.meta.dataset_version:
        notes.append(f"dataset_version set to the slice's {slice_.meta.dataset_version}")
        data["dataset_version"] = slice_.meta.dataset_version
    plan = GenerationPlan.model_validate(data)
    refused: list[str] = []
    vocab = aw.ws.vocabulary()
    try:
        compile_layout(plan, vocab, policy.required_marker)
    except PlanError as exc:
        notes.append(
            f"the proposal cannot be generated ({exc.message}); using defaults and "
            "the pinned requirements"
        )
        plan = GenerationPlan.model_validate(apply_pins(base, pins))
        try:
            compile_layout(plan, vocab, policy.required_marker)
        except PlanError as again:
            refused.append(f"the pinned requirements cannot be generated: {again.message}")

    refused += [
        f"{problem}; no approval can allow it" for problem in policy_violations(policy, plan)
    ]
    refused += _unlicensed_ages(pins, plan)

    if requested is not None:
        refused += requested.refused
        if not slice_.meta.locked and not requested.usable() and not requested.refused:
            planner = "a valid plan" if proposal_valid else "no valid plan"
            refused.append(
                f"the request states no checkable requirement of the data (the planner gave "
                f"{planner}, which nothing in the request grounds): nothing is generated under "
                f"slice {slice_.id!r}'s name; say what the data must be (how many persons, "
                "which states, ages...)"
            )
    needs: list[str] = list(requested.needs_approval) if requested is not None else []
    from_ledger = set(requested_fields) - set(slice_.meta.pinned)
    if plan.person_count > threshold and "person_count" not in from_ledger:
        needs.append(
            f"person_count {plan.person_count} is above the approval threshold of {threshold}"
        )
    approved = policy.approval.approved_dataset_versions
    if plan.dataset_version not in approved and "dataset_version" not in from_ledger:
        needs.append(f"dataset version {plan.dataset_version} is not approved yet")
    if policy.approval.contract_version != CONTRACT_VERSION:
        needs.append(
            f"the contract version changed ({policy.approval.contract_version} -> "
            f"{CONTRACT_VERSION})"
        )
    return GateResult(
        plan=plan.model_dump(mode="json"), notes=notes, needs_approval=needs, refused=refused
    )
