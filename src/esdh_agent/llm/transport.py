"""The HTTP side of model calls: one chat completion from an OpenAI-compatible endpoint.

Faults are sorted by kind, and every attempt is logged to the transcript:

* **retryable** — timeouts, dropped connections, HTTP 408/409/429/5xx, and HTTP 200 bodies that
  are not a chat completion: retried with exponential backoff (``Retry-After`` honoured, both
  capped) up to ``max_retries`` times, then one ``LLMError`` naming the last failure;
* **final** — other 4xx (a bad key, a request the server will never take): one ``LLMError``,
  no retry;
* **mode rejected** — while a response format is being probed, a status a server answers an
  unsupported format with raises ``ModeRejected``, so the caller can try the next mode.

What the answer says (JSON or not, valid or not, a refusal) is for ``llm/structured.py``.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from esdh_agent.errors import BudgetExceeded, LLMError, ReplayMiss
from esdh_agent.llm.budget import Budget
from esdh_agent.llm.recording import LLMMode, note_exchange, recorded_latency
from esdh_agent.llm.transcript import Transcript

__all__ = ["Answer", "LLMSettings", "ModeRejected", "Transport"]

_REJECTION_STATUSES = {400, 404, 415, 422, 500, 501}
_RETRYABLE_STATUSES = {408, 409, 429}  # and every 5xx (the openai SDK's own list)


@dataclass(frozen=True)
class LLMSettings:
    """How one run talks to its model server.

    Retries wait ``backoff_seconds * 2**attempt`` (at most ``backoff_max_seconds``), or what
    the server's ``Retry-After`` asks (at most ``retry_after_max_seconds``); replay never
    waits. A wait that would overrun the run's ``max_seconds`` budget stops the run instead.
    """

    mode: LLMMode = "replay"
    base_url: str = "http://127.0.0.1:8765/v1"
    api_key: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int = 1200
    timeout_seconds: float = 180.0
    max_retries: int = 3
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    retry_after_max_seconds: float = 30.0


class ModeRejected(Exception):
    """The server rejected the response format a probing request asked for."""


class _Malformed(Exception):
    """An HTTP 200 whose body is not a usable chat completion."""


@dataclass(frozen=True)
class Answer:
    """The parts of one chat completion the client uses."""

    content: str
    finish_reason: str | None
    refusal: str | None
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int


class Transport:
    """Chat completions from one endpoint for one run: retried, budgeted and logged."""

    def __init__(
        self,
        settings: LLMSettings,
        budget: Budget,
        transcript: Transcript,
        *,
        label: str,
        cassette_path: str | None = None,
        record_command: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self.settings = settings
        self.budget = budget
        self.transcript = transcript
        self.label = label
        self.cassette_path = cassette_path
        self.record_command = record_command or (
            f"esdh-agent run slice-generation --slice {label} --llm record --base-url URL"
        )
        self.sleep = sleep  # how backoff waits
        self.models_used: set[str] = set()
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed-for-replay",
            max_retries=0,
            timeout=settings.timeout_seconds,
        )

    def complete(
        self,
        node: str,
        model: str,
        mode: str,
        params: dict[str, Any],
        *,
        probe: bool,
        speculative: bool = False,
    ) -> Answer | None:
        """One answer from the server, retrying what is retryable (every attempt logged).

        ``params`` is the request (``mode`` names its response format in the transcript).
        ``probe``: the server may not take this format; a rejection raises ``ModeRejected``.
        ``speculative`` (replay only): a request the cassette does not hold returns None and
        leaves no trace (no budget, no event); one it holds counts and is logged as usual.
        """
        openai = self._openai
        attempt = 0
        while True:
            if not speculative:
                self._log_request(node, model, mode, params, attempt)
            started = time.monotonic()
            failure: Exception | None = None
            try:
                response = self._client.chat.completions.create(**params)
                answer = _read_answer(response, model)
            except Exception as exc:
                if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
                    if speculative:
                        return None
                    raise self._miss(node) from None
                failure = exc
            if speculative:  # the cassette held it: from here on, a request like any other
                speculative = False
                self._log_request(node, model, mode, params, attempt)
            if failure is None:
                break
            if isinstance(failure, openai.APIStatusError):
                status = failure.status_code
                self._log_error(node, model, mode, params, attempt, started, failure, status=status)
                if probe and status in _REJECTION_STATUSES:
                    raise ModeRejected from None
                if status in _RETRYABLE_STATUSES or status >= 500:
                    attempt = self._backoff(attempt, failure, node)
                    continue
                raise LLMError(
                    f"model server refused the request (HTTP {status}) in "
                    f"{self.label}/{node}: {str(failure.message)[:200]}",
                    hint="check the model name, the API key and the server's limits",
                ) from None
            if isinstance(failure, (openai.APITimeoutError, openai.APIConnectionError)):
                self._log_error(
                    node, model, mode, params, attempt, started, failure, answered=False
                )
                attempt = self._backoff(attempt, failure, node)
                continue
            if isinstance(
                failure, (_Malformed, openai.APIResponseValidationError, json.JSONDecodeError)
            ):
                if not isinstance(failure, _Malformed):
                    failure = _Malformed("the response body is not a valid chat completion")
                self._log_error(node, model, mode, params, attempt, started, failure)
                attempt = self._backoff(attempt, failure, node)
                continue
            raise failure
        self.budget.spent(answer.total_tokens)
        self.models_used.add(answer.model)
        latency_ms, latency_source = self._latency(params, started)
        self.transcript.event(
            node,
            "llm_response",
            model=answer.model,
            mode=mode,
            content=answer.content,
            finish_reason=answer.finish_reason,
            refusal=answer.refusal,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            latency_ms=latency_ms,
            latency_source=latency_source,
            attempt=attempt + 1,
        )
        return answer

    def _latency(
        self, params: dict[str, Any], started: float, *, answered: bool = True
    ) -> tuple[int, str]:
        """The latency to show for a request, and where it comes from.

        ``live``: measured now (live and record modes; a recording keeps it in the cassette's
        note). ``recorded``: a replayed call shows the latency recorded with it. ``replay``:
        the replay time, for a cassette recorded before latencies were kept.
        ``answered``: the server answered (a timeout or a dropped connection records nothing).
        """
        ended = time.monotonic()
        measured = round((ended - started) * 1000)
        if self.settings.mode == "replay":
            recorded = recorded_latency(params) if answered else None
            return (recorded, "recorded") if recorded is not None else (measured, "replay")
        if self.settings.mode == "record":
            note_exchange(params, started, ended, answered=answered)
        return measured, "live"

    def _log_request(
        self, node: str, model: str, mode: str, params: dict[str, Any], attempt: int
    ) -> None:
        """Count the request against the budget (which may stop the run) and log it."""
        self.budget.before_call()
        self.transcript.event(
            node,
            "llm_request",
            model=model,
            mode=mode,
            messages=params["messages"],
            temperature=params["temperature"],
            attempt=attempt + 1,
        )

    def _log_error(
        self,
        node: str,
        model: str,
        mode: str,
        params: dict[str, Any],
        attempt: int,
        started: float,
        exc: Exception,
        *,
        status: int | None = None,
        answered: bool = True,
    ) -> None:
        """Log a failed attempt of the request ``params``; ``answered``: the server answered
        it (its latency is then recorded and replayed like an answer's)."""
        latency_ms, source = self._latency(params, started, answered=answered)
        self.transcript.event(
            node,
            "llm_error",
            model=model,
            mode=mode,
            attempt=attempt + 1,
            status=status,
            error=_describe(exc)[:300],
            latency_ms=latency_ms,
            latency_source=source,
        )

    def _backoff(self, attempt: int, exc: Exception, node: str) -> int:
        """Wait before retry ``attempt + 1``, or raise LLMError when retries are spent."""
        settings = self.settings
        if attempt >= settings.max_retries:
            self.transcript.event(
                node, "llm_gave_up", attempts=attempt + 1, last_error=_describe(exc)[:300]
            )
            raise LLMError(
                f"model call failed after {attempt + 1} attempts in {self.label}/{node}: "
                f"{_describe(exc)}",
                hint=f"check the model server at {_safe_url(settings.base_url)} (--base-url) "
                "and try again",
            ) from None
        delay = min(settings.backoff_max_seconds, settings.backoff_seconds * 2**attempt)
        asked = _retry_after(exc)
        if asked is not None:
            delay = min(settings.retry_after_max_seconds, asked)
        if settings.mode == "replay":
            delay = 0.0
        remaining = self.budget.remaining_seconds()
        if delay > remaining:
            raise BudgetExceeded(
                f"run budget exhausted: waiting {delay:g} s to retry {self.label}/{node} would "
                f"overrun max_seconds {self.budget.limits.max_seconds:g}"
            )
        self.transcript.event(node, "retry", attempt=attempt + 2, delay_seconds=round(delay, 3))
        if delay > 0:
            self.sleep(delay)
        return attempt + 1

    def _miss(self, node: str) -> ReplayMiss:
        where = self.cassette_path or "the cassette"
        return ReplayMiss(
            f"replay miss in slice {self.label!r}, node {node!r}: the request is not in "
            f"{where} (a prompt, template or plan changed since it was recorded)",
            hint=f"re-record with: {self.record_command} (or scripts/record_cassettes.py)",
        )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_answer(response: Any, model: str) -> Answer:
    """The parts of a chat completion the client uses; _Malformed if they are missing."""
    try:
        choice = response.choices[0]
        message = choice.message
        content = message.content
        refusal = getattr(message, "refusal", None)
        finish = choice.finish_reason
        usage = getattr(response, "usage", None)
        name = getattr(response, "model", None)
    except (AttributeError, IndexError, KeyError, TypeError):
        raise _Malformed("the response is not a chat completion (no choices[0].message)") from None
    if content is not None and not isinstance(content, str):
        raise _Malformed("the response's message content is not text")
    prompt = _count(getattr(usage, "prompt_tokens", None))
    completion = _count(getattr(usage, "completion_tokens", None))
    total = _count(getattr(usage, "total_tokens", None))
    finish = finish if isinstance(finish, str) else None
    if not isinstance(refusal, str) or not refusal.strip():
        refusal = None
    if finish == "content_filter" and not content and refusal is None:
        refusal = "the server's content filter stopped the answer"
    return Answer(
        content=content or "",
        finish_reason=finish,
        refusal=refusal,
        model=name if isinstance(name, str) and name else model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=max(0, total if total is not None else (prompt or 0) + (completion or 0)),
    )


def _retry_after(exc: Exception) -> float | None:
    """Seconds a 429/503 asks to wait (``retry-after-ms``, ``Retry-After`` seconds or date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                continue
            seconds = when.timestamp() - time.time()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _describe(exc: Exception) -> str:
    """A short, key-free description of a failed attempt."""
    if isinstance(exc, _Malformed):
        return str(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        message = str(getattr(exc, "message", "") or "")[:160]
        return f"HTTP {status}" + (f" ({message})" if message else "")
    name = type(exc).__name__
    if name == "APITimeoutError":
        return "no answer within the timeout"
    if name == "APIConnectionError":
        cause = exc.__cause__ or exc.__context__
        detail = str(cause)[:120] if cause is not None else ""
        return "connection failed or dropped" + (f" ({detail})" if detail else "")
    return f"{name}: {str(exc)[:160]}"


def _safe_url(url: str) -> str:
    """``url`` without credentials or a query string (for messages)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(the base URL)"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "(the base URL)"
