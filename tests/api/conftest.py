"""Fixtures for the HTTP API tests: in-process apps over throwaway workspaces.

Generation and reads never change a workspace, so most tests share one workspace per module;
tests that commit snapshots or break files use the function-scoped ``workspace`` fixture.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.core.contract import column_rules
from esdh_agent.workspace import Workspace, init_workspace

TOKEN = "test-token-0123456789abcdef"
UNROUTABLE_LLM = "http://203.0.113.7:9/v1"
ERROR_KEYS = {"code", "message"}


def assert_error(response: Any, status: int | None = None, code: str | None = None) -> None:
    """The response is a 4xx/5xx in the one error shape (and the status/code, if given)."""
    assert response.status_code >= 400, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ERROR_KEYS, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body


def assert_same_rows(snapshot: Path, bundle: dict[str, Any]) -> None:
    """The bundle's rows, written in the snapshot CSV dialect, are the snapshot's CSV rows."""
    for entity in ("persons", "vehicles", "profiles"):
        lines = (snapshot / f"{entity}.csv").read_text(encoding="utf-8").split("\n")
        header, rows = lines[0], [line for line in lines[1:] if line]
        rules = column_rules(entity)
        assert header == ",".join(f'"{rule.name}"' for rule in rules)
        assert len(rows) == len(bundle[entity]) > 0
        assert rows == [_csv_line(record, rules) for record in bundle[entity]], entity


def _csv_line(record: dict[str, Any], rules: list[Any]) -> str:
    """One row in the snapshot CSV dialect: strings quoted, numbers and dates bare, null empty."""
    cells = []
    for rule in rules:
        value = record[rule.name]
        if value is None:
            cells.append("")
        elif rule.kind in ("int", "date"):
            cells.append(str(value))
        else:
            cells.append('"' + str(value).replace('"', '""') + '"')
    return ",".join(cells)


def new_workspace(root: Path) -> Workspace:
    return Workspace.open(init_workspace(root / "ws"))


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One fresh workspace for a whole test module (for tests that only read)."""
    return new_workspace(tmp_path_factory.mktemp("api"))


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build a TestClient for a workspace with the given ApiSettings fields."""
    clients: list[TestClient] = []

    def make(ws: Workspace, *, raise_errors: bool = True, **settings: Any) -> TestClient:
        client = TestClient(
            create_app(ws, ApiSettings(**settings)), raise_server_exceptions=raise_errors
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def client(shared_workspace: Workspace) -> Iterator[TestClient]:
    """A client of an app with default settings (no token, cap 1000, 64 KiB bodies)."""
    with TestClient(create_app(shared_workspace, ApiSettings())) as test_client:
        yield test_client


@dataclass(frozen=True)
class RecordedRun:
    workspace: Workspace
    run_id: str
    status: str


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    """One replayed baseline agent run, offline: the model endpoint is unroutable and any
    non-loopback connection fails (the autouse guard is not active for session fixtures)."""
    from esdh_agent.graphs.slice_generation.runner import run_slice

    ws = new_workspace(tmp_path_factory.mktemp("runs"))
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", loopback_only)
        mp.setenv("ESDH_LLM_BASE_URL", UNROUTABLE_LLM)
        mp.delenv("OPENAI_API_KEY", raising=False)
        result = run_slice(ws, "baseline")
    return RecordedRun(ws, result.run_id, result.status)
