"""Property-based fuzzing: whatever a client sends, the answer is never a 5xx, every 4xx has
the error shape, and every 200 is exactly what was asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error

CAP = 20
ENDPOINTS = ("person", "vehicle", "profile", "bundle")
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=CAP + 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["random", "Random", "5", "", "20251101", "1e3", "-1"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = {
    "records": st.one_of(st.integers(min_value=-3, max_value=CAP + 3), json_values),
    "seed": st.one_of(
        st.integers(min_value=-(2**64), max_value=2**64), st.just("random"), json_values
    ),
    "randomize": st.one_of(st.booleans(), json_values),
    "count": st.one_of(st.none(), st.integers(min_value=-3, max_value=CAP + 3), json_values),
    "name": st.one_of(st.sampled_from(["v0.1", "a-b.c_d", "..", "A", "x" * 81]), json_values),
}
request_bodies = st.one_of(
    st.fixed_dictionaries({}, optional=field_values),
    st.fixed_dictionaries(
        {}, optional={**field_values, "extra": json_values, "Records": json_values}
    ),
    json_values,
)


@pytest.fixture(scope="module")
def fuzz_client(shared_workspace: Workspace) -> Iterator[TestClient]:
    app = create_app(shared_workspace, ApiSettings(max_records=CAP))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _check(response: Any) -> None:
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert_error(response)


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=request_bodies)
def test_generate_never_fails_on_any_json(
    fuzz_client: TestClient, endpoint: str, body: Any
) -> None:
    raw = json.dumps(body).encode()  # NaN / Infinity included, as Python's parser accepts
    response = fuzz_client.post(
        f"/generate/{endpoint}", content=raw, headers={"content-type": "application/json"}
    )
    _check(response)
    if response.status_code != 200:
        return
    assert isinstance(body, dict) or body is None
    request = body or {}
    data = response.json()
    count = request.get("count")
    persons = request.get("records", 5) if count is None else count
    assert type(persons) is int and 1 <= persons <= CAP
    if "records" in request and count is not None:
        assert request["records"] == count
    if not request.get("randomize") and request.get("seed", 0) != "random":
        assert data["seed"] == request.get("seed", 20251101)
    returned = data["counts"]["persons"] if endpoint == "bundle" else data["count"]
    assert returned == persons == data["records_requested"]
    if request.get("name") is not None:
        assert data["name"] == request["name"]


@FUZZ
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x+json", None]),
)
def test_generate_never_fails_on_any_bytes(
    fuzz_client: TestClient, endpoint: str, raw: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    _check(fuzz_client.post(f"/generate/{endpoint}", content=raw, headers=headers))


paths = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["..", ".", "", "etc", "passwd", "v0.1", "%2e", "~", "\\"]), max_size=6
    ).map("/".join),
    st.sampled_from(["../etc", "..%2fetc", "%2e%2e%2f", "/etc/passwd", "v0.1\x00", "a\nb"]),
)


@FUZZ
@given(name=paths, encode_slashes=st.booleans())
def test_snapshot_and_run_paths_never_fail(
    fuzz_client: TestClient, name: str, encode_slashes: bool
) -> None:
    segment = quote(name, safe="" if encode_slashes else "/")
    for path in (
        f"/snapshots/{segment}",
        f"/snapshots/v0.1/files/{segment}",
        f"/snapshots/{segment}/files/persons.csv",
        f"/runs/{segment}",
        f"/runs/{segment}/view",
    ):
        response = fuzz_client.get(path)
        _check(response)
        assert response.status_code in (200, 307, 400, 404, 405), (path, response.text)
