"""One OpenAI-compatible client for every model call, with structured output that survives
weaker servers.

Structured output tries ``json_schema``, then ``json_object`` carrying the schema (what
llama.cpp's server accepts), then plain prompting with JSON extraction. The first call per
endpoint and model probes which mode works; a mode the server rejects is not retried and
the choice is remembered for the rest of the run. Answers are validated with pydantic; an
invalid answer is re-asked with a short, deterministic list of errors (no URLs, no library
versions, so recordings stay stable). Live calls retry what is retryable with backoff.
"""

from __future__ import annotations

import contextlib
import json
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


class Budgets(BaseModel):
    """A run's limits on model use (mop/index.yaml ``budgets``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_calls: int = Field(60, ge=1)
    max_tokens: int = Field(600_000, ge=1)
    max_seconds: float = Field(1800, gt=0)


@dataclass(frozen=True)
class LLMSettings:
    mode: LLMMode = "replay"
    base_url: str = "http://127.0.0.1:8765/v1"
    api_key: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int = 1200
    timeout_seconds: float = 180.0
    max_retries: int = 3


class Budget:
    """Calls, tokens and wall-clock time a run may spend on models."""

    def __init__(self, limits: Budgets) -> None:
        self.limits = limits
        self.calls = 0
        self.tokens = 0
        self.started = time.monotonic()

    def before_call(self) -> None:
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
        self.calls += 1

    def spent(self, tokens: int) -> None:
        self.tokens += tokens


@dataclass
class CallResult:
    """The outcome of one structured call, re-asks included."""

    value: BaseModel | None
    attempts: int
    mode: str
    errors: list[str] = field(default_factory=list)
    raw: str = ""


class _ModeRejected(Exception):
    pass


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (code fences and prose around it are ignored)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("the answer holds no JSON object")
    obj, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])  # raw newlines in strings
    return obj


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
        self._modes: dict[str, Mode] = {}

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
        """Ask for one JSON object matching ``schema``; re-ask up to ``max_reasks`` times."""
        json_schema = structured_schema(schema)
        mode: Mode | None = self._modes.get(model)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = 0
        errors: list[str] = []
        raw = ""
        while True:
            probing = mode is None
            current: Mode = mode or MODES[0]
            attempts += 1
            try:
                raw, finish = self._complete(
                    node, model, messages, current, json_schema, probing, temperature, seed
                )
            except (_ModeRejected, ReplayMiss) as exc:
                # A replayed probe the recording lacks means the recorded session had already
                # settled on a later mode (e.g. this call came after the planner's probe).
                if isinstance(exc, ReplayMiss) and not (probing and current != MODES[-1]):
                    raise
                next_index = MODES.index(current) + 1
                self.transcript.event(
                    node,
                    "mode_rejected" if isinstance(exc, _ModeRejected) else "mode_not_recorded",
                    model=model,
                    mode=current,
                    next_mode=MODES[next_index],
                )
                mode = MODES[next_index]
                self._modes[model] = mode
                attempts -= 1
                continue
            if probing:
                mode = current
                self._modes[model] = current
            try:
                if finish == "length":
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
    ) -> tuple[str, str | None]:
        params = self._params(model, messages, mode, schema, temperature, seed)
        openai = self._openai
        attempt = 0
        while True:
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
            started = time.monotonic()
            try:
                response = self._client.chat.completions.create(**params)
            except openai.APIStatusError as exc:
                status = exc.status_code
                self.transcript.event(
                    node,
                    "llm_error",
                    model=model,
                    mode=mode,
                    status=status,
                    error=str(exc.message)[:300],
                )
                if probing and mode != "prompt" and status in _REJECTION_STATUSES:
                    raise _ModeRejected from None
                if status == 429 or status >= 500:
                    attempt = self._backoff(attempt, exc, node)
                    continue
                raise LLMError(
                    f"model server refused the request (HTTP {status}) in "
                    f"{self.label}/{node}: {str(exc.message)[:200]}"
                ) from None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                self.transcript.event(
                    node, "llm_error", model=model, mode=mode, error=type(exc).__name__
                )
                attempt = self._backoff(attempt, exc, node)
                continue
            except Exception as exc:
                if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
                    raise self._miss(node) from None
                raise
            latency = time.monotonic() - started
            choice = response.choices[0]
            content = choice.message.content or ""
            refusal = getattr(choice.message, "refusal", None)
            usage = response.usage
            tokens = usage.total_tokens if usage else 0
            self.budget.spent(tokens)
            self.models_used.add(response.model or model)
            self.transcript.event(
                node,
                "llm_response",
                model=response.model or model,
                mode=mode,
                content=content,
                finish_reason=choice.finish_reason,
                refusal=refusal,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                latency_ms=round(latency * 1000),
            )
            if refusal and not content:
                raise LLMError(f"the model refused in {self.label}/{node}: {refusal[:200]}")
            return content, choice.finish_reason

    def _backoff(self, attempt: int, exc: Exception, node: str) -> int:
        if attempt >= self.settings.max_retries:
            raise LLMError(
                f"model call failed after {attempt + 1} attempts in {self.label}/{node}: "
                f"{type(exc).__name__}",
                hint="check the model server (--base-url) and try again",
            ) from None
        delay = min(8.0, 0.5 * 2**attempt)
        retry_after = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(30.0, float(retry_after))
        if self.settings.mode != "replay":
            time.sleep(delay)
        return attempt + 1

    def _miss(self, node: str) -> ReplayMiss:
        where = self.cassette_path or "the cassette"
        return ReplayMiss(
            f"replay miss in slice {self.label!r}, node {node!r}: the request is not in "
            f"{where} (a prompt, template or plan changed since it was recorded)",
            hint=f"re-record with: {self.record_command} (or scripts/record_cassettes.py)",
        )
