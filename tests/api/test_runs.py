"""GET /runs, /runs/{id} and /runs/{id}/view over a replayed baseline agent run."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from esdh_agent.api.routes.runs import check_run_id
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace

from tests.api.conftest import RecordedRun, assert_error

# A literal ".." is normalised away by the HTTP client (`/runs/..` becomes `/`, the index);
# the raw-socket tests in test_raw_paths.py send it as written.
BAD_IDS = [
    "%2e%2e",
    "%2e%2e%2f",
    "%2e%2e%2fetc%2fpasswd",
    "..%2f..%2fetc",
    ".hidden",
    "-dash-first",
    "_underscore-first",
    "a..b",
    "%2fetc%2fpasswd",
    "a%2fb",
    "run%00id",
    "run%0a",
    "run id",
    "r" * 102,
    "%252e%252e",
]


@pytest.fixture
def runs_client(recorded_run: RecordedRun, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(recorded_run.workspace)


def test_the_fixture_run_finished(recorded_run: RecordedRun) -> None:
    assert recorded_run.status == "committed"


def test_list(runs_client: TestClient, recorded_run: RecordedRun) -> None:
    body = runs_client.get("/runs").json()
    assert body["count"] == 1
    [run] = body["runs"]
    assert list(run) == ["run_id", "slice_id", "status", "started_at", "ended_at", "llm_mode"]
    assert run["run_id"] == recorded_run.run_id
    assert (run["slice_id"], run["status"], run["llm_mode"]) == ("baseline", "committed", "replay")


def test_show_returns_the_record_and_every_event(
    runs_client: TestClient, recorded_run: RecordedRun
) -> None:
    response = runs_client.get(f"/runs/{recorded_run.run_id}")
    assert response.status_code == 200
    body = response.json()
    run_dir = recorded_run.workspace.data / "runs" / recorded_run.run_id
    assert body["run"] == json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert body["events"] == read_transcript(run_dir / "transcript.jsonl")
    assert body["events"] and body["events"][0]["type"] == "run_start"


def test_view_is_501_until_the_html_module_exists(
    runs_client: TestClient, recorded_run: RecordedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "esdh_agent.transcripts.html", None)  # import fails
    response = runs_client.get(f"/runs/{recorded_run.run_id}/view")
    assert_error(response, 501, "not_implemented")
    monkeypatch.setitem(sys.modules, "esdh_agent.transcripts.html", types.ModuleType("empty"))
    assert_error(runs_client.get(f"/runs/{recorded_run.run_id}/view"), 501, "not_implemented")


def test_view_renders_html_with_the_module(
    runs_client: TestClient, recorded_run: RecordedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def render_run_html(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
        seen.append((record, events))
        return f"<!doctype html><title>{record['run_id']}</title><p>{len(events)} events</p>"

    stand_in = types.ModuleType("esdh_agent.transcripts.html")
    stand_in.render_run_html = render_run_html  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "esdh_agent.transcripts.html", stand_in)
    response = runs_client.get(f"/runs/{recorded_run.run_id}/view")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert recorded_run.run_id in response.text
    record, events = seen[0]
    assert record["run_id"] == recorded_run.run_id and events[0]["type"] == "run_start"


def test_unknown_runs_are_404(runs_client: TestClient) -> None:
    for path in ("/runs/20250101T000000Z-nope-000000", "/runs/nope/view"):
        assert_error(runs_client.get(path), 404, "not_found")


@pytest.mark.parametrize("run_id", BAD_IDS)
def test_unsafe_run_ids_are_refused(runs_client: TestClient, run_id: str) -> None:
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/view"):
        response = runs_client.get(path)
        assert_error(response)
        assert response.status_code in (400, 404), (path, response.text)


def test_encoded_traversal_is_400(runs_client: TestClient) -> None:
    for run_id in ("%2e%2e", "%2e%2e%2fetc", "..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd"):
        assert_error(runs_client.get(f"/runs/{run_id}"), 400, "invalid_run_id")
        assert_error(runs_client.get(f"/runs/{run_id}/view"), 400, "invalid_run_id")


@pytest.mark.parametrize("run_id", ["..", ".x", "a/b", "/etc", "a\nb", "a..b", "", "r" * 102])
def test_check_run_id_refuses(run_id: str) -> None:
    with pytest.raises(Exception, match="invalid run id"):
        check_run_id(run_id)


@pytest.mark.parametrize("run_id", ["20251101T101010Z-baseline-a1b2c3", "r", "A.b_c-1", "r" * 101])
def test_check_run_id_accepts(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


def test_a_corrupt_run_record_is_500_without_internals(
    workspace: Workspace, make_client: Callable[..., TestClient]
) -> None:
    run_dir = workspace.data / "runs" / "broken-run"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text("{oops", encoding="utf-8")
    client = make_client(workspace, raise_errors=False)
    assert client.get("/runs").json() == {"count": 0, "runs": []}  # unreadable: skipped
    response = client.get("/runs/broken-run")
    assert_error(response, 500, "run_corrupt")
    assert str(workspace.root) not in response.text


def test_a_run_dir_linked_outside_the_runs_folder_is_not_served(
    workspace: Workspace, make_client: Callable[..., TestClient], tmp_path: Any
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "run.json").write_text('{"run_id": "linked"}', encoding="utf-8")
    runs = workspace.data / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "linked").symlink_to(outside, target_is_directory=True)
    assert_error(make_client(workspace).get("/runs/linked"), 404, "not_found")


def test_view_with_the_real_renderer(runs_client: TestClient, recorded_run: RecordedRun) -> None:
    """Once esdh_agent.transcripts.html ships, the page is served as it renders it."""
    pytest.importorskip("esdh_agent.transcripts.html")
    response = runs_client.get(f"/runs/{recorded_run.run_id}/view")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert recorded_run.run_id in response.text
