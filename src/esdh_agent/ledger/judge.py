"""The policy over the ledger: which requirements are refused, paused for, or declined.

Deterministic and decided before any data is generated (docs/requests.md, ADR 0006):

- **refused** (the run stops, naming the quote): a state outside the policy, more persons than
  the policy's cap, more vehicles per person than its cap, licensed drivers outside the
  licensed ages, model years the contract does not allow, requirements that contradict each
  other, and the directives the policy refuses (an empty or altered marker, real data);
- **paused for approval** (a human decides, naming the quote): more persons than the approval
  threshold, a dataset version not approved yet;
- **declined** (the run goes on without that one requirement, and says so): the directives
  the policy declines (skip review, output paths, approval claims, "ignore the policy");
- **not supported** (committed with a visible warning; ``--strict`` fails the run): what the
  plan cannot express.

Nothing here replaces a requirement with a default: the request's words are honoured exactly,
or the run says which words it will not honour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esdh_agent.core.policy import Policy
from esdh_agent.ledger.model import Ledger, Requirement

__all__ = ["Judgement", "judge_ledger", "quoted"]

LICENSED_AGES = (16, 99)
MODEL_YEARS = (2000, 2024)


def quoted(req: Requirement) -> str:
    """``R3 "all of them living in Texas"``: how every message names a requirement."""
    text = req.quote if len(req.quote) <= 80 else req.quote[:77] + "..."
    return f'{req.id} "{text}"'


@dataclass
class Judgement:
    """The ledger with policy statuses set, and what the gate must do about it."""

    ledger: Ledger
    refused: list[str] = field(default_factory=list)
    needs_approval: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)


def _numbers(req: Requirement) -> list[float]:
    value = req.value
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [float(v) for v in value if isinstance(v, int | float)]
    return []


def _band(key: str | None) -> list[float]:
    if not key:
        return []
    low, _, high = key.partition("-")
    try:
        return [float(low), float(high or low)]
    except ValueError:
        return []


def _keys(req: Requirement) -> list[str]:
    """The categories a requirement asks rows to have (not those it excludes)."""
    if req.op == "exclude":
        return []
    if req.op == "only" and isinstance(req.value, list):
        return [str(v) for v in req.value]
    if req.op == "share" and req.key is not None:
        zero = req.value == 0 or req.tolerance == "none"
        return [] if zero else [req.key]
    return []


def _refusal(req: Requirement, policy: Policy) -> str | None:
    """Why no approval can allow ``req`` (None when policy allows it)."""
    if req.target == "state":
        outside = [s for s in _keys(req) if s not in policy.allowed_states]
        if outside:
            return (
                f"state {', '.join(outside)} is outside the policy's states "
                f"({', '.join(policy.allowed_states)})"
            )
    if req.target == "person_count" and req.op in ("eq", "min", "range"):
        asked = min(_numbers(req), default=0)
        if asked > policy.records.max_persons:
            return f"{asked:,.0f} persons exceeds the policy cap of {policy.records.max_persons:,}"
    if req.target == "vehicles_per_person":
        counts = [*_numbers(req), *(n for k in _keys(req) for n in _band(k))]
        cap = policy.records.max_vehicles_per_person
        if any(n > cap for n in counts):
            return f"{max(counts):g} vehicles per person exceeds the policy cap of {cap}"
    if req.target == "age":
        low, high = LICENSED_AGES
        ages = _numbers(req) if req.op != "share" else _band(req.key)
        if req.op == "share" and (req.value == 0 or req.tolerance == "none"):
            ages = []
        if any(a < low or a > high for a in ages):
            return (
                f"ages {'-'.join(f'{a:g}' for a in ages)} include licensed drivers outside the "
                f"licensed ages {low}-{high} (rule domain.licence_age)"
            )
    if req.target == "model_year":
        low, high = MODEL_YEARS
        years = _numbers(req)
        if req.op == "range" and len(years) == 2 and (years[1] < low or years[0] > high):
            return f"model years {years[0]:g}-{years[1]:g} are outside {low}-{high}"
        if req.op == "eq" and any(y < low or y > high for y in years):
            return f"model years {'-'.join(f'{y:g}' for y in years)} are outside {low}-{high}"
        if req.op == "min" and years and years[0] > high:
            return f"model year {years[0]:g} or newer is after {high}"
        if req.op == "max" and years and years[0] < low:
            return f"model year {years[0]:g} or older is before {low}"
    if (
        req.target == "directive"
        and policy.requests.directives.get(str(req.key), "decline") == "refuse"
    ):
        return f"the policy never allows this ({req.key})"
    return None


def _approval(req: Requirement, policy: Policy) -> str | None:
    if req.target == "person_count" and req.op in ("eq", "min", "range"):
        asked = min(_numbers(req), default=0)
        if asked > policy.approval.above_persons:
            return (
                f"{asked:,.0f} persons is above the approval threshold of "
                f"{policy.approval.above_persons:,}"
            )
    if (
        req.target == "dataset_version"
        and isinstance(req.value, str)
        and req.value not in policy.approval.approved_dataset_versions
    ):
        return f"dataset version {req.value} is not approved yet"
    return None


def judge_ledger(
    ledger: Ledger,
    policy: Policy,
    unsupported: dict[str, str] | None = None,
    pinned: frozenset[str] = frozenset(),
) -> Judgement:
    """Set refused / declined / not_supported statuses; list refusals and approvals needed.

    ``unsupported`` maps requirement ids the plan cannot express to the compiler's reason; a
    reason that names a contradiction is a refusal (the data cannot satisfy both).
    ``pinned`` names the plan fields the slice pins: a pin decides its own approval, so a
    prose requirement on the same field adds no second reason.
    """
    unsupported = unsupported or {}
    judgement = Judgement(ledger=ledger)
    updated: list[Requirement] = []
    for req in ledger.requirements:
        if req.status == "overridden" or req.source == "pinned":
            updated.append(req)
            continue
        refusal = _refusal(req, policy)
        if refusal is not None:
            judgement.refused.append(f"{quoted(req)}: {refusal}")
            updated.append(req.model_copy(update={"status": "refused", "detail": refusal}))
            continue
        if req.target == "directive":
            detail = f"declined by the policy ({req.key}): the run goes on without it"
            judgement.declined.append(f"{quoted(req)}: {detail}")
            updated.append(req.model_copy(update={"status": "declined", "detail": detail}))
            continue
        reason = unsupported.get(req.id)
        if reason is not None and "contradict" in reason:
            judgement.refused.append(f"{quoted(req)}: {reason}")
            updated.append(req.model_copy(update={"status": "refused", "detail": reason}))
            continue
        if reason is not None:
            updated.append(req.model_copy(update={"status": "not_supported", "detail": reason}))
            continue
        approval = None if req.target in pinned else _approval(req, policy)
        if approval is not None:
            judgement.needs_approval.append(f"{quoted(req)}: {approval}")
        updated.append(req)
    judgement.ledger = ledger.model_copy(update={"requirements": updated})
    return judgement
