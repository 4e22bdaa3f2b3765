"""One OpenAI-compatible client for every model call, with structured output that survives
weaker servers.

Structured output tries ``json_schema``, then ``json_object`` carrying the schema (what
llama.cpp's server accepts), then plain prompting with JSON extraction. The first call per
endpoint and model probes which mode works; a mode the server rejects is not retried and
the choice is remembered for the rest of the run. Answers are validated with pydantic; an
invalid answer is re-asked with a short, deterministic list of errors (no URLs, no library
versions, so recordings stay stable).

Faults are sorted into three kinds, and every attempt is logged to the transcript:

* **retryable** — timeouts, dropped connections, HTTP 408/409/429/5xx, and HTTP 200 bodies that
  are not a chat completion: retried with exponential backoff (``Retry-After`` honoured, both
  capped) up to ``max_retries`` times, then one ``LLMError`` naming the last failure;
* **fixable** — invalid JSON, JSON that breaks the schema, truncated output: re-asked with the
  errors (``max_reasks``), then given back as ``CallResult(value=None)`` for the caller to
  salvage or abstain;
* **final** — other 4xx (a bad key, a request the server will never take): one ``LLMError``,
  no retry. A refusal is final too but not an exception: ``CallResult.refusal`` is set, so a
  critic abstains and the planner stops the run.
"""

from __future__ import annotations

import email.utils
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from esdh_agent.errors import BudgetExceeded, LLMError, ReplayMiss
from esdh_agent.llm.recording import LLMMode
from esdh_agent.llm.schema import structured_schema
from esdh_agent.llm.transcript import Transcript

__all__ = [
    "MODES",
    "Budget",
    "Budgets",
    "CallResult",
    "LLMClient",
    "LLMSettings",
    "extract_json",
]

M = TypeVar("M", bound=BaseModel)
Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
_REJECTION_STATUSES = {400, 404, 415, 422, 500, 501}
_RETRYABLE_STATUSES = {408, 409, 429}  # and every 5xx (the openai SDK's own list)
_sleep = time.sleep
"""How backoff waits (tests replace it to run without real sleeps)."""


