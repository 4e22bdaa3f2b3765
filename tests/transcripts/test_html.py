"""render_run_html: content, escaping of model output, finding order, determinism."""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import re
from typing import Any

from esdh_agent.transcripts.html import render_run_html
from esdh_agent.transcripts.request import slice_prose
from esdh_agent.workspace import Workspace

from tests.transcripts.conftest import Revised, Runs, load

EVIL = '</pre></code><script>alert("pwned")</script><img src=x onerror="alert(1)">'


def _evil_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    record = {
        "run_id": "run-<b>1</b>",
        "slice_id": 'slice"><script>alert(2)</script>',
        "status": "refused",
        "reason": EVIL,
        "plan": {"seed": 1, "note<script>": EVIL},
        "approval": {"approved": False, "by": EVIL, "comment": EVIL, "at": "now"},
    }
    findings = [
        {"severity": "minor", "status": "advisory", "message": "advice", "reason": "no check"},
        {"severity": "major", "status": "dismissed", "message": "dismissed", "reason": "pinned"},
        {"severity": "info", "status": "satisfied", "message": "satisfied", "reason": "meets"},
        {"severity": "minor", "status": "verified", "message": "verified-minor", "reason": "x"},
        {"severity": "critical", "status": "verified", "message": "BLOCKER", "blocking": True},
    ]
    events = [
        {"seq": 1, "ts": "2026-01-01T00:00:00.000+00:00", "node": "planner", "type": "llm_request",
         "model": "m", "mode": "json_object", "messages": [{"role": "user", "content": EVIL}]},
        {"seq": 2, "ts": "2026-01-01T00:00:00.100+00:00", "node": "planner",
         "type": "llm_response", "content": EVIL, "prompt_tokens": 10, "completion_tokens": 5,
         "latency_ms": 7, "mode": "json_object", "finish_reason": "stop"},
        {"seq": 3, "ts": "2026-01-01T00:00:00.200+00:00", "node": 'critic:ev"il',
         "type": "verdict", "critic": 'ev"il', "passed": False, "abstained": False,
         "score": 0.1, "summary": EVIL, "findings": findings, "revision": 0},
        {"seq": 4, "ts": "2026-01-01T00:00:00.300+00:00", "node": "decide", "type": "decision",
         "decision": "give_up", "failing": ['ev"il'], "revision": 0},
    ]  # fmt: skip
    return record, events


def test_model_output_is_escaped_everywhere() -> None:
    page = render_run_html(*_evil_run())
    assert page.count("<script") == 1  # only the page's own script
    assert "<img" not in page and 'onerror="alert' not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert 'data-critic="ev&quot;il"' in page
    assert "run-&lt;b&gt;1&lt;/b&gt;" in page
    # Markup where a summary belongs is not prose: shown as unusable, the raw text escaped.
    assert "summary: <b>unusable answer</b>" in page


def test_blocking_and_verified_findings_come_first() -> None:
    page = render_run_html(*_evil_run())
    card = _card(page, "verdict-r0-ev-il")
    assert 'data-state="blocking"' in card and "blocks: critical finding verified" in card
    statuses = re.findall(r'class="finding( blocking)?" data-status="(\w+)"', card)
    assert statuses == [
        (" blocking", "verified"),
        ("", "verified"),
        ("", "satisfied"),
        ("", "dismissed"),
        ("", "advisory"),
    ]
    assert card.index("BLOCKER") < card.index("verified-minor") < card.index("advice")


def test_output_is_deterministic(workspace: Workspace, runs: Runs) -> None:
    record, events = load(workspace, runs.refused)
    first = render_run_html(record, events)
    assert render_run_html(copy.deepcopy(record), copy.deepcopy(events)) == first
    assert render_run_html(*load(workspace, runs.refused)) == first
    assert render_run_html(*_evil_run()) == render_run_html(*_evil_run())


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)">', page)


