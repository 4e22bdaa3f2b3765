"""The index at /, and Swagger UI and ReDoc served offline — checked in headless Chromium.

The browser test uses Debian's ``chromium`` (``/usr/bin/chromium``) driven by the
``playwright`` package, never a browser Playwright downloads, and is skipped with the reason
when either is missing. Every request the pages make is intercepted: anything not addressed
to the test server is recorded and refused, so the pages must render from this server alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from esdh_agent import __version__
from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.workspace import Workspace

from tests.helpers import chromium, serve


def test_the_index_links_the_docs_and_lists_every_operation(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    index = response.json()
    assert index["name"] == "esdh-agent" and index["version"] == __version__
    assert index["links"]["docs"] == "/docs" and index["links"]["redoc"] == "/redoc"
    assert index["links"]["openapi"] == "/openapi.json" and index["links"]["healthz"] == "/healthz"
    for link in index["links"].values():
        assert client.get(link).status_code == 200, link
    schema = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    listed = {(e["method"], e["path"]) for e in index["endpoints"]}
    assert listed == documented and ("GET", "/generate/bundle") in listed
    assert all(e["summary"] for e in index["endpoints"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_doc_pages_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    html = client.get(page).text
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
        assert asset.headers["cache-control"] == "public, max-age=86400"


@pytest.fixture(scope="module")
def served(shared_workspace: Workspace) -> Iterator[str]:
    with serve(create_app(shared_workspace, ApiSettings())) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def page(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(profile, viewport={"width": 1280, "height": 900}) as context:
        context.set_default_timeout(15_000)
        elsewhere: list[str] = []
        problems: list[str] = []

        def only_this_server(route: Any) -> None:
            if route.request.url.startswith(served + "/"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        tab = context.new_page()
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        yield tab, served, elsewhere, problems


def test_swagger_ui_renders_the_operations_offline(page: Any, tmp_path: Path) -> None:
    tab, base, elsewhere, problems = page
    tab.goto(f"{base}/docs")
    tab.wait_for_selector(".opblock")
    operations = tab.eval_on_selector_all(
        ".opblock",
        "els => els.map(e => e.querySelector('.opblock-summary-method').innerText + ' ' + "
        "e.querySelector('.opblock-summary-path').getAttribute('data-path'))",
    )
    for expected in (
        "GET /generate/person",
        "POST /generate/bundle",
        "GET /snapshots/{name}/files/{file_path}",
        "GET /healthz",
        "GET /",
    ):
        assert expected in operations, operations
    assert "ESDH agent API" in tab.inner_text(".info .title")
    tab.screenshot(path=str(tmp_path / "docs.png"))
    assert elsewhere == [] and problems == []
    problems.clear()


def test_redoc_renders_the_operations_offline(page: Any) -> None:
    tab, base, elsewhere, problems = page
    tab.goto(f"{base}/redoc")
    tab.wait_for_selector("[data-section-id]")
    text = tab.inner_text("body")
    for summary in ("Generate a linked bundle", "Download one file of a snapshot", "Index"):
        assert summary in text
    assert elsewhere == []
    # ReDoc's footer logo comes from its CDN: the page's CSP blocks it before any request
    # (ReDoc then hides it); nothing else may fail.
    assert all("Content Security Policy" in p and "cdn.redoc.ly" in p for p in problems)
