"""render_run_html: content, escaping of model output, finding order, determinism."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from typing import Any

from esdh_agent.transcripts.html import render_run_html
from esdh_agent.workspace import Workspace

from tests.transcripts.conftest import Runs, load

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


def test_blocking_and_verified_findings_come_first() -> None:
    page = render_run_html(*_evil_run())
    card = page[page.index('id="verdict-r0-ev-il"') :]
    card = card[: card.index("</div>")]
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


def test_refused_run_report_explains_the_refusal(workspace: Workspace, runs: Runs) -> None:
    record, events = load(workspace, runs.refused)
    page = render_run_html(record, events)
    assert f"<title>ESDH run {runs.refused} — refused</title>" in page
    assert 'id="run-status" class="badge " data-status="refused">refused<' in page
    assert "critics refused after 3 attempt(s): rules" in page
    for rev in (0, 1, 2):
        assert f'id="proposal-r{rev}"' in page and f'id="critics-r{rev}"' in page
        assert f'id="verdict-r{rev}-rules"' in page
    assert 'data-state="fail"' in page and "BLOCKING" in page and "domain.licence_age" in page
    # Filters offer every node and every critic; every event is one filterable row.
    for critic in ("rules", "plan-fidelity", "governance-privacy", "realism-coherence"):
        assert f'<option value="{critic}">' in page
        assert f'<option value="critic:{critic}">' in page
    assert page.count('class="filterable event"') == len(events)
    assert all(f'id="ev-{e["seq"]}"' in page for e in events)
    assert 'id="usage-planner"' in page and "re-asks" in page
    assert page.count("<details>") >= sum(e["type"] == "llm_response" for e in events)


def test_page_is_self_contained_and_its_csp_matches(workspace: Workspace, runs: Runs) -> None:
    page = render_run_html(*load(workspace, runs.baseline))
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "http://" not in page and "https://" not in page
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in page.replace("&#x27;", "'")
    assert "Every critic passed" in page or "every critic passed" in page


def test_paused_run_report_shows_what_awaits_approval(workspace: Workspace, runs: Runs) -> None:
    page = render_run_html(*load(workspace, runs.paused))
    assert 'data-status="awaiting_approval"' in page and 'class="badge wait"' in page
    assert "paused for a human approval: person_count 120000" in page
    assert "Waiting for approval" in page and "No critic judged this run." in page
