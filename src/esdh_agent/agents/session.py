"""One LLM session for one agent job: the client (settings from the workspace's MOP index,
a fresh budget, the job's transcript) used inside the job's cassette.

Agent runs and side jobs (critic evaluation, critic runs, cassette checks) open their model
calls the same way, so replay, record and live behave alike everywhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.llm.client import Budget, LLMClient, LLMSettings
from esdh_agent.llm.recording import LLMMode, cassette, write_cassette_note
from esdh_agent.llm.transcript import Transcript
from esdh_agent.workspace import Workspace

__all__ = ["LLMSession", "llm_session", "llm_settings"]


def llm_settings(aw: AgentWorkspace, mode: LLMMode, base_url: str | None) -> LLMSettings:
    """Client settings: the MOP index's defaults, the endpoint from the option or
    ``$ESDH_LLM_BASE_URL``, and an API key only when calls may leave the machine."""
    defaults = aw.index.llm
    return LLMSettings(
        mode=mode,
        base_url=base_url or os.environ.get("ESDH_LLM_BASE_URL") or defaults.base_url,
        api_key=os.environ.get("OPENAI_API_KEY") if mode != "replay" else None,
        temperature=defaults.temperature,
        seed=defaults.seed,
        max_tokens=defaults.max_tokens,
        timeout_seconds=defaults.timeout_seconds,
        max_retries=defaults.max_retries,
        backoff_seconds=defaults.backoff_seconds,
        backoff_max_seconds=defaults.backoff_max_seconds,
        retry_after_max_seconds=defaults.retry_after_max_seconds,
    )


@dataclass(frozen=True)
class LLMSession:
    client: LLMClient
    budget: Budget
    settings: LLMSettings


@contextlib.contextmanager
def llm_session(
    ws: Workspace,
    aw: AgentWorkspace,
    *,
    mode: LLMMode,
    base_url: str | None,
    transcript: Transcript,
    label: str,
    cassette_path: Path | None,
    fresh: bool = False,
    record_command: str | None = None,
    note_models: list[str] | None = None,
) -> Iterator[LLMSession]:
    """A client for one job, inside ``cassette_path`` (none: no cassette at all).

    After a successful recording the cassette's note names the endpoint and the models
    (``note_models``, else the models the client actually used).
    """
    settings = llm_settings(aw, mode, base_url)
    budget = Budget(aw.index.budgets)
    client = LLMClient(
        settings,
        budget,
        transcript,
        label=label,
        cassette_path=ws.paths.relative(cassette_path) if cassette_path else None,
        record_command=record_command,
    )
    session = LLMSession(client, budget, settings)
    if cassette_path is None:
        yield session
        return
    with cassette(mode, cassette_path, fresh=fresh, label=label):
        yield session
    if mode == "record":
        models = note_models if note_models is not None else sorted(client.models_used)
        write_cassette_note(cassette_path, base_url=settings.base_url, models=models)
