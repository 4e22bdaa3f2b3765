"""``critic run``: grade saved output again with the current template; nothing is regenerated.

The critic sees what it saw then (``evals.inputs``). Its model calls replay from the slice's
cassette when the output came from an agent run; recording goes to the critic's own
``cassettes/critic-runs/<critic>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.models import Judge
from esdh_agent.agents.registry import get_critic
from esdh_agent.errors import InputError
from esdh_agent.evals.session import side_job_client
from esdh_agent.llm.recording import LLMMode
from esdh_agent.llm.transcript import read_transcript
from esdh_agent.workspace import Workspace

__all__ = ["CriticRun", "rerun_critic"]


@dataclass(frozen=True)
class CriticRun:
    """One critic's verdict on saved output, and the events of its transcript."""

    label: str
    slice_id: str | None
    verdict: dict[str, Any]
    events: list[dict[str, Any]]


def rerun_critic(
    ws: Workspace,
    aw: AgentWorkspace,
    critic: str,
    case: Judge,
    slice_id: str | None,
    *,
    mode: LLMMode,
    base_url: str | None,
) -> CriticRun:
    """``critic`` on ``case``; ``slice_id`` is the slice that made the output (none: plain
    ``generate``, so no recording holds its critic calls)."""
    judge = get_critic(aw, critic)
    if mode == "replay" and slice_id is None and judge.needs_model:
        raise InputError(
            "this snapshot was made without the agent, so no recording holds its critic calls",
            hint="use --llm live or --llm record with --base-url",
        )
    cassette_path = ws.paths.slice_cassette(slice_id) if slice_id else None
    if mode == "record" and cassette_path is not None:
        cassette_path = ws.paths.critic_run_cassette(critic)
    label = slice_id or f"critic-{critic}"
    with side_job_client(
        ws,
        aw,
        mode=mode,
        base_url=base_url,
        label=label,
        cassette_path=cassette_path,
        record_command=f"esdh-agent critic run {critic} --llm record --base-url URL",
    ) as client:
        verdict = judge.review(client, case).model_dump(mode="json")
        events_path = client.transcript.path
    return CriticRun(label, slice_id, verdict, read_transcript(events_path))
