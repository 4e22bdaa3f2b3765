"""What the original system's consumers read, built from this project's own data.

The API this project replaces (a Flask app) answered ``/healthz`` with ``version`` (the
dataset version), ``seed``, ``target_records`` and ``plan: {"steps": [...]}`` — one sentence
per generation rule — and every ``/generate`` response with ``metadata`` (the dataset
metadata with its record counts) and ``records_requested``. The steps here are derived from
the default plan and the governance policy, so they cannot drift from what is generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import Policy

__all__ = ["plan_steps"]


def _shares(mix: Mapping[Any, float]) -> str:
    return ", ".join(f"{key} {share:.0%}" for key, share in mix.items() if share > 0)


def _nested(mix: Mapping[Any, Mapping[Any, float]]) -> str:
    return "; ".join(f"{lob}: {_shares(shares)}" for lob, shares in mix.items())


def plan_steps(plan: GenerationPlan, policy: Policy, max_records: int) -> list[str]:
    """The rules ``plan`` generates by, one sentence each, in generation order."""
    bands = ", ".join(
        f"{band.min_age}-{band.max_age} {band.share:.0%}" for band in plan.age_bands if band.share
    )
    garaging = "Vehicles are garaged at the owner's residence"
    if plan.garaging_elsewhere_rate:
        garaging += f" ({plan.garaging_elsewhere_rate:.0%} elsewhere in the owner's state)"
    vehicles = ", ".join(
        f"{share:.0%} own {n}" for n, share in plan.vehicles_per_person.items() if share > 0
    )
    return [
        f"Dataset version: {plan.dataset_version}",
        f"Target person records: {plan.person_count} per default snapshot; /generate returns "
        f"5 persons unless asked for more, at most {max_records} per request.",
        f"Deterministic seed {plan.seed}: every column draws from its own stream keyed on the "
        "seed, entity, field and block, so a seed gives the same rows over HTTP and from "
        "`esdh-agent generate`.",
        "Ids (person_id, vehicle_id, profile_id) are UUIDs keyed on the snapshot name as well, "
        "so snapshots with different names share no ids.",
        f"Persons first, then their vehicles ({vehicles}), then one profile per person joined "
        "with their primary vehicle.",
        "Shares are exact quotas (largest remainder), not random draws.",
        f"Lines of business: {_shares(plan.lob_mix)}.",
        f"Residence states: {_shares(plan.state_mix)} (the policy allows "
        f"{', '.join(policy.allowed_states)}); cities and ZIP codes from the governed "
        "per-state tables.",
        f"Driver ages on {plan.as_of_date.isoformat()}: {bands}.",
        "Driver licence numbers follow each state's governed formats and are unique.",
        f"Address line 2 for {plan.address_line_2_rate:.0%} of persons, ZIP+4 for "
        f"{plan.zip_plus4_rate:.0%}.",
        f"Model years {plan.model_year_min} to {plan.model_year_max}; makes "
        f"{_shares(plan.make_mix)}.",
        "VINs are 17 characters from the governed alphabet (no I, O or Q) with a valid check "
        "digit, and unique.",
        f"Body styles by line of business: {_nested(plan.body_style_mix)}.",
        f"Risk ratings by line of business: {_nested(plan.risk_mix)}.",
        f"{garaging}.",
        f"Every row carries synthetic_source = {policy.required_marker!r}.",
    ]
