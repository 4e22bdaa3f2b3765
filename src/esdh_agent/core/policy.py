"""The governance policy (``governance/policy.yaml``): caps, allowed states, the marker."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.core.contract import ContractState
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.yamlio import load_model
from esdh_agent.errors import PolicyError

__all__ = [
    "ApprovalRules",
    "Policy",
    "RecordCaps",
    "RequestRules",
    "enforce",
    "load_policy",
    "policy_violations",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordCaps(_Strict):
    max_persons: int = Field(ge=1, description="No snapshot holds more persons than this.")
    max_vehicles_per_person: int = Field(10, ge=1, le=10)


class ApprovalRules(_Strict):
    """When the agent's policy gate pauses a run for a human."""

    above_persons: int = Field(ge=1, description="More persons than this needs approval.")
    approved_dataset_versions: list[str] = Field(min_length=1)
    contract_version: str = Field(description="The contract version in force.")


DirectiveDecision = Literal["refuse", "decline"]


def _default_directives() -> dict[str, DirectiveDecision]:
    return {
        "marker": "refuse",
        "real_data": "refuse",
        "skip_review": "decline",
        "output_path": "decline",
        "approval_claim": "decline",
        "override_policy": "decline",
    }


class RequestRules(_Strict):
    """What the gate does with requests about the run itself (the ledger's directives).

    ``refuse`` stops the run naming the quote; ``decline`` goes on without that one
    requirement and says so in the summary (the run is reviewed, approved, named and marked
    exactly as governance says, whatever the prose asks).
    """

    directives: dict[str, DirectiveDecision] = Field(default_factory=_default_directives)


class Policy(_Strict):
    """What governance allows. The generator and the agent's policy gate enforce it."""

    policy_version: int = Field(ge=1)
    required_marker: str = Field(min_length=1, max_length=100)
    allowed_states: list[ContractState] = Field(min_length=1)
    records: RecordCaps
    approval: ApprovalRules
    requests: RequestRules = Field(default_factory=RequestRules)


def load_policy(path: Path) -> Policy:
    """Load the policy; malformed files name the file and line."""
    return load_model(path, Policy)


def policy_violations(policy: Policy, plan: GenerationPlan) -> list[str]:
    """Every way ``plan`` breaks ``policy`` (empty when it complies)."""
    problems = []
    if plan.person_count > policy.records.max_persons:
        problems.append(
            f"person_count {plan.person_count} exceeds the policy cap of "
            f"{policy.records.max_persons}"
        )
    most = max((k for k, share in plan.vehicles_per_person.items() if share > 0), default=1)
    if most > policy.records.max_vehicles_per_person:
        problems.append(
            f"{most} vehicles per person exceeds the policy cap of "
            f"{policy.records.max_vehicles_per_person}"
        )
    outside = sorted(
        s for s, share in plan.state_mix.items() if share > 0 and s not in policy.allowed_states
    )
    if outside:
        problems.append(
            f"state_mix uses {', '.join(outside)}, not allowed by the policy "
            f"({', '.join(policy.allowed_states)})"
        )
    return problems


def enforce(policy: Policy, plan: GenerationPlan, source: str) -> None:
    """Raise PolicyError naming the first violation."""
    problems = policy_violations(policy, plan)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PolicyError(
            problems[0] + more,
            location=source,
            hint="change the plan, or change the policy through governance",
        )
