"""The corpus's model reader: model extraction of every labelled request, from cassettes.

Each corpus case (``corpus/requests/<id>.yaml``) has its own cassette,
``cassettes/requests/<id>.yaml``, holding the focused questions model extraction asked about
its prompt. Scoring replays them by default, so the corpus is scored offline and the same
every time; recording asks the live model again. Cases are plain ``(id, prompt)`` pairs, so
this module does not depend on how the corpus files are laid out.

A case whose cassette is missing or stale (the questions changed since it was recorded) is
reported as needing recording (``ModelExtraction.unrecorded``); the other cases are read as
usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.extraction import ModelExtraction, ReadingsFn, extract_with_model
from esdh_agent.errors import ReplayMiss
from esdh_agent.evals.session import side_job_client
from esdh_agent.llm.recording import LLMMode
from esdh_agent.workspace import Workspace

__all__ = [
    "MODEL_NODE",
    "RECORD_COMMAND",
    "GrammarReader",
    "grammar_reader",
    "model_readings",
    "record_requests",
    "request_cassette",
]

MODEL_NODE = "planner"
"""The MOP index's model entry extraction uses (``aw.model_for``): the planner's model."""

RECORD_COMMAND = (
    "record it: esdh_agent.evals.requests.record_requests(ws, aw, [(case_id, prompt)], base_url)"
)
MAX_REASKS = 1
"""Re-asks per question: an answer the schema rejects twice is noted, not pressed further."""


@dataclass(frozen=True)
class GrammarReader:
    """The grammar's readings of a quote (``readings_fn``) and the grammar it reads with."""

    readings_fn: ReadingsFn
    grammar: Any


def grammar_reader(ws: Workspace) -> GrammarReader:
    """The workspace's request grammar (``governance/request_grammar.yaml``) and its reader."""
    from esdh_agent.ledger.extract import readings
    from esdh_agent.ledger.grammar import grammar_path, load_grammar

    return GrammarReader(readings, load_grammar(grammar_path(ws.root / "governance")))


def request_cassette(ws: Workspace, case_id: str) -> Path:
    """Where the model calls about one corpus case are recorded."""
    return ws.paths.cassettes / "requests" / f"{case_id}.yaml"


def _read_one(
    ws: Workspace,
    aw: AgentWorkspace,
    case_id: str,
    prompt: str,
    *,
    mode: LLMMode,
    base_url: str | None,
    reader: GrammarReader,
) -> ModelExtraction:
    path = request_cassette(ws, case_id)
    if mode == "replay" and not path.exists():
        return ModelExtraction(unrecorded=f"no cassette for requests-{case_id} at {path.name}")
    try:
        with side_job_client(
            ws,
            aw,
            mode=mode,
            base_url=base_url,
            label=f"requests-{case_id}",
            cassette_path=path,
            record_command=RECORD_COMMAND,
        ) as client:
            return extract_with_model(
                client,
                aw.model_for(MODEL_NODE),
                prompt,
                readings_fn=reader.readings_fn,
                grammar=reader.grammar,
                max_reasks=MAX_REASKS,
            )
    except ReplayMiss as miss:
        return ModelExtraction(unrecorded=miss.message)


def model_readings(
    ws: Workspace,
    aw: AgentWorkspace,
    cases: Iterable[tuple[str, str]],
    *,
    mode: LLMMode = "replay",
    base_url: str | None = None,
    reader: GrammarReader | None = None,
) -> dict[str, ModelExtraction]:
    """Model extraction of each ``(case id, prompt)``, from its cassette (replay) by default.

    A case that cannot be replayed comes back empty with ``unrecorded`` set; server faults in
    record or live mode propagate (a half-read corpus would score as misses).
    """
    reader = reader or grammar_reader(ws)
    return {
        case_id: _read_one(ws, aw, case_id, prompt, mode=mode, base_url=base_url, reader=reader)
        for case_id, prompt in cases
    }


def record_requests(
    ws: Workspace,
    aw: AgentWorkspace,
    cases: Iterable[tuple[str, str]],
    base_url: str | None,
    only_stale: bool = False,
    *,
    reader: GrammarReader | None = None,
) -> dict[str, ModelExtraction]:
    """Record each case's cassette afresh from the model at ``base_url``.

    With ``only_stale``, a case whose cassette still replays is left alone (its replayed
    reading is returned). The session scrubs each recording and writes it in a canonical
    order, so recording the same answers twice gives the same bytes.
    """
    reader = reader or grammar_reader(ws)
    out: dict[str, ModelExtraction] = {}
    for case_id, prompt in cases:
        if only_stale:
            replayed = _read_one(
                ws, aw, case_id, prompt, mode="replay", base_url=None, reader=reader
            )
            if replayed.unrecorded is None:
                out[case_id] = replayed
                continue
        request_cassette(ws, case_id).unlink(missing_ok=True)
        out[case_id] = _read_one(
            ws, aw, case_id, prompt, mode="record", base_url=base_url, reader=reader
        )
    return out
