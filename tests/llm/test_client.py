"""Structured output against a loopback server: mode fallback, re-asks, retries, budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from esdh_agent.errors import BudgetExceeded, LLMError
from esdh_agent.llm.client import Budget, Budgets, LLMClient, LLMSettings
from esdh_agent.llm.transcript import Transcript, read_transcript

from tests.llm.fake_server import completion, fake_openai, reject_json_schema, status


class Answer(BaseModel):
    count: int
    name: str


def client(url: str, tmp_path: Path, *, max_calls: int = 20, mode: str = "live") -> LLMClient:
    settings = LLMSettings(
        mode=mode,
        base_url=url,
        api_key="sk-" + "test-key-that-must-not-leak-1234",  # fake
        max_retries=2,
        timeout_seconds=5,
    )  # type: ignore[arg-type]
    return LLMClient(
        settings,
        Budget(Budgets(max_calls=max_calls)),
        Transcript(tmp_path / "t.jsonl", "run"),
        label="slice",
    )


def ask(llm: LLMClient, reasks: int = 2):
    return llm.structured(
        node="planner", model="m", system="s", user="u", schema=Answer, max_reasks=reasks
    )


def test_json_schema_rejection_falls_back_once_and_is_remembered(tmp_path: Path) -> None:
    good = completion('{"count": 3, "name": "x"}')
    with fake_openai([reject_json_schema(good)]) as server:
        llm = client(server.url, tmp_path)
        first, second = ask(llm), ask(llm)
    assert first.value == Answer(count=3, name="x") and first.mode == "json_object"
    formats = [r.get("response_format", {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # rejection not retried
    assert server.requests[1]["response_format"]["schema"]["properties"]["count"]["type"] == (
        "integer"
    )
    assert second.value is not None


def test_invalid_json_is_reasked_with_a_short_deterministic_error_list(tmp_path: Path) -> None:
    script = [completion('{"count": "many"}'), completion('{"count": 2, "name": "ok"}')]
    with fake_openai(script) as server:
        result = ask(client(server.url, tmp_path))
    assert result.value == Answer(count=2, name="ok") and result.attempts == 2
    reask = server.requests[1]["messages"][-1]["content"]
    assert "count: Input should be a valid integer" in reask and "name: Field required" in reask
    assert "http" not in reask and "pydantic" not in reask


def test_truncated_output_is_reasked_then_given_up(tmp_path: Path) -> None:
    with fake_openai([completion('{"count": 1, "na', finish_reason="length")]) as server:
        result = ask(client(server.url, tmp_path), reasks=1)
    assert result.value is None and result.attempts == 2
    assert "cut off" in result.errors[0]
    events = read_transcript(tmp_path / "t.jsonl")
    assert [e["type"] for e in events].count("llm_request") == 2
    assert events[-1]["type"] == "structured_failed"


def test_rate_limit_with_retry_after_is_retried(tmp_path: Path) -> None:
    script = [
        status(429, {"retry-after": "0"}),
        status(503),
        completion('{"count": 1, "name": "a"}'),
    ]
    with fake_openai(script) as server:
        llm = client(server.url, tmp_path)
        llm.settled_modes["m"] = "json_object"  # skip the probe
        result = ask(llm)
    assert result.value is not None and len(server.requests) == 3


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    with fake_openai([status(401)]) as server:
        llm = client(server.url, tmp_path)
        llm.settled_modes["m"] = "json_object"
        with pytest.raises(LLMError, match="HTTP 401"):
            ask(llm)
    assert len(server.requests) == 1


def test_server_errors_give_up_after_the_retry_ceiling(tmp_path: Path) -> None:
    with fake_openai([status(500)]) as server:
        llm = client(server.url, tmp_path)
        llm.settled_modes["m"] = "json_object"
        with pytest.raises(LLMError, match="after 3 attempts"):
            ask(llm)
    assert len(server.requests) == 3


def test_budget_stops_a_runaway_run(tmp_path: Path) -> None:
    with (
        fake_openai([completion("no json here")]) as server,
        pytest.raises(BudgetExceeded, match="max_calls 3"),
    ):
        ask(client(server.url, tmp_path, max_calls=3), reasks=10)


def test_api_key_never_reaches_the_transcript(tmp_path: Path) -> None:
    with fake_openai([completion('{"count": 1, "name": "a"}')]) as server:
        ask(client(server.url, tmp_path))
    assert server.headers[0]["authorization"].startswith("Bearer sk-test-key")
    text = (tmp_path / "t.jsonl").read_text()
    assert "sk-test-key" not in text
    assert json.loads(text.splitlines()[-1])["type"] == "llm_response"