class Budgets(BaseModel):
    """A run's limits on model use (mop/index.yaml ``budgets``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_calls: int = Field(60, ge=1)
    max_tokens: int = Field(600_000, ge=1)
    max_seconds: float = Field(1800, gt=0)


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


class Budget:
    """Calls, tokens and wall-clock time a run may spend on models."""

    def __init__(self, limits: Budgets) -> None:
        self.limits = limits
        self.calls = 0
        self.tokens = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()  # critics call in parallel

    def before_call(self) -> None:
        with self._lock:
            self._check()
            self.calls += 1

    def _check(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.calls >= self.limits.max_calls:
            raise BudgetExceeded(
                f"run budget exhausted: {self.calls} model calls made "
                f"(max_calls {self.limits.max_calls})"
            )
        if self.tokens >= self.limits.max_tokens:
            raise BudgetExceeded(
                f"run budget exhausted: {self.tokens} tokens used "
                f"(max_tokens {self.limits.max_tokens})"
            )
        if elapsed >= self.limits.max_seconds:
            raise BudgetExceeded(
                f"run budget exhausted: {elapsed:.0f} s elapsed "
                f"(max_seconds {self.limits.max_seconds:g})"
            )

    def spent(self, tokens: int) -> None:
        """Count tokens a response reports (a negative or missing count counts as 0)."""
        with self._lock:
            self.tokens += max(0, tokens)

    def remaining_seconds(self) -> float:
        return self.limits.max_seconds - (time.monotonic() - self.started)


@dataclass
class CallResult:
    """The outcome of one structured call, re-asks included.

    ``value`` is None when no valid answer came; ``refusal`` then holds the model's refusal,
    if that is why.
    """

    value: BaseModel | None
    attempts: int
    mode: str
    errors: list[str] = field(default_factory=list)
    raw: str = ""
    refusal: str | None = None


class _ModeRejected(Exception):
    pass


class _Malformed(Exception):
    """An HTTP 200 whose body is not a usable chat completion."""


@dataclass(frozen=True)
class _Answer:
    content: str
    finish_reason: str | None
    refusal: str | None
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (code fences and prose around it are ignored).

    Raises ValueError for anything that is not one, including nesting too deep to decode.
    """
    start = text.find("{")
    if start < 0:
        raise ValueError("the answer holds no JSON object")
    try:
        obj, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])  # raw newlines
    except RecursionError:
        raise ValueError("the answer's JSON is nested too deeply") from None
    return obj


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_answer(response: Any, model: str) -> _Answer:
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
    return _Answer(
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


def _error_list(exc: Exception) -> list[str]:
    """Short, deterministic error lines for a re-ask."""
    if isinstance(exc, ValidationError):
        lines = set()
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.add(f"{loc}: {err['msg']}")
        return sorted(lines)[:8]
    if isinstance(exc, json.JSONDecodeError):
        return [f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
    return [str(exc)]


class LLMClient:
    """Structured calls to one OpenAI-compatible endpoint, logged to the run's transcript."""

    def __init__(
        self,
        settings: LLMSettings,
        budget: Budget,
        transcript: Transcript,
        *,
        label: str,
        cassette_path: str | None = None,
        record_command: str | None = None,
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
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed-for-replay",
            max_retries=0,
            timeout=settings.timeout_seconds,
        )
        self.models_used: set[str] = set()
        self._modes: dict[str, Mode] = {}  # model -> the mode its server answered
        self._probe_from: dict[str, Mode] = {}  # model -> first mode not yet rejected

    # -- public -----------------------------------------------------------------------

    def structured(
        self,
        *,
        node: str,
        model: str,
        system: str,
        user: str,
        schema: type[M],
        max_reasks: int,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> CallResult:
        """Ask for one JSON object matching ``schema``; re-ask up to ``max_reasks`` times.

        Returns ``CallResult(value=None)`` when no valid answer came (errors listed) or the
        model refused (``refusal`` set, not re-asked). Raises ``LLMError`` only when the
        server kept failing or refused the request itself, ``BudgetExceeded`` when the run's
        budget ran out, ``ReplayMiss`` when a replayed request was not recorded.
        """
        json_schema = structured_schema(schema)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = 0
        errors: list[str] = []
        raw = ""
        while True:
            attempts += 1
            answer, current = self._answer(node, model, messages, json_schema, temperature, seed)
            raw = answer.content
            if answer.refusal and not raw.strip():
                # Not re-asked: pressing a model past its refusal is not a fix.
                self.transcript.event(
                    node, "refused", model=model, attempt=attempts, refusal=answer.refusal[:300]
                )
                return CallResult(
                    None,
                    attempts,
                    current,
                    [f"the model refused: {answer.refusal[:200]}"],
                    raw,
                    refusal=answer.refusal,
                )
            try:
                if answer.finish_reason == "length":
                    raise ValueError(
                        "the answer was cut off before the JSON ended; answer "
                        "with a shorter JSON object"
                    )
                value = schema.model_validate(extract_json(raw))
                return CallResult(value, attempts, current, errors, raw)
            except (ValueError, ValidationError) as exc:
                errors = _error_list(exc)
            if attempts > max_reasks:
                self.transcript.event(
                    node, "structured_failed", model=model, attempts=attempts, errors=errors
                )
                return CallResult(None, attempts, current, errors, raw)
            self.transcript.event(node, "reask", model=model, attempt=attempts, errors=errors)
            messages = [
                *messages,
                {"role": "assistant", "content": raw},
                {
                    "role": "user",
                    "content": "Your answer did not match the required JSON:\n"
                    + "\n".join(f"- {e}" for e in errors)
                    + "\nReply with the corrected JSON object only.",
                },
            ]

    def _answer(
        self,
        node: str,
        model: str,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        temperature: float | None,
        seed: int | None,
    ) -> tuple[_Answer, Mode]:
        """One answer and the mode it came in.

        Until a mode has been answered once for this model, a rejected mode falls back to the
        next one (json_schema -> json_object -> prompt) and is not tried again; the first
        answered mode is kept for the run. In replay, the modes before that one are first
        tried silently: a call that probed when it was recorded (critics probing in parallel
        before any of them settled the mode) finds its probe in the cassette whatever the
        thread timing is now, and a call that did not probe finds none and costs nothing.
        """
        probing = model not in self._modes
        current: Mode = self._modes.get(model) or self._probe_from.get(model, MODES[0])
        if self.settings.mode == "replay":
            for earlier in MODES[: MODES.index(current)]:
                try:
                    found = self._complete(
                        node,
                        model,
                        messages,
                        earlier,
                        schema,
                        True,
                        temperature,
                        seed,
                        speculative=True,
                    )
                except _ModeRejected:
                    self._mode_event(node, "mode_rejected", model, earlier)
                    continue
                if found is not None:
                    return found, earlier
        while True:
            try:
                answer = self._complete(
                    node, model, messages, current, schema, probing, temperature, seed
                )
            except (_ModeRejected, ReplayMiss) as exc:
                # A replayed probe the recording lacks means the recorded session had already
                # settled on a later mode (e.g. this call came after the planner's probe).
                if isinstance(exc, ReplayMiss) and not (probing and current != MODES[-1]):
                    raise
                kind = "mode_rejected" if isinstance(exc, _ModeRejected) else "mode_not_recorded"
                current = self._mode_event(node, kind, model, current)
                self._probe_from[model] = current  # a rejected mode is never tried again
                continue
            assert answer is not None  # only a speculative request may find nothing
            if probing:
                self._modes[model] = current
            return answer, current

    def _mode_event(self, node: str, kind: str, model: str, mode: Mode) -> Mode:
        """Log that ``mode`` was rejected (or not recorded); return the next mode."""
        next_mode = MODES[MODES.index(mode) + 1]
        self.transcript.event(node, kind, model=model, mode=mode, next_mode=next_mode)
        return next_mode

    # -- one request --------------------------------------------------------------------

    def _params(
        self,
        model: str,
        messages: list[dict[str, str]],
        mode: Mode,
        schema: dict[str, Any],
        temperature: float | None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": self.settings.temperature if temperature is None else temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if seed is not None or self.settings.seed is not None:
            params["seed"] = seed if seed is not None else self.settings.seed
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            }
        elif mode == "json_object":
            params["response_format"] = {"type": "json_object", "schema": schema}
        else:
            params["messages"] = [
                {
                    **messages[0],
                    "content": messages[0]["content"]
                    + "\n\nAnswer with one JSON object matching this JSON Schema:\n"
                    + json.dumps(schema, sort_keys=True),
                },
                *messages[1:],
            ]
        return params

    def _complete(
        self,
        node: str,
        model: str,
        messages: list[dict[str, str]],
        mode: Mode,
        schema: dict[str, Any],
        probing: bool,
        temperature: float | None,
        seed: int | None = None,
        *,
        speculative: bool = False,
    ) -> _Answer | None:
        """One answer from the server, retrying what is retryable (every attempt logged).

        ``speculative`` (replay only): a request the cassette does not hold returns None and
        leaves no trace (no budget, no event); one it holds counts and is logged as usual.
        """
        params = self._params(model, messages, mode, schema, temperature, seed)
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
                self._log_error(node, model, mode, attempt, started, failure, status=status)
                if probing and mode != "prompt" and status in _REJECTION_STATUSES:
                    raise _ModeRejected from None
                if status in _RETRYABLE_STATUSES or status >= 500:
                    attempt = self._backoff(attempt, failure, node)
                    continue
                raise LLMError(
                    f"model server refused the request (HTTP {status}) in "
                    f"{self.label}/{node}: {str(failure.message)[:200]}",
                    hint="check the model name, the API key and the server's limits",
                ) from None
            if isinstance(failure, (openai.APITimeoutError, openai.APIConnectionError)):
                self._log_error(node, model, mode, attempt, started, failure)
                attempt = self._backoff(attempt, failure, node)
                continue
            if isinstance(
                failure, (_Malformed, openai.APIResponseValidationError, json.JSONDecodeError)
            ):
                if not isinstance(failure, _Malformed):
                    failure = _Malformed("the response body is not a valid chat completion")
                self._log_error(node, model, mode, attempt, started, failure)
                attempt = self._backoff(attempt, failure, node)
                continue
            raise failure
        self.budget.spent(answer.total_tokens)
        self.models_used.add(answer.model)
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
            latency_ms=round((time.monotonic() - started) * 1000),
            attempt=attempt + 1,
        )
        return answer

    def _log_request(
        self, node: str, model: str, mode: Mode, params: dict[str, Any], attempt: int
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
        mode: Mode,
        attempt: int,
        started: float,
        exc: Exception,
        *,
        status: int | None = None,
    ) -> None:
        self.transcript.event(
            node,
            "llm_error",
            model=model,
            mode=mode,
            attempt=attempt + 1,
            status=status,
            error=_describe(exc)[:300],
            latency_ms=round((time.monotonic() - started) * 1000),
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
            _sleep(delay)
        return attempt + 1

    def _miss(self, node: str) -> ReplayMiss:
        where = self.cassette_path or "the cassette"
        return ReplayMiss(
            f"replay miss in slice {self.label!r}, node {node!r}: the request is not in "
            f"{where} (a prompt, template or plan changed since it was recorded)",
            hint=f"re-record with: {self.record_command} (or scripts/record_cassettes.py)",
        )


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
