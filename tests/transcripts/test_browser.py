"""The exported report in a real headless Chromium: renders, filters, runs no injected code.

Uses Debian's ``chromium`` (``/usr/bin/chromium``) driven by the ``playwright`` package,
never a browser that Playwright downloads. Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from esdh_agent.cli.transcripts_extra import export_command, write_report
from esdh_agent.transcripts.html import render_run_html
from esdh_agent.workspace import Workspace

from tests.transcripts.conftest import Runs, load
from tests.transcripts.test_html import _evil_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


@dataclass
class Browser:
    context: Any
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def _console(self, message: Any) -> None:
        if message.type == "error":  # e.g. a CSP violation: the page's own code was blocked
            self.problems.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        """An alert means injected script ran: record it, and dismiss it so the page goes on."""
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        """A new page at ``path``, recording every request and every console error."""
        page = self.context.new_page()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("dialog", self._dialog)
        page.goto(path.as_uri())
        return page


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing (pip install playwright)"
    )
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport=VIEWPORT,
            offline=True,
        )
        context.set_default_timeout(5_000)
        try:
            yield Browser(context)
        finally:
            context.close()


def _visible(page: Any, selector: str, attribute: str) -> list[str]:
    """The ``attribute`` of every element matching ``selector`` that is rendered."""
    values: list[str] = page.eval_on_selector_all(
        selector,
        f"els => els.filter(e => e.getClientRects().length > 0)"
        f".map(e => e.getAttribute('{attribute}'))",
    )
    return values


def test_report_renders_filters_and_screenshots(
    browser: Browser, workspace: Workspace, runs: Runs, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    export_command(runs.refused, report, workspace.root)
    _, events = load(workspace, runs.refused)
    page = browser.open(report)

    assert runs.refused in page.title() and "refused" in page.title()
    status = page.locator("#run-status")
    assert status.is_visible() and status.inner_text() == "refused"
    assert "critics refused" in page.locator("#run-why").inner_text()
    assert page.locator("#filter-count").inner_text() == f"{len(events)} event(s) shown"

    # A critic: other critics' rows and cards disappear; the planner's stay for context.
    page.select_option("#filter-critic", "rules")
    shown = _visible(page, ".filterable", "data-critic")
    assert "rules" in shown and not (set(shown) - {"rules", ""})
    assert page.locator("#verdict-r0-plan-fidelity").is_hidden()
    assert page.locator("#verdict-r0-rules").is_visible()
    assert "planner" in _visible(page, "tr.event", "data-node")

    # A node: only that node's timeline rows remain.
    page.click("#filter-reset")
    page.select_option("#filter-node", "planner")
    nodes = _visible(page, "tr.event", "data-node")
    planner = [e for e in events if e["node"] == "planner"]
    assert nodes == ["planner"] * len(planner)
    assert page.locator("#filter-count").inner_text() == f"{len(planner)} event(s) shown"
    assert page.locator("#critics .card:visible").count() == 0

    page.click("#filter-reset")
    assert len(_visible(page, "tr.event", "data-node")) == len(events)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert struct.unpack(">II", data[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])

    assert browser.problems == []  # the CSP hashes match: style and script both ran
    assert all(url.startswith("file://") for url in browser.requests), browser.requests
    page.close()


def test_injected_markup_stays_text_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    report = write_report(tmp_path / "evil.html", render_run_html(*_evil_run()))
    page = browser.open(report)
    assert page.evaluate("() => document.scripts.length") == 1
    assert page.evaluate("() => document.images.length") == 0
    assert 'alert("pwned")' in page.locator("#run-why").inner_text()
    assert page.locator('[data-critic="ev\\"il"]').count() >= 2
    page.close()
