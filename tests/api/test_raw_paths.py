"""Path traversal over a real socket, byte for byte.

HTTP clients (httpx under TestClient included) remove ``..`` segments before sending, so a
TestClient test of ``/snapshots/../etc`` never sends ``..`` at all. Here the request line is
written to a uvicorn server on loopback exactly as an attacker would write it, and the answer
must be a 4xx in the one error shape that reveals nothing from outside the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.api.conftest import new_workspace
from tests.conftest import MARKER
from tests.helpers import serve

SECRET_TEXT = "secret-outside-the-workspace"
TARGETS = [
    "/snapshots/../../etc/passwd",
    "/snapshots/..%2f..%2fetc%2fpasswd",
    "/snapshots/%2e%2e/%2e%2e/outside/manifest.json",
    "/snapshots/%2e%2e%2f%2e%2e%2foutside",
    "/snapshots/%252e%252e%252foutside",
    "/snapshots/..\\..\\outside",
    "/snapshots/..%5c..%5coutside",
    "/snapshots/%c0%ae%c0%ae/outside",
    "/snapshots/v0.1/../../../outside",
    "/snapshots//etc/passwd",
    "/snapshots/%2fetc%2fpasswd",
    "/snapshots/outside-link",
    "/snapshots/tiny-v0.1%00",
    "/snapshots/tiny-v0.1/manifest.json",
    "/snapshots/..",
    "/snapshots/tiny-v0.1/files/../../../outside/manifest.json",
    "/snapshots/tiny-v0.1/files/..%2f..%2f..%2foutside%2fmanifest.json",
    "/snapshots/tiny-v0.1/files/%2e%2e/%2e%2e/%2e%2e/outside/manifest.json",
    "/snapshots/tiny-v0.1/files/..\\..\\..\\outside\\manifest.json",
    "/snapshots/tiny-v0.1/files//etc/passwd",
    "/snapshots/tiny-v0.1/files/%2fetc%2fpasswd",
    "/snapshots/tiny-v0.1/files/persons.csv%00",
    "/snapshots/tiny-v0.1/files/manifest.json",
    "/snapshots/tiny-v0.1/files/../manifest.json",
    "/snapshots/tiny-v0.1/../outside-link/files/manifest.json",
    "/snapshots/outside-link/files/manifest.json",
    "/snapshots/../../outside/files/manifest.json",
    "/runs/../../etc/passwd",
    "/runs/..%2f..%2fetc%2fpasswd",
    "/runs/%2e%2e/%2e%2e/outside",
    "/runs/../snapshots/tiny-v0.1",
    "/runs/..%2fsnapshots%2ftiny-v0.1/view",
    "/runs/outside-link",
    "/runs/outside-link/view",
    "http://127.0.0.1/snapshots/../../outside",
    "//snapshots/../../etc/passwd",
]


@pytest.fixture(scope="module")
def raw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Workspace]]:
    root = tmp_path_factory.mktemp("raw")
    ws = new_workspace(root)
    build_snapshot(
        GenerationPlan(person_count=5, seed=1),
        vocab=ws.vocabulary(),
        store=ws.store(),
        marker=MARKER,
        name="tiny-v0.1",
    )
    # Something worth stealing right outside the workspace, and links pointing at it.
    outside = root / "outside"
    outside.mkdir()
    (outside / "manifest.json").write_text(json.dumps({"leak": SECRET_TEXT}))
    (outside / "run.json").write_text(json.dumps({"run_id": SECRET_TEXT}))
    (outside / "transcript.jsonl").write_text("")
    os.symlink(outside, ws.data / "snapshots" / "outside-link")
    (ws.data / "runs").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, ws.data / "runs" / "outside-link")
    with serve(create_app(ws, ApiSettings()), log_level="critical") as port:
        yield port, ws


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send ``GET <target>`` exactly as written; return the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("target", TARGETS)
def test_traversal_over_a_real_socket_is_refused(
    raw_server: tuple[int, Workspace], target: str
) -> None:
    port, _ = raw_server
    status, body = raw_get(port, target)
    assert 400 <= status < 500, (target, status, body)
    assert SECRET_TEXT.encode() not in body and b"root:" not in body
    assert b"format_version" not in body  # no manifest, not even the store's own
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}


def test_the_store_itself_is_served_and_links_out_of_it_are_not_listed(
    raw_server: tuple[int, Workspace],
) -> None:
    port, _ = raw_server
    status, body = raw_get(port, "/snapshots/tiny-v0.1")
    assert status == 200 and b"format_version" in body
    status, body = raw_get(port, "/snapshots/tiny-v0.1/files/persons.csv")
    assert status == 200 and body.startswith(b'"person_id",')
    status, body = raw_get(port, "/snapshots")
    names = [s["name"] for s in json.loads(body)["snapshots"]]
    assert status == 200 and names == ["tiny-v0.1"]
    status, body = raw_get(port, "/runs")
    assert status == 200 and SECRET_TEXT.encode() not in body


def test_nothing_outside_was_written(raw_server: tuple[int, Workspace]) -> None:
    _, ws = raw_server
    outside = ws.root.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == [
        "manifest.json",
        "run.json",
        "transcript.jsonl",
    ]
    assert not Path(ws.root.parent / "etc").exists()


def raw_post(port: int, path: str, head: str, body: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}\r\n".encode()
            + body
        )
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split(b" ", 2)[1]), rest.partition(b"\r\n\r\n")[2]


def test_caps_hold_over_a_real_socket(raw_server: tuple[int, Workspace]) -> None:
    port, _ = raw_server
    json_head = "Content-Type: application/json\r\n"
    # a chunked body with no Content-Length, far over the 64 KiB limit
    chunk = b" " * 32_768
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    status, body = raw_post(
        port, "/generate/bundle", json_head + "Transfer-Encoding: chunked\r\n", chunked
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    # a declared length over the limit is refused before the body is sent
    status, _ = raw_post(port, "/generate/bundle", json_head + "Content-Length: 999999999\r\n", b"")
    assert status == 413
    # one person over the record cap is refused, never truncated
    payload = b'{"records": 1001}'
    status, body = raw_post(
        port, "/generate/bundle", json_head + f"Content-Length: {len(payload)}\r\n", payload
    )
    assert status == 422 and b"1000" in body
