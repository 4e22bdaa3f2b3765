"""GET /snapshots and /snapshots/{name}: listing, manifests, and names that must not pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error
from tests.conftest import MARKER

# A bare ".." is normalized away by the HTTP client ("/snapshots/.." becomes "/", the index);
# tests/api/test_raw_paths.py sends it as written.
TRAVERSALS = [
    "../etc",
    "..%2fetc",
    "%2e%2e",
    "%2e%2e%2f",
    "%2e%2e%2fetc%2fpasswd",
    "%2E%2E%2Fmanifest.json",
    "..%5c..%5cwindows",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "v0.1/../../etc",
    "v0.1%2f..%2f..%2fetc",
    "v0.1/manifest.json",
    ".hidden",
    "a..b",
    "UPPER",
    "v0.1%0a",
    "v0.1%00",
    "v 1",
    "x" * 81,
    "~root",
    "%252e%252e%252f",
]


@pytest.fixture(scope="module")
def snap_client(shared_workspace: Workspace) -> TestClient:
    build_snapshot(
        GenerationPlan(person_count=12, seed=5),
        vocab=shared_workspace.vocabulary(),
        store=shared_workspace.store(),
        marker=MARKER,
        name="small-v0.1",
    )
    from esdh_agent.api.app import create_app
    from esdh_agent.api.settings import ApiSettings

    return TestClient(create_app(shared_workspace, ApiSettings()))


def test_list(snap_client: TestClient, shared_workspace: Workspace) -> None:
    body = snap_client.get("/snapshots").json()
    manifest = shared_workspace.store().manifest("small-v0.1")
    assert body == {
        "count": 1,
        "snapshots": [
            {
                "name": "small-v0.1",
                "dataset_version": "v0.1",
                "persons": 12,
                "content_hash": manifest.content_hash,
                "committed_at": manifest.committed_at,
            }
        ],
    }


def test_show_returns_the_manifest(snap_client: TestClient, shared_workspace: Workspace) -> None:
    response = snap_client.get("/snapshots/small-v0.1")
    assert response.status_code == 200
    manifest = shared_workspace.store().manifest("small-v0.1")
    assert response.json() == manifest.model_dump(mode="json")
    assert response.json()["seed"] == 5


def test_an_unknown_name_is_404(snap_client: TestClient) -> None:
    assert_error(snap_client.get("/snapshots/no-such-snapshot"), 404, "not_found")


@pytest.mark.parametrize("name", TRAVERSALS)
def test_unsafe_names_never_reach_the_filesystem(snap_client: TestClient, name: str) -> None:
    response = snap_client.get(f"/snapshots/{name}")
    assert_error(response)
    assert response.status_code in (400, 404)
    assert "format_version" not in response.text


def test_encoded_traversal_is_refused_as_an_invalid_name(snap_client: TestClient) -> None:
    for name in ("%2e%2e%2fetc", "..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd"):
        assert_error(snap_client.get(f"/snapshots/{name}"), 400, "invalid_name")


def test_control_characters_in_a_path_are_400(snap_client: TestClient) -> None:
    """A trailing %0a would otherwise match the route as if it were not there."""
    assert snap_client.get("/snapshots/small-v0.1").status_code == 200
    for suffix in ("%0a", "%00", "%0d%0a", "%7f"):
        response = snap_client.get(f"/snapshots/small-v0.1{suffix}")
        assert_error(response, 400, "invalid_path")
    assert_error(snap_client.get("/runs/x%0a"), 400, "invalid_path")


def test_empty_store_and_a_broken_manifest(
    workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(workspace, raise_errors=False)
    assert client.get("/snapshots").json() == {"count": 0, "snapshots": []}
    broken = workspace.store().root / "broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    assert client.get("/snapshots").json() == {
        "count": 1,
        "snapshots": [{"name": "broken", "error": "unreadable manifest"}],
    }
    response = client.get("/snapshots/broken")
    assert_error(response, 500, "snapshot_corrupt")
    assert str(workspace.root) not in response.text