def test_the_request_comes_first_then_plan_gate_data_critics(
    workspace: Workspace, runs: Runs
) -> None:
    record, events = load(workspace, runs.baseline)
    page = render_run_html(record, events)
    # The request, then the requirements read from it, then plan, gate, data, critics.
    order = ["request", "requirements", "plan", "gate", "validation", "critics"]
    assert _sections(page)[:6] == order
    assert "slice baseline version 1.0.0 — recorded by the run" in page
    # A transcript from before runs recorded their request: the planner's prompt still has it.
    older = render_run_html(record, [e for e in events if e.get("type") != "request"])
    assert "slice baseline version 1.0.0 — as the planner received it" in older
    prose = re.search(r'<blockquote id="request-prose">(.*?)</blockquote>', page, re.S)
    # Grounded quotes are marked (and tagged with their requirement's id) in the prose; the
    # words a reader sees are the prose the run recorded, unchanged.
    assert prose and '<mark class="req st-met" data-reqs="R1"' in prose.group(1)
    text = html.unescape(re.sub(r"<sup>.*?</sup>|<[^>]+>", "", prose.group(1)))
    recorded = next(e["prose"] for e in events if e.get("type") == "request")
    assert text.startswith("We need the standard v0.1 baseline") and text == recorded.strip()
    # Each plan field says where it came from: the baseline is locked, so pinned or default.
    assert 'id="plan-person_count" data-source="pinned"' in page
    assert 'id="plan-make_mix" data-source="default"' in page
    assert 'data-source="model"' not in page


def test_critic_cards_say_what_each_verdict_means(workspace: Workspace, runs: Runs) -> None:
    page = render_run_html(*load(workspace, runs.baseline))
    # A low score with no verified finding does not count (the recorded governance answer
    # scores 0 and names no finding)...
    governance = _card(page, "verdict-r0-governance-privacy")
    assert 'data-state="advisory"' in governance
    assert '<span class="badge wait">advisory</span>' in governance
    assert (
        'id="verdict-r0-governance-privacy-reason">does not count: score 0.00 below 0.5 but no '
        "verified finding</p>" in governance
    )
    # ...its summary ends in a half-written JSON object: shown as unusable, raw text kept.
    assert "summary: <b>unusable answer</b>" in governance and "what the model wrote" in governance
    # ...nor does a critical finding with no check the framework can verify (plan-fidelity's
    # recorded answer: score 0.5, one critical finding without a check).
    card = _card(page, "verdict-r0-plan-fidelity")
    assert 'data-state="advisory"' in card and '<span class="badge wait">advisory</span>' in card
    assert (
        'id="verdict-r0-plan-fidelity-reason">does not count: critical finding not verified '
        "(no check the framework can verify): This request is not allowed to be made again.</p>"
        in card
    )
    assert 'class="finding" data-status="advisory"' in card
    # Input beside output: the critic's prompt and its numbered answer.
    assert "input: the prompt (" in card and "attempt 1 (" in card
    realism = _card(page, "verdict-r0-realism-coherence")
    assert 'data-state="pass"' in realism and "passes: score 0.50 meets 0.4" in realism
    assert "model&#x27;s summary: The request is not acceptable and the data" in realism
    rules = _card(page, "verdict-r0-rules")
    assert 'data-state="pass"' in rules and "passes: no error-level validation findings" in rules
    # The rule-based request critic always runs, on the ledger verified on the data.
    request = _card(page, "verdict-r0-request")
    assert 'data-state="pass"' in request
    assert "passes: all 32 checkable requirement(s) met on the data" in request
    # Advisory cards come before plain passes.
    advisory = max(
        page.index(f'id="verdict-r0-{c}"') for c in ("plan-fidelity", "governance-privacy")
    )
    passes = min(
        page.index(f'id="verdict-r0-{c}"') for c in ("rules", "request", "realism-coherence")
    )
    assert advisory < passes


def test_the_mode_fallback_is_info_and_attempts_are_numbered(
    workspace: Workspace, runs: Runs
) -> None:
    page = render_run_html(*load(workspace, runs.paused))
    assert "info: server does not support json_schema; using json_object" in page
    assert "model error, attempt" not in page and "(expected; not a model error)" in page
    for n in (1, 2, 3):
        assert f"request to smollm2-135m-instruct (json_object, attempt {n})" in page
    assert 'id="usage-planner"' in page


