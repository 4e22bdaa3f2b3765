"""GET with query parameters and POST with a body say the same; nothing sent is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import assert_error

ENDPOINTS = ("person", "vehicle", "profile", "bundle")


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_get_with_query_parameters_equals_post_with_a_body(
    client: TestClient, endpoint: str
) -> None:
    got = _ok(client.get(f"/generate/{endpoint}", params={"records": 3, "seed": 42}))
    posted = _ok(client.post(f"/generate/{endpoint}", json={"records": 3, "seed": 42}))
    assert got == posted and got["seed"] == 42 and got["records_requested"] == 3
    assert _ok(client.get(f"/generate/{endpoint}")) == _ok(client.post(f"/generate/{endpoint}"))


def test_count_is_honoured_as_a_synonym_of_records(client: TestClient) -> None:
    """The issue's `?count=3` gave 5 records and `{"count": 3}` a 422: both give 3 now."""
    by_query = _ok(client.get("/generate/person?count=3"))
    by_body = _ok(client.post("/generate/person", json={"count": 3}))
    by_records = _ok(client.post("/generate/person", json={"records": 3}))
    assert by_query == by_body == by_records and by_query["count"] == 3
    assert _ok(client.post("/generate/person", json={"count": 3, "records": 3}))["count"] == 3
    for response in (
        client.get("/generate/person?count=3&records=4"),
        client.post("/generate/person", json={"count": 3, "records": 4}),
    ):
        assert_error(response, 422, "invalid_request")
        assert "records=4 and count=3" in response.json()["error"]["message"]


def test_query_values_are_parsed_strictly(client: TestClient) -> None:
    assert _ok(client.get("/generate/person?records=2&seed=random"))["count"] == 2
    assert _ok(client.get("/generate/person?records=1&randomize=true"))["seed"] != 20251101
    assert _ok(client.get("/generate/person?records=1&seed=0"))["seed"] == 0
    for query, field in [
        ("records=2.0", "records"),
        ("records=1e3", "records"),
        ("records=-1", "records"),
        ("records=0", "records"),
        ("records=", "records"),
        ("records=five", "records"),
        ("seed=abc", "seed"),
        ("seed=-1", "seed"),
        ("seed=9223372036854775808", "seed"),
        ("seed=", "seed"),
        ("randomize=maybe", "randomize"),
        ("name=../etc", "name"),
        ("name=UPPER", "name"),
    ]:
        response = client.get(f"/generate/person?{query}")
        assert_error(response, 422, "invalid_request")
        assert response.json()["error"]["message"].startswith(f"query.{field}:"), query


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/generate/person?colour=red", None, "it reads count, name, randomize"),
        ("GET", "/generate/bundle?records=2&plan=x", None, "unknown query parameter 'plan'"),
        ("POST", "/generate/person?count=3", {}, "a POST reads its parameters from the JSON"),
        ("POST", "/generate/bundle?records=3", {"records": 3}, "or use GET /generate/bundle"),
        ("GET", "/healthz?verbose=1", None, "it takes no query parameters"),
        ("GET", "/snapshots?limit=1", None, "it takes no query parameters"),
        ("GET", "/?x=1", None, "it takes no query parameters"),
        ("GET", "/runs?status=committed", None, "it takes no query parameters"),
    ],
)
def test_a_parameter_a_route_does_not_read_is_a_422(
    client: TestClient, method: str, path: str, body: Any, expected: str
) -> None:
    response = client.request(method, path, json=body)
    assert_error(response, 422, "invalid_request")
    assert expected in response.json()["error"]["message"]


def test_a_repeated_parameter_and_a_get_body_are_refused(client: TestClient) -> None:
    response = client.get("/generate/person?records=2&records=3")
    assert_error(response, 422, "invalid_request")
    assert "'records' is given more than once" in response.json()["error"]["message"]
    response = client.request("GET", "/generate/person", json={"records": 3})
    assert_error(response, 422, "invalid_request")
    assert "reads no request body" in response.json()["error"]["message"]


def test_the_schema_documents_both_forms(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for endpoint in ENDPOINTS:
        operations = paths[f"/generate/{endpoint}"]
        assert set(operations) == {"get", "post"}
        query = {p["name"] for p in operations["get"]["parameters"] if p["in"] == "query"}
        assert query == {"records", "count", "seed", "randomize", "name"}
        assert "requestBody" in operations["post"] and "parameters" not in operations["post"]
    body = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert {"records", "count", "seed", "randomize", "name", "plan"} == set(body)
