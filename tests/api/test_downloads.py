"""Snapshot files over HTTP: listed, streamed, checksummed, revalidated, and path-guarded."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.api.conftest import assert_error
from tests.conftest import MARKER

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _build(ws: Workspace, name: str, **options: object) -> None:
    build_snapshot(
        GenerationPlan(person_count=12, seed=5),
        vocab=ws.vocabulary(),
        store=ws.store(),
        marker=MARKER,
        name=name,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def dl_client(shared_workspace: Workspace) -> TestClient:
    _build(shared_workspace, "dl-v0.1", formats=("csv", "json", "parquet"))
    _build(shared_workspace, "parts-v0.1", layout="parts", block_size=4)
    from esdh_agent.api.app import create_app
    from esdh_agent.api.settings import ApiSettings

    return TestClient(create_app(shared_workspace, ApiSettings()))


@pytest.mark.parametrize("name", ["dl-v0.1", "parts-v0.1"])
def test_every_listed_file_downloads_with_its_checksum(
    dl_client: TestClient, shared_workspace: Workspace, name: str
) -> None:
    manifest = shared_workspace.store().manifest(name)
    listing = dl_client.get(f"/snapshots/{name}/files").json()
    assert listing["name"] == name and listing["content_hash"] == manifest.content_hash
    assert [f["path"] for f in listing["files"]] == [f.path for f in manifest.files]
    assert listing["count"] == len(manifest.files) >= 4
    for entry in listing["files"]:
        response = dl_client.get(entry["url"])
        assert response.status_code == 200, (entry, response.text)
        body = response.content
        digest = hashlib.sha256(body).digest()
        assert len(body) == entry["bytes"] and digest.hex() == entry["sha256"]
        assert response.headers["etag"] == f'"{entry["sha256"]}"'
        assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
        assert response.headers["digest"] == f"SHA-256={base64.b64encode(digest).decode()}"
        extension = entry["path"].rsplit(".", 1)[1]
        expected = MEDIA.get(extension, "application/vnd.apache.parquet")
        assert response.headers["content-type"] == expected
        basename = entry["path"].rsplit("/", 1)[-1]
        assert f'filename="{name}-{basename}"' in response.headers["content-disposition"]
        assert response.headers["accept-ranges"] == "bytes"  # a streamed FileResponse
    if name == "parts-v0.1":
        assert "persons/part-00002.csv" in [f["path"] for f in listing["files"]]


def test_if_none_match_gives_304_and_range_is_honoured(dl_client: TestClient) -> None:
    url = "/snapshots/dl-v0.1/files/persons.csv"
    first = dl_client.get(url)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = dl_client.get(url, headers={"If-None-Match": header})
        assert response.status_code == 304 and response.content == b"", header
        assert response.headers["etag"] == etag
    assert dl_client.get(url, headers={"If-None-Match": '"stale"'}).content == first.content
    part = dl_client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == first.content[:10]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/snapshots/dl-v0.1/files/manifest.json", 404, "not_found"),  # not a listed file
        ("/snapshots/dl-v0.1/files/nope.csv", 404, "not_found"),
        ("/snapshots/no-such/files/persons.csv", 404, "not_found"),
        ("/snapshots/no-such/files", 404, "not_found"),
        ("/snapshots/dl-v0.1/files/%2e%2e/%2e%2e/etc/passwd", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/..%2fmanifest.json", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/%2fetc%2fpasswd", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/.hidden", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/persons..csv", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/persons.csv/", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/a//b.csv", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/..%5cmanifest.json", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/persons.csv%00", 400, "invalid_path"),
        ("/snapshots/dl-v0.1/files/persons.csv%0a", 400, "invalid_path"),
        ("/snapshots/DL/files/persons.csv", 400, "invalid_name"),
        ("/snapshots/%2e%2e/files/persons.csv", 400, "invalid_name"),
        ("/snapshots/a%2fb/files/persons.csv", 400, "invalid_name"),
    ],
)
def test_traversal_and_unlisted_paths_are_refused(
    dl_client: TestClient, path: str, status: int, code: str
) -> None:
    response = dl_client.get(path)
    assert_error(response, status, code)
    assert "format_version" not in response.text and "root:" not in response.text


def test_a_file_linked_out_of_the_snapshot_or_changed_is_not_served(
    workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    _build(workspace, "x-v0.1")
    client = make_client(workspace, raise_errors=False)
    snapshot = workspace.store().path("x-v0.1")
    secret = workspace.root.parent / "secret.csv"
    secret.write_text("secret-outside-the-snapshot\n")
    (snapshot / "persons.csv").unlink()
    os.symlink(secret, snapshot / "persons.csv")
    response = client.get("/snapshots/x-v0.1/files/persons.csv")
    assert_error(response, 404, "not_found")
    assert "secret" not in response.text
    (snapshot / "vehicles.csv").write_text("truncated\n")
    assert_error(client.get("/snapshots/x-v0.1/files/vehicles.csv"), 500, "snapshot_corrupt")
