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

``LLMClient`` is the façade: structured output (``structured``: modes, validation, re-asks)
over a transport to the configured endpoint (``transport``: requests, retries, fault kinds),
counted against the run's ``budget``. What agents rely on, ``StructuredModel`` and
``CallResult``, is in ``protocol``. The names other modules import from here stay
importable from here.
"""

from __future__ import annotations

import time

from esdh_agent.llm.budget import Budget, Budgets
from esdh_agent.llm.protocol import CallResult
from esdh_agent.llm.structured import MODES, StructuredOutput, extract_json
from esdh_agent.llm.transcript import Transcript
from esdh_agent.llm.transport import LLMSettings, Transport

__all__ = [
    "MODES",
    "Budget",
    "Budgets",
    "CallResult",
    "LLMClient",
    "LLMSettings",
    "extract_json",
]

_sleep = time.sleep
"""How backoff waits (tests replace it to run without real sleeps)."""


class LLMClient(StructuredOutput):
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
        transport = Transport(
            settings,
            budget,
            transcript,
            label=label,
            cassette_path=cassette_path,
            record_command=record_command,
            sleep=lambda seconds: _sleep(seconds),  # looked up per wait, so tests can swap it
        )
        super().__init__(transport)

    @property
    def settings(self) -> LLMSettings:
        return self.transport.settings

    @property
    def budget(self) -> Budget:
        return self.transport.budget

    @property
    def transcript(self) -> Transcript:
        return self.transport.transcript

    @property
    def label(self) -> str:
        return self.transport.label

    @property
    def cassette_path(self) -> str | None:
        return self.transport.cassette_path

    @property
    def record_command(self) -> str:
        return self.transport.record_command

    @property
    def models_used(self) -> set[str]:
        """The models that answered, as the server named them."""
        return self.transport.models_used
