"""A plan sent to /generate: validated, policy-checked, capped — and the CLI's rows for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error, assert_same_rows
from tests.conftest import CliResult

PLAN = GenerationPlan(
    person_count=12,
    seed=7,
    vehicles_per_person={1: 0.5, 2: 0.5},
    lob_mix={"Commercial": 1.0},
    state_mix={"WA": 0.5, "OR": 0.5},
).model_dump(mode="json")


def _bundle(client: TestClient, body: dict[str, Any]) -> Any:
    response = client.post("/generate/bundle", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_plan_gives_the_rows_generate_commits_for_it(
    workspace: Workspace, cli: Callable[..., CliResult], make_client: Callable[..., TestClient]
) -> None:
    plan_file = workspace.root / "fleet.json"
    plan_file.write_text(json.dumps(PLAN), encoding="utf-8")
    client = make_client(workspace)
    assert cli("generate", "--plan", str(plan_file)).code == 0
    bundle = _bundle(client, {"plan": PLAN})
    plan = GenerationPlan.model_validate(PLAN)
    assert bundle["plan_hash"] == plan.plan_hash() and bundle["seed"] == 7
    assert bundle["records_requested"] == 12 and bundle["counts"]["persons"] == 12
    assert bundle["counts"]["vehicles"] == bundle["metadata"]["record_count_vehicles"] == 18
    assert {p["lob_type"] for p in bundle["persons"]} == {"Commercial"}
    manifest = workspace.store().manifest(bundle["name"])  # the name generate chose
    assert manifest.plan_hash == bundle["plan_hash"]
    assert_same_rows(workspace.store().path(bundle["name"]), bundle)
    metadata = (workspace.store().path(bundle["name"]) / "metadata.json").read_text()
    assert json.loads(metadata) == bundle["metadata"]
    # under another name: the same rows but for the ids
    assert cli("generate", "--plan", str(plan_file), "--name", "fleet").code == 0
    named = _bundle(client, {"plan": PLAN, "name": "fleet"})
    assert_same_rows(workspace.store().path("fleet"), named)
    for entity in ("persons", "vehicles", "profiles"):
        for a, b in zip(named[entity], bundle[entity], strict=True):
            differ = {k for k in a if a[k] != b[k]}
            assert differ and all(k.endswith("_id") for k in differ), (entity, differ)


def test_records_and_seed_beside_a_plan_replace_its_own(client: TestClient) -> None:
    both = _bundle(client, {"plan": PLAN, "records": 4, "seed": 99})
    assert both["counts"]["persons"] == 4 and both["seed"] == 99
    assert both["records_requested"] == 4
    expected = GenerationPlan.model_validate({**PLAN, "person_count": 4, "seed": 99})
    assert both["plan_hash"] == expected.plan_hash()
    assert _bundle(client, {"plan": PLAN, "count": 4})["counts"]["persons"] == 4
    fresh = _bundle(client, {"plan": PLAN, "randomize": True})
    assert fresh["seed"] != 7 and fresh["counts"]["persons"] == 12
    for endpoint, entity in (("person", "persons"), ("vehicle", "vehicles")):
        response = client.post(f"/generate/{endpoint}", json={"plan": PLAN})
        assert response.json()[entity] == _bundle(client, {"plan": PLAN})[entity]


def test_an_invalid_plan_is_a_422_naming_the_field(client: TestClient) -> None:
    for plan, where in [
        ({**PLAN, "lob_mix": {"Personal": 0.5}}, "plan.lob_mix"),
        ({**PLAN, "colour": "red"}, "plan.colour"),
        ({**PLAN, "state_mix": {"TX": 1.0}}, "plan.state_mix"),
        ({**PLAN, "person_count": 0}, "plan.person_count"),
        ([], "plan"),
    ]:
        response = client.post("/generate/bundle", json={"plan": plan})
        assert_error(response, 422, "invalid_request")
        assert response.json()["error"]["message"].startswith(where), response.text
    response = client.post("/generate/bundle", json={"plan": {**PLAN, "make_mix": {"Tesla": 1}}})
    assert_error(response, 422, "invalid_request")
    assert "Tesla" in response.json()["error"]["message"]


def test_the_policy_refuses_what_governance_does_not_allow(client: TestClient) -> None:
    """governance/policy.yaml caps vehicles per person at 5: a plan with 6 is refused (403)."""
    response = client.post(
        "/generate/bundle", json={"plan": {**PLAN, "vehicles_per_person": {"6": 1.0}}}
    )
    assert_error(response, 403, "policy_refused")
    assert "6 vehicles per person exceeds the policy cap of 5" in response.text


def test_the_record_cap_holds_for_a_plan(
    shared_workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    small = make_client(shared_workspace, max_records=10)
    response = small.post("/generate/bundle", json={"plan": PLAN})
    assert_error(response, 422, "too_many_records")
    assert "the plan's person_count=12 exceeds this server's cap of 10" in response.text
    assert _bundle(small, {"plan": PLAN, "records": 10})["counts"]["persons"] == 10
    assert_error(small.post("/generate/bundle", json={"plan": PLAN, "records": 11}), 422)
