"""The run page's request-first view: marked prose, ledger table, links both ways, escaping;
and in headless Chromium: a click on a mark lands on its requirement's row, the status
filter hides other rows, hostile prose runs nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esdh_agent.transcripts.html import render_run_html

from tests.helpers import chromium
from tests.transcripts.ledger_runs import HOSTILE, PROSE, fleet_ledger, hostile_ledger, write_run


def _section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}">')
    return page[start : page.index("</section>", start)]


def test_prose_marks_link_to_rows_and_rows_link_back(tmp_path: Path) -> None:
    page = render_run_html(*write_run(tmp_path, "r1"))
    request = _section(page, "request")
    # the overlap is split: the inner words are one mark naming both requirements
    assert (
        '<mark class="req st-met" data-reqs="R2 R1" title="R2 lob only [Commercial] (all): met;'
        in request
    )
    assert '<a href="#req-R2">commercial-line</a></mark>' in request
    assert '<mark class="req st-unmet" data-reqs="R3"' in request
    for rid in ("R1", "R2", "R3", "R4", "R5", "R6"):
        assert f'id="q-{rid}" href="#req-{rid}"' in request  # the tag where the quote ends
        assert f'<tr id="req-{rid}" ' in page
        assert f'href="#q-{rid}"' in _section(page, "requirements")  # and back
    assert 'href="#unsup-U1"' in request and '<li id="unsup-U1">' in page
    # the visible text of the request is the prose, unchanged
    text = re.sub(r"<sup>.*?</sup>|<[^>]+>", "", request.split('id="request-prose">')[1])
    assert text.replace("&#x27;", "'") == PROSE.strip().replace("&", "&amp;")


def test_ledger_rows_carry_status_measured_and_plan_fields(tmp_path: Path) -> None:
    page = render_run_html(*write_run(tmp_path, "r1"))
    section = _section(page, "requirements")
    r3 = section[section.index('<tr id="req-R3"') :].split("</tr>")[0]
    assert 'data-status="unmet"' in r3 and 'data-node="ground"' in r3
    assert '<span class="st st-unmet">unmet</span>' in r3
    assert '<td class="num">0.93</td>' in r3 and "7% of persons live in TX" in r3
    assert "<td>state_mix</td>" in r3
    p1 = section[section.index('<tr id="req-P1"') :].split("</tr>")[0]
    assert "(pinned)" in p1 and 'href="#q-P1"' not in p1
    warning = '<p id="requirements-warning" class="warn">committed, but 1 requirement(s) not'
    assert warning in section  # committed with parts not honoured
    assert '<mark class="req st-met" data-reqs="R4 R6"' in _section(page, "request")
    assert '<ul id="ledger-conflicts"><li><b>R4</b> kept over R6' in section
    assert "in Texas" in section and "not in the prose" in section  # discarded reading
    plan = _section(page, "plan")
    assert '<td class="src-request">request <a href="#req-R3">R3</a></td>' in plan
    assert '<td class="src-pinned">pinned</td>' in plan


def test_older_transcripts_render_as_before_with_a_note(tmp_path: Path) -> None:
    page = render_run_html(*write_run(tmp_path, "old", with_ledger=False))
    assert (
        '<p id="requirements-note" class="muted">recorded before requirements ledgers</p>' in page
    )
    assert "<mark" not in page and 'id="filter-req-status"' not in page
    assert "Please build 600 commercial-line customers" in _section(page, "request")


def test_hostile_prose_is_escaped_inside_and_outside_marks(tmp_path: Path) -> None:
    page = render_run_html(*write_run(tmp_path, "evil", prose=HOSTILE, ledger=hostile_ledger()))
    assert page.count("<script") == 1 and "<img" not in page and "<b>600" not in page
    request = _section(page, "request")
    assert (
        '<a href="#req-R1">&lt;b&gt;600&lt;/b&gt; persons &amp; &lt;script&gt;alert(&quot;x'
        "&quot;)&lt;/script&gt;</a></mark>" in request
    )
    assert 'href="#unsup-U1">&lt;img src=x onerror=alert(1)&gt;</a>' in request
    assert "&lt;i&gt;&quot;ok&quot;&lt;/i&gt;" in page and "&lt;u&gt;no&lt;/u&gt;" in page


def test_a_refused_requirement_is_red_and_listed_with_its_quote(tmp_path: Path) -> None:
    ledger = fleet_ledger()
    refused = [
        r.model_copy(update={"status": "refused", "detail": "TX is outside the policy"})
        if r.id == "R3"
        else r
        for r in ledger.requirements
    ]
    ledger = ledger.model_copy(update={"requirements": refused})
    record, events = write_run(tmp_path, "refused", ledger=ledger, status="refused")
    page = render_run_html(record, events)
    assert '<mark class="req st-refused" data-reqs="R3"' in page
    assert '<span class="st st-refused">refused</span>' in page
    listed = _section(page, "requirements").split('<div id="ledger-refused">')[1]
    assert listed.startswith("<ul><li>R3 &quot;in Arizona and Nevada&quot;: TX is outside")
    assert 'id="requirements-warning"' not in page  # nothing was committed
    assert render_run_html(record, events) == page  # deterministic


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-ledger")
    with chromium(profile, viewport={"width": 1280, "height": 700}, offline=True) as ctx:
        ctx.set_default_timeout(5_000)
        yield ctx


def _open(context: Any, path: Path, problems: list[str]) -> Any:
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def dialog(d: Any) -> None:
        problems.append(f"dialog {d.message}")  # injected script ran
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri())
    return page


def test_clicking_a_mark_lands_on_its_requirement_row(context: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.html"
    path.write_text(render_run_html(*write_run(tmp_path, "r1")), encoding="utf-8")
    problems: list[str] = []
    page = _open(context, path, problems)
    page.click('mark[data-reqs="R3"]')
    assert page.evaluate("location.hash") == "#req-R3"
    row = page.locator("tr#req-R3")
    assert row.evaluate("el => el.matches(':target')")
    # in view, below the sticky filter bar rather than under it
    box, height = row.bounding_box(), page.evaluate("innerHeight")
    bar = page.locator("#filters").bounding_box()
    assert box is not None and bar is not None
    assert bar["y"] + bar["height"] <= box["y"] < height
    middle = f"document.elementFromPoint({box['x'] + 20}, {box['y'] + box['height'] / 2})"
    assert page.evaluate(f"{middle}.closest('tr').id") == "req-R3"
    page.click("tr#req-R3 a.back")  # and back to its words
    assert page.evaluate("location.hash") == "#q-R3"
    # the overlap: the inner words lead to the inner requirement
    page.click('mark[data-reqs="R2 R1"]')
    assert page.evaluate("location.hash") == "#req-R2"
    page.select_option("#filter-req-status", "unmet")
    shown = page.eval_on_selector_all(
        "tr.req-row", "els => els.filter(e => e.getClientRects().length).map(e => e.id)"
    )
    assert shown == ["req-R3"]
    page.click("#filter-reset")
    assert page.locator("tr.req-row:visible").count() == 7
    assert problems == []


def test_hostile_prose_runs_nothing_in_the_browser(context: Any, tmp_path: Path) -> None:
    path = tmp_path / "evil.html"
    page_html = render_run_html(
        *write_run(tmp_path, "evil", prose=HOSTILE, ledger=hostile_ledger())
    )
    path.write_text(page_html, encoding="utf-8")
    problems: list[str] = []
    page = _open(context, path, problems)
    text = page.inner_text("#request-prose")
    assert '<script>alert("x")</script>' in text and "<img src=x onerror=alert(1)>" in text
    assert page.locator("#request-prose img, #request-prose b").count() == 0
    page.click('mark[data-reqs="R1"]')
    assert page.evaluate("location.hash") == "#req-R1"
    assert problems == []
