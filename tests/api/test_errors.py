"""Every failure has the one error shape; bad input is 4xx; the unexpected is a bare 500."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error

JSON = {"content-type": "application/json"}


def test_invalid_json_is_400(client: TestClient) -> None:
    for raw in (b"{", b"{'records': 5}", b'{"records": 5,}', b"\xff\xfe", b"NaN}"):
        assert_error(client.post("/generate/person", content=raw, headers=JSON), 400)


def test_json_the_parser_refuses_is_400(client: TestClient) -> None:
    digits = b'{"records": ' + b"9" * 5000 + b"}"  # beyond Python's int-digit limit
    assert_error(client.post("/generate/person", content=digits, headers=JSON), 400)
    nested = b"[" * 50_000  # deeper than the parser's recursion limit
    assert_error(client.post("/generate/person", content=nested, headers=JSON), 400)


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    body = b'{"records": 1}'
    for headers in (
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {},
    ):
        response = client.post("/generate/person", content=body, headers=headers)
        assert_error(response, 415, "unsupported_media_type")
    ok = client.post(
        "/generate/person",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200 and ok.json()["count"] == 1


def test_a_declared_large_body_is_413_before_it_is_read(client: TestClient) -> None:
    body = b'{"records": 1, "pad": "' + b"x" * (64 * 1024) + b'"}'
    assert_error(client.post("/generate/bundle", content=body, headers=JSON), 413, "body_too_large")
    just_fits = b'{"records": 1}' + b" " * (64 * 1024 - 14)
    assert len(just_fits) == 64 * 1024
    assert client.post("/generate/bundle", content=just_fits, headers=JSON).status_code == 200


def test_a_streamed_large_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"records": 1, "pad": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/generate/bundle", content=chunks(), headers=JSON)
    assert_error(response, 413, "body_too_large")


def test_the_body_limit_is_configurable(
    shared_workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    small = make_client(shared_workspace, max_body_bytes=1024)
    body = b'{"records": 1}' + b" " * 1100
    assert_error(small.post("/generate/person", content=body, headers=JSON), 413)


def test_a_malformed_content_length_is_400(shared_workspace: Workspace) -> None:
    app = create_app(shared_workspace, ApiSettings())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/generate/person",
        "raw_path": b"/generate/person",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"-5")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.put("/generate/person", json={}), 405, "method_not_allowed")
    assert_error(client.post("/generate/animal", json={}), 404, "not_found")
    response = client.delete("/snapshots")
    assert_error(response, 405)
    assert "GET" in response.headers["allow"]


def test_an_unexpected_error_is_500_without_internals(
    shared_workspace: Workspace,
    make_client: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from esdh_agent.api.routes import generate

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail at /srv/internal/path")

    monkeypatch.setattr(generate, "generate", boom)
    client = make_client(shared_workspace, raise_errors=False)
    response = client.post("/generate/person", json={})
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in response.text


def test_responses_carry_safe_headers(client: TestClient) -> None:
    for response in (client.get("/healthz"), client.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_healthz(client: TestClient) -> None:
    from esdh_agent import __version__
    from esdh_agent.core.generator import GENERATOR_VERSION
    from esdh_agent.core.plan import DEFAULT_PLAN

    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    plan = body.pop("plan")
    assert body == {
        "status": "ok",
        "dataset_version": "v0.1",
        "default_seed": 20251101,
        "generator_version": GENERATOR_VERSION,
        "version": "v0.1",  # the dataset version, as the original API reported it
        "package_version": __version__,
        "seed": 20251101,
        "target_records": 200,
        "max_records": 1000,
    }
    assert plan["default"] == DEFAULT_PLAN.model_dump(mode="json")
    assert plan["plan_hash"] == DEFAULT_PLAN.plan_hash()
    assert plan["steps"][0] == "Dataset version: v0.1"
    assert any("CA 40%, AZ 15%, NV 10%, OR 15%, WA 20%" in step for step in plan["steps"])
    assert all(isinstance(step, str) and step for step in plan["steps"])


def test_openapi_documents_every_endpoint_and_the_error_shape(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/healthz",
        "/generate/person",
        "/generate/vehicle",
        "/generate/profile",
        "/generate/bundle",
        "/snapshots",
        "/snapshots/{name}",
        "/snapshots/{name}/files",
        "/snapshots/{name}/files/{file_path}",
        "/",
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/view",
    } <= paths
    person = schema["paths"]["/generate/person"]["post"]
    assert person["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "GenerateRequest" in schema["components"]["schemas"]
