"""Structured output: one JSON object matching a pydantic model, from weak servers too.

Structured output tries ``json_schema``, then ``json_object`` carrying the schema (what
llama.cpp's server accepts), then plain prompting with JSON extraction. The first call per
endpoint and model probes which mode works; a mode the server rejects is not retried and
the choice is remembered for the rest of the run. Answers are validated with pydantic.

An answer that is **fixable** — invalid JSON, JSON that breaks the schema, truncated output —
is re-asked with a short, deterministic list of errors (no URLs, no library versions, so
recordings stay stable) up to ``max_reasks`` times, then given back as
``CallResult(value=None)`` for the caller to salvage or abstain. A refusal is final but not
an exception: ``CallResult.refusal`` is set, so a critic abstains and the planner stops the
run. Faults of the server itself are the transport's (``llm/transport.py``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ValidationError

from esdh_agent.errors import ReplayMiss
from esdh_agent.llm.protocol import CallResult, M, StructuredModel
from esdh_agent.llm.schema import structured_schema
from esdh_agent.llm.transport import Answer, LLMSettings, ModeRejected, Transport

__all__ = ["MODES", "Mode", "StructuredOutput", "extract_json"]

Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")


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


class StructuredOutput(StructuredModel):
    """Structured answers over one transport: the mode probe and its memory, and re-asks."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.settled_modes: dict[str, Mode] = {}  # model -> the mode its server answered
        self._probe_from: dict[str, Mode] = {}  # model -> first mode not yet rejected

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
    ) -> CallResult[M]:
        """Ask for one JSON object matching ``schema``; re-ask up to ``max_reasks`` times.

        Returns ``CallResult(value=None)`` when no valid answer came (errors listed) or the
        model refused (``refusal`` set, not re-asked). Raises ``LLMError`` only when the
        server kept failing or refused the request itself, ``BudgetExceeded`` when the run's
        budget ran out, ``ReplayMiss`` when a replayed request was not recorded.
        """
        transcript = self.transport.transcript
        json_schema = structured_schema(schema)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = 0
        errors: list[str] = []
        raw = ""
        raws: list[str] = []
        while True:
            attempts += 1
            answer, current = self._answer(node, model, messages, json_schema, temperature, seed)
            raw = answer.content
            raws.append(raw)
            if answer.refusal and not raw.strip():
                # Not re-asked: pressing a model past its refusal is not a fix.
                transcript.event(
                    node, "refused", model=model, attempt=attempts, refusal=answer.refusal[:300]
                )
                return CallResult(
                    None,
                    attempts,
                    current,
                    [f"the model refused: {answer.refusal[:200]}"],
                    raw,
                    refusal=answer.refusal,
                    raws=raws,
                )
            try:
                value = _validated(answer, schema)
                return CallResult(value, attempts, current, errors, raw, raws=raws)
            except (ValueError, ValidationError) as exc:
                errors = _error_list(exc)
            if attempts > max_reasks:
                transcript.event(
                    node, "structured_failed", model=model, attempts=attempts, errors=errors
                )
                return CallResult(None, attempts, current, errors, raw, raws=raws)
            transcript.event(node, "reask", model=model, attempt=attempts, errors=errors)
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
    ) -> tuple[Answer, Mode]:
        """One answer and the mode it came in.

        Until a mode has been answered once for this model, a rejected mode falls back to the
        next one (json_schema -> json_object -> prompt) and is not tried again; the first
        answered mode is kept for the run. In replay, the modes before that one are first
        tried silently: a call that probed when it was recorded (critics probing in parallel
        before any of them settled the mode) finds its probe in the cassette whatever the
        thread timing is now, and a call that did not probe finds none and costs nothing.
        """
        probing = model not in self.settled_modes
        current: Mode = self.settled_modes.get(model) or self._probe_from.get(model, MODES[0])
        if self.transport.settings.mode == "replay":
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
                except ModeRejected:
                    self._mode_event(node, "mode_rejected", model, earlier)
                    continue
                if found is not None:
                    return found, earlier
        while True:
            try:
                answer = self._complete(
                    node, model, messages, current, schema, probing, temperature, seed
                )
            except (ModeRejected, ReplayMiss) as exc:
                # A replayed probe the recording lacks means the recorded session had already
                # settled on a later mode (e.g. this call came after the planner's probe).
                if isinstance(exc, ReplayMiss) and not (probing and current != MODES[-1]):
                    raise
                kind = "mode_rejected" if isinstance(exc, ModeRejected) else "mode_not_recorded"
                current = self._mode_event(node, kind, model, current)
                self._probe_from[model] = current  # a rejected mode is never tried again
                continue
            assert answer is not None  # only a speculative request may find nothing
            if probing:
                self.settled_modes[model] = current
            return answer, current

    def _mode_event(self, node: str, kind: str, model: str, mode: Mode) -> Mode:
        """Log that ``mode`` was rejected (or not recorded); return the next mode."""
        next_mode = MODES[MODES.index(mode) + 1]
        self.transport.transcript.event(node, kind, model=model, mode=mode, next_mode=next_mode)
        return next_mode

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
    ) -> Answer | None:
        """One request in ``mode`` (see ``Transport.complete``)."""
        params = _params(self.transport.settings, model, messages, mode, schema, temperature, seed)
        return self.transport.complete(
            node,
            model,
            mode,
            params,
            probe=probing and mode != "prompt",
            speculative=speculative,
        )


def _params(
    settings: LLMSettings,
    model: str,
    messages: list[dict[str, str]],
    mode: Mode,
    schema: dict[str, Any],
    temperature: float | None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The request for ``mode``: its response format, or the schema in the system prompt."""
    params: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": settings.temperature if temperature is None else temperature,
        "max_tokens": settings.max_tokens,
    }
    if seed is not None or settings.seed is not None:
        params["seed"] = seed if seed is not None else settings.seed
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


def _validated(answer: Answer, schema: type[M]) -> M:
    """The answer as ``schema``; ValueError or ValidationError when it is not one."""
    if answer.finish_reason == "length":
        raise ValueError(
            "the answer was cut off before the JSON ended; answer with a shorter JSON object"
        )
    return schema.model_validate(extract_json(answer.content))


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
