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
from esdh_agent.transcripts.request import slice_prose
from esdh_agent.workspace import Workspace

from tests.helpers import chromium
from tests.transcripts.conftest import Runs, load
from tests.transcripts.test_html import _evil_run

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
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(profile, viewport=VIEWPORT, offline=True) as context:
        context.set_default_timeout(5_000)
        yield Browser(context)


def _visible(page: Any, selector: str, attribute: str) -> list[str]:
    """The ``attribute`` of every element matching ``selector`` that is rendered."""
    values: list[str] = page.eval_on_selector_all(
        selector,
        f"els => els.filter(e => e.getClientRects().length > 0)"
        f".map(e => e.getAttribute('{attribute}'))",
    )
    return values


def _screenshot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert struct.unpack(">II", data[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])


def _in_first_screen(page: Any, selector: str) -> bool:
    """Is ``selector`` visible without scrolling (what a reviewer sees first)?"""
    box = page.locator(selector).bounding_box()
    return bool(box) and page.locator(selector).is_visible() and box["y"] < VIEWPORT["height"]


def test_report_renders_filters_and_screenshots(
    browser: Browser, workspace: Workspace, runs: Runs, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    export_command(runs.baseline, report, workspace.root)
    _, events = load(workspace, runs.baseline)
    page = browser.open(report)

    assert runs.baseline in page.title() and "committed" in page.title()
    status = page.locator("#run-status")
    assert status.is_visible() and status.inner_text() == "committed"
    assert page.locator("#filter-count").inner_text() == f"{len(events)} event(s) shown"
    # The request comes first, in the first screen; then the requirements read from it,
    # plan, gate, data, critics.
    assert _in_first_screen(page, "#request-prose")
    assert page.locator("#request-prose").inner_text().startswith("We need the standard v0.1")
    order = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert order[:6] == ["request", "requirements", "plan", "gate", "validation", "critics"]
    # Every verdict says what it means, and why, in words a reviewer can read.
    governance = page.locator("#verdict-r0-governance-privacy")
    assert governance.locator(".badge").inner_text() == "advisory"
    assert governance.locator(".reason").inner_text() == (
        "does not count: score 0.00 below 0.5 but no verified finding"
    )
    assert "unusable answer" in governance.inner_text()
    card = page.locator("#verdict-r0-plan-fidelity")
    assert card.locator(".badge").inner_text() == "advisory"
    assert (
        card.locator(".reason")
        .inner_text()
        .startswith(
            "does not count: critical finding not verified (no check the framework can verify)"
        )
    )
    assert page.locator("#verdict-r0-rules .badge").inner_text() == "pass"
    assert page.locator("#verdict-r0-request .badge").inner_text() == "pass"

    # A critic: other critics' rows and cards disappear; the planner's stay for context.
    page.select_option("#filter-critic", "plan-fidelity")
    shown = _visible(page, ".filterable", "data-critic")
    assert "plan-fidelity" in shown and not (set(shown) - {"plan-fidelity", ""})
    assert page.locator("#verdict-r0-rules").is_hidden()
    assert page.locator("#verdict-r0-plan-fidelity").is_visible()
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
    # The expected json_schema fallback reads as info, never as a model error.
    fallback = page.locator("tr.event.info").first
    assert "info: server does not support json_schema; using json_object" in (fallback.inner_text())
    page.evaluate("() => window.scrollTo(0, 0)")
    _screenshot(page, tmp_path / "committed.png")

    assert browser.problems == []  # the CSP hashes match: style and script both ran
    assert all(url.startswith("file://") for url in browser.requests), browser.requests
    page.close()


def test_refused_and_paused_reports_open_with_the_request(
    browser: Browser, workspace: Workspace, runs: Runs, tmp_path: Path
) -> None:
    refused = tmp_path / "refused.html"
    write_report(
        refused,
        render_run_html(
            *load(workspace, runs.refused), request=slice_prose(workspace, "impossible-14")
        ),
    )
    page = browser.open(refused)
    assert page.locator("#run-status").inner_text() == "refused"
    assert "no approval can allow it" in page.locator("#run-why").inner_text()
    assert _in_first_screen(page, "#request-prose")
    assert "14 or 15 years old" in page.locator("#request-prose").inner_text()
    assert "no approval can allow it" in page.locator("#gate-message").inner_text()
    _screenshot(page, tmp_path / "refused.png")
    page.close()

    paused = tmp_path / "paused.html"
    export_command(runs.paused, paused, workspace.root)
    page = browser.open(paused)
    assert page.locator("#run-status").inner_text() == "awaiting_approval"
    assert "person_count 120000" in page.locator("#run-why").inner_text()
    assert _in_first_screen(page, "#request-prose")
    resume = page.locator("#gate-resume").inner_text()
    assert resume == f"esdh-agent resume {runs.paused} --approve|--reject"
    _screenshot(page, tmp_path / "paused.png")
    assert browser.problems == []
    page.close()


def test_injected_markup_stays_text_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    report = write_report(tmp_path / "evil.html", render_run_html(*_evil_run()))
    page = browser.open(report)
    assert page.evaluate("() => document.scripts.length") == 1
    assert page.evaluate("() => document.images.length") == 0
    assert 'alert("pwned")' in page.locator("#run-why").inner_text()
    assert page.locator('[data-critic="ev\\"il"]').count() >= 2
    page.close()
