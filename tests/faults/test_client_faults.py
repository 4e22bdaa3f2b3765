"""Every fault kind against the client alone: retried, re-asked, or one clear error.

Each case states what a live client must do with a server that misbehaves in one way, how
many requests it may spend doing it, and that every attempt lands in the transcript.
"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from esdh_agent.errors import BudgetExceeded, LLMError
from esdh_agent.llm.client import Budget, Budgets, LLMClient, LLMSettings, extract_json
from esdh_agent.llm.transcript import Transcript, read_transcript

from tests.faults.server import (
    Behaviour,
    completion,
    drop,
    faulty_openai,
    invalid_json,
    malformed,
    refusal,
    status,
    too_slow,
    truncated,
)

GOOD = completion('{"count": 3, "name": "ok"}')
RETRIES = 2


class Answer(BaseModel):
    count: int
    name: str


def make_client(
    url: str, tmp_path: Path, *, budgets: Budgets | None = None, settled: bool = True
) -> LLMClient:
    settings = LLMSettings(
        mode="live", base_url=url, api_key="k", max_retries=RETRIES, timeout_seconds=0.2
    )
    llm = LLMClient(
        settings,
        Budget(budgets or Budgets()),
        Transcript(tmp_path / "t.jsonl", "run"),
        label="drill",
    )
    if settled:
        llm.settled_modes["m"] = "json_object"  # the probe is tested on its own below
    return llm


def ask(llm: LLMClient, reasks: int = 1) -> Any:
    return llm.structured(
        node="planner", model="m", system="s", user="u", schema=Answer, max_reasks=reasks
    )


def kinds(tmp_path: Path) -> list[str]:
    return [e["type"] for e in read_transcript(tmp_path / "t.jsonl")]


# -- retryable: retried with backoff up to the ceiling, then one LLMError ------------------

RETRYABLE: dict[str, tuple[Behaviour, str]] = {
    "timeout": (too_slow(1.0), "no answer within the timeout"),
    "429": (status(429, {"retry-after": "0"}), "HTTP 429"),
    "500": (status(500), "HTTP 500"),
    "503": (status(503), "HTTP 503"),
    "408": (status(408), "HTTP 408"),
    "dropped connection": (drop(), "connection failed or dropped"),
    "empty body {}": (malformed(b"{}"), "not a chat completion"),
    "no choices": (malformed(b'{"choices": []}'), "not a chat completion"),
    "null message": (
        malformed(b'{"choices": [{"index": 0, "finish_reason": "stop", "message": null}]}'),
        "not a chat completion",
    ),
    "HTML page": (malformed(b"<html>bad gateway</html>", "text/html"), "not a chat completion"),
    "broken JSON body": (malformed(b'{"choices": [', "application/json"), "chat completion"),
}


@pytest.mark.parametrize("fault", list(RETRYABLE))
def test_retryable_faults_recover_when_the_server_does(
    fault: str, tmp_path: Path, sleeps: list[float]
) -> None:
    behaviour, _ = RETRYABLE[fault]
    with faulty_openai([behaviour, behaviour, GOOD]) as server:
        result = ask(make_client(server.url, tmp_path))
    assert result.value == Answer(count=3, name="ok")
    assert server.count() == 3
    events = kinds(tmp_path)
    assert events.count("llm_request") == 3 and events.count("llm_error") == 2
    assert events.count("retry") == 2 and events.count("llm_response") == 1
    if fault != "429":  # Retry-After: 0 asks for no wait
        assert sleeps == [0.5, 1.0]  # exponential backoff from backoff_seconds


@pytest.mark.parametrize("fault", list(RETRYABLE))
def test_retryable_faults_stop_at_the_ceiling_with_one_clear_error(
    fault: str, tmp_path: Path
) -> None:
    behaviour, described = RETRYABLE[fault]
    with faulty_openai([behaviour]) as server, pytest.raises(LLMError) as caught:
        ask(make_client(server.url, tmp_path))
    message = caught.value.one_line()
    assert f"model call failed after {RETRIES + 1} attempts in drill/planner" in message
    assert described in message and "--base-url" in message
    assert "\n" not in message and "Traceback" not in message
    assert server.count() == RETRIES + 1
    events = read_transcript(tmp_path / "t.jsonl")
    requests = [e for e in events if e["type"] == "llm_request"]
    assert [e["attempt"] for e in requests] == [1, 2, 3]
    assert [e["attempt"] for e in events if e["type"] == "llm_error"] == [1, 2, 3]
    assert events[-1]["type"] == "llm_gave_up" and events[-1]["attempts"] == RETRIES + 1


def test_a_timeout_costs_the_timeout_not_the_server_delay(tmp_path: Path) -> None:
    started = time.monotonic()
    with faulty_openai([too_slow(5.0)]) as server, pytest.raises(LLMError, match="the timeout"):
        ask(make_client(server.url, tmp_path))
    elapsed = time.monotonic() - started
    assert elapsed < 2.0  # three 0.2 s timeouts, not three 5 s waits


# -- Retry-After: honoured, capped, never negative; never beyond the run's time budget ------


def _http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "-5"}, 0.0),  # a negative wait is no wait (time.sleep would raise)
        ({"retry-after": "1e9"}, 30.0),  # capped at retry_after_max_seconds
        ({"retry-after": "nan"}, 0.5),  # not a number: the backoff applies
        ({"retry-after": "soon"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": _http_date(-60)}, 0.0),  # a date in the past
    ],
)
def test_retry_after_is_honoured_within_bounds(
    headers: dict[str, str], expected: float, tmp_path: Path, sleeps: list[float]
) -> None:
    with faulty_openai([status(429, headers), GOOD]) as server:
        assert ask(make_client(server.url, tmp_path)).value is not None
    assert sleeps == ([expected] if expected else [])


def test_a_retry_after_date_is_converted_to_seconds(tmp_path: Path, sleeps: list[float]) -> None:
    with faulty_openai([status(503, {"retry-after": _http_date(20)}), GOOD]) as server:
        assert ask(make_client(server.url, tmp_path)).value is not None
    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 21


def test_a_wait_beyond_the_time_budget_stops_the_run_instead(
    tmp_path: Path, sleeps: list[float]
) -> None:
    with (
        faulty_openai([status(429, {"retry-after": "25"}), GOOD]) as server,
        pytest.raises(BudgetExceeded, match="would overrun max_seconds 10"),
    ):
        ask(make_client(server.url, tmp_path, budgets=Budgets(max_seconds=10)))
    assert sleeps == [] and server.count() == 1


# -- fixable: re-asked with the errors, then handed back as no value ------------------------

FIXABLE: dict[str, tuple[Behaviour, str]] = {
    "truncated (finish_reason=length)": (truncated('{"count": 3, "name": "ok"}'), "cut off"),
    "invalid JSON": (invalid_json(), "not valid JSON"),
    "no JSON at all": (completion("Sure! Here is the plan you asked for."), "no JSON object"),
    "schema broken": (completion('{"count": "many", "nme": 1}'), "count: Input should be"),
    "absurd values": (completion('{"count": -1e400, "name": 7}'), "count:"),
    "nesting bomb": (completion('{"a":' * 50_000), "nested too deeply"),
    "empty content": (completion(""), "no JSON object"),
}


@pytest.mark.parametrize("fault", list(FIXABLE))
def test_fixable_answers_are_reasked_then_given_back_empty(fault: str, tmp_path: Path) -> None:
    behaviour, error = FIXABLE[fault]
    with faulty_openai([behaviour]) as server:
        result = ask(make_client(server.url, tmp_path), reasks=2)
    assert result.value is None and result.refusal is None
    assert result.attempts == 3 and server.count() == 3
    assert any(error in e for e in result.errors), result.errors
    reask = server.seen[1].body["messages"][-1]["content"]
    assert reask.startswith("Your answer did not match the required JSON")
    events = kinds(tmp_path)
    assert events.count("reask") == 2 and events[-1] == "structured_failed"


@pytest.mark.parametrize("fault", list(FIXABLE))
def test_fixable_answers_recover_on_the_reask(fault: str, tmp_path: Path) -> None:
    behaviour, _ = FIXABLE[fault]
    with faulty_openai([behaviour, GOOD]) as server:
        result = ask(make_client(server.url, tmp_path))
    assert result.value == Answer(count=3, name="ok") and result.attempts == 2


def test_extract_json_turns_a_nesting_bomb_into_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        extract_json("[" + '{"a":' * 100_000)


# -- final: refusals and client errors ------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [refusal("I can't help with generating that data."), completion("", "content_filter")],
    ids=["refusal", "content_filter"],
)
def test_a_refusal_is_reported_not_reasked_and_never_raised(
    behaviour: Behaviour, tmp_path: Path
) -> None:
    with faulty_openai([behaviour]) as server:
        result = ask(make_client(server.url, tmp_path), reasks=2)
    assert result.value is None and result.refusal
    assert result.errors[0].startswith("the model refused")
    assert server.count() == 1  # pressing a model past its refusal is not a fix
    assert kinds(tmp_path)[-1] == "refused"


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_stop_at_once(code: int, tmp_path: Path) -> None:
    with faulty_openai([status(code)]) as server, pytest.raises(LLMError, match=f"HTTP {code}"):
        ask(make_client(server.url, tmp_path))
    assert server.count() == 1


# -- structured-output probing and the budget -----------------------------------------------


def test_the_probe_falls_back_through_every_mode(tmp_path: Path) -> None:
    def picky(seen: Any) -> Any:
        kind = (seen.body.get("response_format") or {}).get("type")
        if kind == "json_schema":
            return status(500)(seen)
        if kind == "json_object":
            return status(400)(seen)
        return GOOD(seen)

    with faulty_openai([picky]) as server:
        llm = make_client(server.url, tmp_path, settled=False)
        first, second = ask(llm), ask(llm)
    assert first.value is not None and first.mode == "prompt" and second.mode == "prompt"
    formats = [(s.body.get("response_format") or {}).get("type") for s in server.seen]
    assert formats == ["json_schema", "json_object", None, None]  # rejections not retried
    assert kinds(tmp_path).count("mode_rejected") == 2


@pytest.mark.parametrize(
    ("budgets", "match"),
    [(Budgets(max_calls=2), "max_calls 2"), (Budgets(max_tokens=40), "max_tokens 40")],
)
def test_budget_exhaustion_is_one_clear_error(budgets: Budgets, match: str, tmp_path: Path) -> None:
    with (
        faulty_openai([completion("not json", tokens=25)]) as server,
        pytest.raises(BudgetExceeded, match=match),
    ):
        ask(make_client(server.url, tmp_path, budgets=budgets), reasks=10)
    assert server.count() == 2


def test_retries_count_against_the_call_budget(tmp_path: Path) -> None:
    with (
        faulty_openai([status(503)]) as server,
        pytest.raises(BudgetExceeded, match="max_calls 2"),
    ):
        ask(make_client(server.url, tmp_path, budgets=Budgets(max_calls=2)))
    assert server.count() == 2


def test_absurd_token_counts_cannot_refill_the_budget(tmp_path: Path) -> None:
    body = (
        b'{"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",'
        b' "content": "{\\"count\\": 1, \\"name\\": \\"a\\"}"}}],'
        b' "usage": {"prompt_tokens": -5, "completion_tokens": -5, "total_tokens": -1000}}'
    )
    with faulty_openai([malformed(body)]) as server:
        llm = make_client(server.url, tmp_path)
        assert ask(llm).value is not None
    assert llm.budget.tokens == 0
