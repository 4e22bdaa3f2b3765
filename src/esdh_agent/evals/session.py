"""The eval session: an LLM client for a side job (critic evaluation, critic runs, cassette
checks), its transcript under ``data/evals/``, inside its cassette.

Side jobs open their model calls through ``agents.session.llm_session``, exactly as agent runs
do, so replay, record and live behave alike everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.session import llm_session
from esdh_agent.llm.client import LLMClient
from esdh_agent.llm.recording import LLMMode
from esdh_agent.llm.transcript import Transcript
from esdh_agent.workspace import Workspace

__all__ = ["side_job_client"]


@contextlib.contextmanager
def side_job_client(
    ws: Workspace,
    aw: AgentWorkspace,
    *,
    mode: LLMMode,
    base_url: str | None,
    label: str,
    cassette_path: Path | None,
    record_command: str,
) -> Iterator[LLMClient]:
    """A client for one side job: its transcript is ``data/evals/<stamp>-<label>/``, its calls
    go through ``cassette_path`` (none: no cassette at all)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    transcript = Transcript(ws.paths.eval_transcript(f"{stamp}-{label}"), label)
    with llm_session(
        ws,
        aw,
        mode=mode,
        base_url=base_url,
        transcript=transcript,
        label=label,
        cassette_path=cassette_path,
        record_command=record_command,
    ) as session:
        yield session.client
