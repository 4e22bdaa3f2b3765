"""The policy over the ledger: refuse, pause or decline, always naming the quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from esdh_agent.core.policy import Policy, load_policy
from esdh_agent.ledger.judge import judge_ledger
from esdh_agent.ledger.model import Ledger, Requirement

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "governance" / "policy.yaml")


def _ledger(*reqs: dict[str, object]) -> Ledger:
    return Ledger(
        slice_id="s",
        prose_sha256="0",
        requirements=[
            Requirement(id=f"R{i}", quote=str(r.pop("quote", "q")), **r)  # type: ignore[arg-type]
            for i, r in enumerate(reqs, start=1)
        ],
    )


@pytest.mark.parametrize(
    ("req", "phrase"),
    [
        ({"target": "state", "op": "only", "value": ["TX"]}, "TX is outside the policy"),
        ({"target": "state", "key": "OK", "op": "share", "value": 0.5}, "OK is outside"),
        ({"target": "person_count", "op": "eq", "value": 1_000_000_000}, "exceeds the policy cap"),
        ({"target": "vehicles_per_person", "op": "eq", "value": 12}, "12 vehicles per person"),
        ({"target": "age", "op": "range", "value": [10, 15]}, "licensed ages"),
        ({"target": "age", "key": "14-15", "op": "share", "value": 0.5}, "licensed ages"),
        ({"target": "model_year", "op": "range", "value": [1990, 1995]}, "outside 2000-2024"),
        ({"target": "directive", "key": "marker", "op": "eq"}, "never allows"),
        ({"target": "directive", "key": "real_data", "op": "eq"}, "never allows"),
    ],
)
def test_out_of_policy_requirements_are_refused_naming_the_quote(
    policy: Policy, req: dict[str, object], phrase: str
) -> None:
    judgement = judge_ledger(_ledger({**req, "quote": "the words"}), policy)
    assert judgement.refused and phrase in judgement.refused[0]
    assert judgement.refused[0].startswith('R1 "the words"')
    assert judgement.ledger.requirements[0].status == "refused"


def test_excluding_an_outside_state_is_fine(policy: Policy) -> None:
    judgement = judge_ledger(_ledger({"target": "state", "op": "exclude", "value": ["TX"]}), policy)
    assert not judgement.refused


def test_above_threshold_and_new_versions_pause(policy: Policy) -> None:
    judgement = judge_ledger(
        _ledger(
            {"target": "person_count", "op": "eq", "value": 150_000, "quote": "150,000 persons"},
            {"target": "dataset_version", "op": "eq", "value": "v0.2", "quote": "as v0.2"},
        ),
        policy,
    )
    assert not judgement.refused
    assert judgement.needs_approval == [
        'R1 "150,000 persons": 150,000 persons is above the approval threshold of 100,000',
        'R2 "as v0.2": dataset version v0.2 is not approved yet',
    ]
    assert all(r.status == "pending" for r in judgement.ledger.requirements)


def test_declined_directives_go_on_and_say_so(policy: Policy) -> None:
    judgement = judge_ledger(
        _ledger({"target": "directive", "key": "skip_review", "op": "eq", "quote": "skip it"}),
        policy,
    )
    assert not judgement.refused
    assert judgement.declined and judgement.declined[0].startswith('R1 "skip it"')
    assert judgement.ledger.requirements[0].status == "declined"


def test_contradictions_refuse_other_unsupported_parts_do_not(policy: Policy) -> None:
    ledger = _ledger(
        {"target": "lob", "key": "Personal", "op": "share", "value": 0.7},
        {"target": "lob", "key": "Commercial", "op": "share", "value": 0.7},
        {"target": "age", "op": "max", "value": 40},
    )
    judgement = judge_ledger(ledger, policy, {"R2": "contradicts R1", "R3": "cannot plan it"})
    statuses = [r.status for r in judgement.ledger.requirements]
    assert statuses == ["pending", "refused", "not_supported"]
    assert judgement.refused == ['R2 "q": contradicts R1']
