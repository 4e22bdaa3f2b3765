"""POST /generate/*: contract, determinism, seeds, the cap, and equality with the CLI."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from esdh_agent.api.models import DEFAULT_SEED, MAX_SEED
from esdh_agent.core.contract import Person, Profile, Vehicle, column_rules
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error, assert_same_rows
from tests.conftest import MARKER, CliResult

SINGLE = {
    "person": ("persons", Person),
    "vehicle": ("vehicles", Vehicle),
    "profile": ("profiles", Profile),
}
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _post(client: TestClient, endpoint: str, body: Any = None) -> Any:
    response = client.post(f"/generate/{endpoint}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("endpoint", sorted(SINGLE))
def test_single_entity_response_follows_the_contract(client: TestClient, endpoint: str) -> None:
    entity, model = SINGLE[endpoint]
    body = _post(client, endpoint, {"records": 4, "seed": 7})
    assert list(body) == [
        *("seed", "dataset_version", "count", "records", "name", "plan_hash"),
        *("records_requested", "metadata", "record_count", entity),  # the original API's
    ]
    assert body[entity] == body["records"] and body["record_count"] == body["count"]
    assert body["seed"] == 7 and body["dataset_version"] == "v0.1"
    assert body["count"] == len(body["records"]) == 4  # one vehicle per person by default
    columns = [rule.name for rule in column_rules(entity)]
    for row in body["records"]:
        assert list(row) == columns  # contract column order
        model.model_validate(row)
        assert row["synthetic_source"] == MARKER
    for rule in column_rules(entity):
        if rule.kind == "date":
            assert all(DATE.match(row[rule.name]) for row in body["records"])
            assert all(dt.date.fromisoformat(row[rule.name]) for row in body["records"])


def test_bundle_is_linked_and_agrees_with_the_single_endpoints(client: TestClient) -> None:
    request = {"records": 6, "seed": 99}
    bundle = _post(client, "bundle", request)
    assert list(bundle) == [
        *("seed", "dataset_version", "counts", "persons", "vehicles", "profiles"),
        *("name", "plan_hash", "records_requested", "metadata"),
    ]
    assert bundle["counts"] == {"persons": 6, "vehicles": 6, "profiles": 6}
    persons = {p["person_id"] for p in bundle["persons"]}
    vehicles = {v["vehicle_id"]: v for v in bundle["vehicles"]}
    assert {v["person_id"] for v in bundle["vehicles"]} <= persons
    for profile in bundle["profiles"]:
        assert profile["person_id"] in persons
        assert vehicles[profile["vehicle_id"]]["vin"] == profile["primary_vehicle_vin"]
    for endpoint, (entity, _) in SINGLE.items():
        assert _post(client, endpoint, request)["records"] == bundle[entity]


def test_defaults_are_five_persons_from_the_default_seed(client: TestClient) -> None:
    explicit = _post(client, "person", {"records": 5, "seed": DEFAULT_SEED, "randomize": False})
    for default in (_post(client, "person"), _post(client, "person", {})):
        assert default == explicit
    empty = client.post("/generate/person", content=b"")
    assert empty.status_code == 200 and empty.json() == explicit
    assert explicit["seed"] == 20251101 and explicit["count"] == 5


def test_same_seed_same_rows_other_seed_other_rows(client: TestClient) -> None:
    a = _post(client, "bundle", {"records": 3, "seed": 1})
    assert _post(client, "bundle", {"records": 3, "seed": 1}) == a
    b = _post(client, "bundle", {"records": 3, "seed": 2})
    assert b["persons"] != a["persons"]
    assert _post(client, "bundle", {"records": 3, "seed": MAX_SEED})["seed"] == MAX_SEED
    assert _post(client, "bundle", {"records": 3, "seed": 0})["seed"] == 0


@pytest.mark.parametrize(
    "request_body", [{"seed": "random"}, {"randomize": True}, {"seed": 5, "randomize": True}]
)
def test_a_random_seed_is_fresh_returned_and_reproducible(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    first = _post(client, "bundle", {"records": 2, **request_body})
    second = _post(client, "bundle", {"records": 2, **request_body})
    assert isinstance(first["seed"], int) and 0 <= first["seed"] <= MAX_SEED
    assert first["seed"] != second["seed"]  # 2^63 choices: a collision means no randomness
    replay = _post(client, "bundle", {"records": 2, "seed": first["seed"]})
    assert replay == first


def test_the_cap_rejects_never_truncates(
    shared_workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    small = make_client(shared_workspace, max_records=10)
    assert _post(small, "person", {"records": 10})["count"] == 10
    for endpoint in ("person", "vehicle", "profile", "bundle"):
        for records in (11, 10**6, 10**40):
            response = small.post(f"/generate/{endpoint}", json={"records": records})
            assert_error(response, 422, "too_many_records")
            assert "10" in response.json()["error"]["message"]


def test_the_default_cap_is_1000(client: TestClient) -> None:
    assert _post(client, "person", {"records": 1000})["count"] == 1000
    assert_error(client.post("/generate/person", json={"records": 1001}), 422, "too_many_records")


@pytest.mark.parametrize(
    "body",
    [
        {"records": 0},
        {"records": -3},
        {"records": "5"},
        {"records": 5.0},
        {"records": 2.5},
        {"records": True},
        {"records": None},
        {"records": [5]},
        {"records": {"n": 5}},
        {"seed": -1},
        {"seed": MAX_SEED + 1},
        {"seed": "20251101"},
        {"seed": "RANDOM"},
        {"seed": 1.0},
        {"seed": None},
        {"seed": True},
        {"randomize": 1},
        {"randomize": "true"},
        {"persons": 5},
        {"records": 5, "format": "csv"},
        [],
        [{"records": 5}],
        "records",
        5,
        True,
    ],
)
def test_bad_bodies_are_422_with_the_error_shape(client: TestClient, body: Any) -> None:
    for endpoint in ("person", "bundle"):
        assert_error(client.post(f"/generate/{endpoint}", json=body), 422, "invalid_request")


def test_messages_name_the_field(client: TestClient) -> None:
    message = client.post("/generate/person", json={"seed": -1}).json()["error"]["message"]
    assert message.startswith("seed:") and "'random'" in message
    message = client.post("/generate/person", json={"colour": 1}).json()["error"]["message"]
    assert message == "colour: Extra inputs are not permitted"


def test_the_api_gives_the_rows_of_the_cli_snapshot(
    workspace: Workspace, cli: Callable[..., CliResult], make_client: Callable[..., TestClient]
) -> None:
    """`esdh-agent generate --persons N --seed S [--name NAME]` and the API with the same N, S
    (and name) agree, byte for byte once the API's rows are written in the snapshot's CSV
    dialect. Without a name both key the ids on the name `generate` gives the plan."""
    persons, seed = 9, 424242
    args = ("generate", "--persons", str(persons), "--seed", str(seed))
    client = make_client(workspace)
    request = {"records": persons, "seed": seed}
    named = cli(*args, "--name", "cli")
    assert named.code == 0, named.err
    assert_same_rows(
        workspace.store().path("cli"), _post(client, "bundle", {**request, "name": "cli"})
    )
    unnamed = cli(*args, "--json")
    assert unnamed.code == 0, unnamed.err
    bundle = _post(client, "bundle", request)
    assert bundle["name"] != "cli" and bundle["name"].startswith("v0.1-")
    assert_same_rows(workspace.store().path(bundle["name"]), bundle)
    named_ids = {
        p["person_id"] for p in _post(client, "person", {**request, "name": "cli"})["persons"]
    }
    assert named_ids.isdisjoint(p["person_id"] for p in bundle["persons"])


def test_concurrent_requests_give_the_same_rows_as_sequential_ones(client: TestClient) -> None:
    """Handlers run in a thread pool and share the vocabulary: nothing may leak between them."""
    from concurrent.futures import ThreadPoolExecutor

    seeds = list(range(100, 112))
    sequential = [_post(client, "bundle", {"records": 8, "seed": s}) for s in seeds]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(
            pool.map(lambda s: _post(client, "bundle", {"records": 8, "seed": s}), seeds)
        )
    assert parallel == sequential
