"""`esdh-agent serve`: settings from the environment, the loopback rule, a real uvicorn run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import (
    ApiConfigError,
    ApiSettings,
    UnsafeBindError,
    check_bind,
    is_loopback,
)
from esdh_agent.cli.serve import serve_command
from esdh_agent.errors import ExitCode, InputError
from esdh_agent.workspace import Workspace

from tests.api.conftest import TOKEN


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"],
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, ApiSettings())


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "[::]",
        "192.168.1.10",
        "10.0.0.1",
        "203.0.113.7",
        "fe80::1",
        "::ffff:10.0.0.1",
        "example.com",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "",
    ],
)
def test_a_non_loopback_bind_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(UnsafeBindError, match="ESDH_API_TOKEN") as caught:
        check_bind(host, ApiSettings())
    assert isinstance(caught.value, InputError)  # exit code 2, one red line
    check_bind(host, ApiSettings.model_validate({"token": TOKEN}))


def test_settings_from_the_environment() -> None:
    defaults = ApiSettings.from_env({})
    assert defaults.token is None and defaults.max_records == 1000
    assert defaults.max_body_bytes == 64 * 1024
    env = {
        "ESDH_API_TOKEN": TOKEN,
        "ESDH_API_MAX_RECORDS": " 50 ",
        "ESDH_API_MAX_BODY_BYTES": "4096",
    }
    settings = ApiSettings.from_env(env)
    assert settings.token_bytes() == TOKEN.encode()
    assert (settings.max_records, settings.max_body_bytes) == (50, 4096)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ESDH_API_MAX_RECORDS": "many"}, "not an integer"),
        ({"ESDH_API_MAX_RECORDS": "0"}, "ESDH_API_MAX_RECORDS"),
        ({"ESDH_API_MAX_RECORDS": "-1"}, "ESDH_API_MAX_RECORDS"),
        ({"ESDH_API_MAX_RECORDS": "10000000"}, "ESDH_API_MAX_RECORDS"),
        ({"ESDH_API_MAX_BODY_BYTES": "12"}, "ESDH_API_MAX_BODY_BYTES"),
        ({"ESDH_API_TOKEN": ""}, "empty"),
        ({"ESDH_API_TOKEN": "short"}, "shorter than 16"),
        ({"ESDH_API_TOKEN": "has spaces in the middle"}, "printable ASCII"),
        ({"ESDH_API_TOKEN": "ünïcöde-tokens-are-refused"}, "printable ASCII"),
    ],
)
def test_bad_settings_are_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ApiConfigError, match=message) as caught:
        ApiSettings.from_env(env)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "\n" not in caught.value.one_line()


def _serve_app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("noop")(lambda: None)  # two commands: "serve" stays a subcommand
    return app


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("ESDH_API_TOKEN", raising=False)
    return calls


def test_serve_refuses_a_public_bind_without_a_token(
    workspace: Workspace, fake_uvicorn: list[dict[str, Any]]
) -> None:
    args = ["serve", "--host", "0.0.0.0", "--workspace", str(workspace.root)]
    result = CliRunner().invoke(_serve_app(), args)
    assert isinstance(result.exception, UnsafeBindError)
    assert fake_uvicorn == []


def test_serve_binds_loopback_by_default_and_public_with_a_token(
    workspace: Workspace, fake_uvicorn: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(_serve_app(), ["serve", "--workspace", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert (fake_uvicorn[0]["host"], fake_uvicorn[0]["port"]) == ("127.0.0.1", 8000)
    monkeypatch.setenv("ESDH_API_TOKEN", TOKEN)
    args = ["serve", "--host", "0.0.0.0", "--port", "9123", "--workspace", str(workspace.root)]
    result = CliRunner().invoke(_serve_app(), args)
    assert result.exit_code == 0, result.output
    assert (fake_uvicorn[1]["host"], fake_uvicorn[1]["port"]) == ("0.0.0.0", 9123)
    from fastapi.testclient import TestClient

    served = TestClient(fake_uvicorn[1]["app"])
    assert served.get("/snapshots").status_code == 401
    ok = served.get("/snapshots", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_serve_reports_a_bad_setting(
    workspace: Workspace, fake_uvicorn: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESDH_API_MAX_RECORDS", "lots")
    result = CliRunner().invoke(_serve_app(), ["serve", "--workspace", str(workspace.root)])
    assert isinstance(result.exception, ApiConfigError)
    assert fake_uvicorn == []


def test_serve_needs_a_workspace(tmp_path: Path, fake_uvicorn: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(_serve_app(), ["serve", "--workspace", str(tmp_path)])
    assert result.exception is not None and "not a workspace" in str(result.exception)


def test_importing_the_command_loads_no_web_framework() -> None:
    code = (
        "import sys, esdh_agent.cli.serve, esdh_agent.api.settings; "
        "assert not {'fastapi', 'uvicorn', 'starlette'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_app_runs_under_uvicorn_on_loopback(shared_workspace: Workspace) -> None:
    config = uvicorn.Config(
        create_app(shared_workspace, ApiSettings()), host="127.0.0.1", port=0, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        assert _http(f"{base}/healthz")[1]["status"] == "ok"
        status, body = _http(f"{base}/generate/bundle", b'{"records": 2}')
        assert status == 200 and body["counts"] == {"persons": 2, "vehicles": 2, "profiles": 2}
        status, body = _http(f"{base}/generate/person", b" " * 70_000)
        assert status == 413 and body["error"]["code"] == "body_too_large"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _http(url: str, data: bytes | None = None) -> tuple[int, Any]:
    """GET (or POST ``data`` as JSON) over a real socket; the status and the parsed body."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_weak_token_is_refused_however_settings_are_built() -> None:
    with pytest.raises(ApiConfigError, match="shorter than 16"):
        ApiSettings.model_validate({"token": "short"})
