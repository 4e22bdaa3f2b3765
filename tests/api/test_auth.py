"""Bearer-token auth: required everywhere but /healthz once a token is configured."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from esdh_agent.api import middleware
from esdh_agent.workspace import Workspace

from tests.api.conftest import TOKEN, assert_error

GOOD = {"Authorization": f"Bearer {TOKEN}"}
PROTECTED = [
    ("GET", "/"),
    ("GET", "/generate/person"),
    ("GET", "/generate/bundle?records=1"),
    ("POST", "/generate/person"),
    ("POST", "/generate/vehicle"),
    ("POST", "/generate/profile"),
    ("POST", "/generate/bundle"),
    ("GET", "/snapshots"),
    ("GET", "/snapshots/v0.1"),
    ("GET", "/snapshots/v0.1/files"),
    ("GET", "/snapshots/v0.1/files/persons.csv"),
    ("GET", "/runs"),
    ("GET", "/runs/some-run"),
    ("GET", "/runs/some-run/view"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/docs/assets/swagger-ui-bundle.js"),
    ("GET", "/openapi.json"),
    ("GET", "/no-such-path"),
]


@pytest.fixture
def secured(shared_workspace: Workspace, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(shared_workspace, token=SecretStr(TOKEN))


def test_healthz_stays_open(secured: TestClient) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_other_endpoint_needs_the_token(secured: TestClient, method: str, path: str) -> None:
    response = secured.request(method, path)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        "Bearer",
        f"Basic {TOKEN}",
        TOKEN,
        f"Token {TOKEN}",
        f"Bearer {TOKEN.upper()}",
        "Bearer ünïcode-token-0123456789".encode(),
        f"Bearer {TOKEN}\x00".encode(),
    ],
)
def test_a_wrong_token_is_401(secured: TestClient, header: str | bytes) -> None:
    response = secured.post("/generate/person", json={}, headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")


def test_the_right_token_opens_every_endpoint(secured: TestClient) -> None:
    assert secured.post("/generate/person", json={"records": 1}, headers=GOOD).status_code == 200
    assert secured.get("/snapshots", headers=GOOD).status_code == 200
    assert secured.get("/runs", headers=GOOD).status_code == 200
    assert secured.get("/docs", headers=GOOD).status_code == 200
    assert secured.get("/", headers=GOOD).status_code == 200
    assert secured.get("/generate/person?records=1", headers=GOOD).status_code == 200
    lower = {"authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
    assert secured.post("/generate/person", json={"records": 1}, headers=lower).status_code == 200
    assert_error(secured.get("/no-such-path", headers=GOOD), 404, "not_found")


def test_the_comparison_is_constant_time(
    secured: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = middleware.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(middleware.hmac, "compare_digest", spy)
    assert secured.get("/snapshots", headers=GOOD).status_code == 200
    assert secured.get("/snapshots", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert calls == [(TOKEN.encode(), TOKEN.encode()), (b"nope", TOKEN.encode())]


def test_the_schema_declares_the_bearer_scheme(secured: TestClient) -> None:
    schema = secured.get("/openapi.json", headers=GOOD).json()
    assert schema["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    assert schema["paths"]["/generate/person"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_without_a_token_nothing_asks_for_one(client: TestClient) -> None:
    assert client.get("/snapshots").status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})
