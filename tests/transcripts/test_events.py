"""Reading a transcript's model events: attempts numbered, the expected fallback as info."""

from __future__ import annotations

from typing import Any

from esdh_agent.transcripts.events import critic_exchanges, event_notes
from esdh_agent.workspace import Workspace

from tests.transcripts.conftest import Runs, load


def _call(node: str, *kinds: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind in kinds:
        event: dict[str, Any] = {"node": node, "type": kind, "attempt": 1}
        if kind == "reask":
            event["attempt"] = sum(e["type"] == "reask" for e in out) + 1
        out.append(event)
    return out


def test_re_asks_are_numbered_and_each_call_starts_again() -> None:
    planner = _call(
        "planner",
        *("llm_request", "llm_response", "reask") * 2,
        "llm_request",
        "llm_response",
        "structured_failed",
        "proposal",
        "llm_request",
        "llm_response",
        "proposal",
    )
    notes = event_notes(planner)
    numbered = [(e["type"], n.attempt) for e, n in zip(planner, notes, strict=True)]
    requests = [a for kind, a in numbered if kind == "llm_request"]
    assert requests == [1, 2, 3, 1]  # the transport said "attempt 1" every time
    assert [a for kind, a in numbered if kind == "reask"] == [1, 2]
    assert all(n.fallback is None for n in notes)


def test_parallel_critics_are_numbered_apart() -> None:
    events: list[dict[str, Any]] = [
        {"node": "critic:a", "type": "llm_request"},
        {"node": "critic:b", "type": "llm_request"},
        {"node": "critic:a", "type": "llm_response"},
        {"node": "critic:a", "type": "reask", "attempt": 1},
        {"node": "critic:b", "type": "llm_response"},
        {"node": "critic:a", "type": "llm_request"},
        {"node": "critic:b", "type": "verdict"},
        {"node": "critic:a", "type": "llm_response"},
        {"node": "critic:a", "type": "verdict"},
    ]
    attempts = [n.attempt for n in event_notes(events)]
    assert attempts == [1, 1, 1, 1, 1, 2, None, 2, None]
    exchanges = critic_exchanges(events)
    assert [len(exchanges[6]), len(exchanges[8])] == [2, 5]


def test_an_error_followed_by_a_mode_change_is_the_expected_fallback() -> None:
    events: list[dict[str, Any]] = [
        {"node": "planner", "type": "llm_request", "mode": "json_schema"},
        {"node": "critic:x", "type": "llm_request", "mode": "json_object"},  # interleaved
        {"node": "planner", "type": "llm_error", "mode": "json_schema", "status": 500},
        {"node": "planner", "type": "mode_rejected", "mode": "json_schema", "next_mode": "j"},
        {"node": "planner", "type": "llm_error", "mode": "j", "status": 500},  # a real one
        {"node": "planner", "type": "retry"},
    ]
    notes = event_notes(events)
    expected = "server does not support json_schema; using j"
    assert [n.fallback for n in notes] == [None, None, expected, expected, None, None]


def test_replayed_runs_open_with_the_fallback_as_info(workspace: Workspace, runs: Runs) -> None:
    _, events = load(workspace, runs.baseline)
    notes = event_notes(events)
    errors = [(e, n) for e, n in zip(events, notes, strict=True) if e["type"] == "llm_error"]
    assert errors and all(n.fallback for _, n in errors)
    _, paused = load(workspace, runs.paused)
    attempts: dict[str, list[int | None]] = {}
    for e, n in zip(paused, event_notes(paused), strict=True):
        if e["type"] == "llm_request" and e["mode"] == "json_object":
            attempts.setdefault(e["node"], []).append(n.attempt)
    # Attempts are numbered per node: the planner was re-asked twice; each of the grounding
    # questions (``extract:*``, asked before the planner) was answered on its first attempt.
    assert attempts.pop("planner") == [1, 2, 3]
    assert attempts and all(node.startswith("extract:") for node in attempts)
    assert all(numbers == [1] for numbers in attempts.values())