def test_a_blocking_verdict_shows_its_verified_finding(revised_run: Revised) -> None:
    page = render_run_html(revised_run.record, revised_run.events, request=revised_run.prose)
    card = _card(page, "verdict-r0-plan-fidelity")
    assert 'data-state="blocking"' in card and "BLOCKING" in card
    reason = re.search(r'-reason">(.*?)</p>', card)
    # The default makes are a fifth Fords; the request asked for about half.
    assert reason and reason.group(1).startswith(
        "blocks: major finding verified (make=Ford: expected 0.500, observed 0.200)"
    )
    assert 'data-state="pass"' in _card(page, "verdict-r1-plan-fidelity")
    # A scripted run records no request: the prose comes from the slice file, labelled.
    assert "from the slice file (the transcript does not hold it)" in page
    assert page[page.index('id="request-prose"') :].startswith('id="request-prose">Fleet refresh: ')
    # The plan's sources: the slice pins the count, the words set the state (linked to the
    # requirement's row), the planner set the makes on its second answer and the model years
    # on both; the rest stayed at the defaults.
    assert 'id="plan-person_count" data-source="pinned"' in page
    assert 'id="plan-state_mix" data-source="request R2"' in page
    assert '<td class="src-request">request <a href="#req-R2">R2</a></td>' in page
    assert '<tr id="req-R2" ' in page
    assert 'id="plan-model_year_min" data-source="model"' in page
    assert 'id="plan-make_mix" data-source="model"' in page
    assert 'id="plan-body_style_mix" data-source="default"' in page


def test_a_run_refused_at_the_gate(workspace: Workspace, runs: Runs) -> None:
    record, events = load(workspace, runs.refused)
    recorded = render_run_html(record, events)
    assert "slice impossible-14 version 1.0.0 — recorded by the run" in recorded
    # Older transcripts of runs refused before the planner hold no prose at all.
    events = [e for e in events if e.get("type") != "request"]
    page = render_run_html(record, events)
    assert f"<title>ESDH run {runs.refused} — refused</title>" in page
    assert 'id="run-status" class="badge " data-status="refused">refused<' in page
    assert "no approval can allow it" in page[page.index('id="run-why"') :][:400]
    # The gate refused before the planner was asked: the transcript holds no prose...
    assert "prose is not in this transcript." in page
    # ...so a caller with the workspace passes the slice file's, labelled as such.
    prose = "We want to check that the quote engine rejects underage drivers"
    with_prose = render_run_html(record, events, request=slice_prose(workspace, "impossible-14"))
    assert "from the slice file (the transcript does not hold it)" in with_prose
    assert prose in with_prose[with_prose.index('id="request-prose"') :][:300]
    assert "No critic judged this run." in page and 'id="gate-message"' in page
    assert page.count('class="filterable event"') == len(events)
    assert all(f'id="ev-{e["seq"]}"' in page for e in events)


def _card(page: str, ident: str) -> str:
    start = page.index(f'id="{ident}"')
    start = page.rindex("<div", 0, start)
    end = page.find('<div class="filterable card', start + 10)
    return page[start : end if end > 0 else page.index("</section>", start)]


def test_page_is_self_contained_and_its_csp_matches(workspace: Workspace, runs: Runs) -> None:
    page = render_run_html(*load(workspace, runs.baseline))
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    # Nothing is loaded from elsewhere: no src at all, and every link is an in-page anchor
    # (the request's marks and the requirements' rows link to each other) whose target is
    # on the page.
    assert not re.search(r"\bsrc\s*=", page)
    links = re.findall(r"""\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", page)
    assert links and all(re.fullmatch(r'"#[\w-]+"', link) for link in links), links
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    assert {link[2:-1] for link in links} <= ids
    assert "http://" not in page and "https://" not in page
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in page.replace("&#x27;", "'")
    assert "Every critic passed" in page or "every critic passed" in page


def test_paused_run_report_shows_what_awaits_approval(workspace: Workspace, runs: Runs) -> None:
    record, events = load(workspace, runs.paused)
    page = render_run_html(record, events)
    assert 'data-status="awaiting_approval"' in page and 'class="badge wait"' in page
    assert "paused for a human approval: person_count 120000" in page
    why = page[page.index('id="run-why"') :][:600]
    assert f"answer with: esdh-agent resume {runs.paused} --approve|--reject" in why
    assert "Waiting for approval" in page and "No critic judged this run." in page
    assert f'<code id="gate-resume">esdh-agent resume {runs.paused} --approve|--reject' in page
    assert 'id="plan-person_count" data-source="pinned"' in page
    assert 'id="plan-dropped"' in page  # the planner's invalid fields, listed
