"""``esdh-agent slices eval``: how well requests are read, measured on the labelled corpus.

Each corpus case (``corpus/requests/*.yaml``, docs/requests.md) is read three ways — the
deterministic grammar alone, the model alone (replayed from ``cassettes/requests/<id>.yaml``,
recorded against the reference model) and the two combined exactly as a run combines them
(``ledger.build.assemble``: pinned over grammar over model, the model asked only about the
aspects the grammar read nothing of) — and each reading is scored
against the case's labelled ledger, requirement by requirement (``ledger.score``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.extraction import ModelExtraction
from esdh_agent.agents.grounding import model_fills
from esdh_agent.evals.requests import grammar_reader, model_readings, record_requests
from esdh_agent.ledger.build import assemble
from esdh_agent.ledger.corpus import CorpusCase, load_corpus
from esdh_agent.ledger.extract import extract
from esdh_agent.ledger.model import Requirement
from esdh_agent.ledger.score import MatchResult, Scores, match, scores
from esdh_agent.llm.recording import LLMMode
from esdh_agent.workspace import Workspace

__all__ = ["READERS", "CaseReading", "CorpusEval", "corpus_dir", "evaluate_corpus"]

READERS = ("grammar", "model", "combined")


@dataclass
class CaseReading:
    """One case read by one reader, and how it scored."""

    case: CorpusCase
    got: list[Requirement]
    result: MatchResult


@dataclass
class CorpusEval:
    """Scores per reader, and every case's reading (for the misses).

    The model reader is scored on the cases whose readings are recorded (``unrecorded``
    lists the others); for those, ``combined`` is the grammar's reading alone."""

    cases: int
    readings: dict[str, list[CaseReading]] = field(default_factory=dict)
    unrecorded: list[str] = field(default_factory=list)

    def scores(self, reader: str) -> Scores:
        return scores(r.result for r in self.readings.get(reader, []))


def corpus_dir(ws: Workspace) -> Path:
    """The workspace's corpus, else the source checkout's (a workspace need not ship one)."""
    return ws.root / "corpus" / "requests"


def _combined(
    case: CorpusCase, grammar: list[Requirement], model: ModelExtraction | None
) -> list[Requirement]:
    ledger = assemble(
        case.id,
        case.prompt,
        dict(case.pinned),
        grammar,
        model_fills(grammar, model.requirements) if model is not None else [],
    )
    return [r for r in ledger.requirements if r.source != "pinned"]


def evaluate_corpus(
    ws: Workspace,
    aw: AgentWorkspace,
    directory: Path,
    *,
    readers: Sequence[str] = READERS,
    mode: LLMMode = "replay",
    base_url: str | None = None,
    only: Sequence[str] = (),
) -> CorpusEval:
    """Read every case (``only``: those ids) with each reader and score it."""
    cases = load_corpus(directory)
    if only:
        missing = sorted(set(only) - {c.id for c in cases})
        if missing:
            from esdh_agent.errors import InputError

            raise InputError(f"no corpus case {missing[0]!r} in {directory}")
        cases = [c for c in cases if c.id in set(only)]
    reader = grammar_reader(ws)
    grammar = {c.id: extract(c.prompt, reader.grammar)[0] for c in cases}
    model: dict[str, ModelExtraction] = {}
    pairs = [(c.id, c.prompt) for c in cases]
    if mode == "record":  # record what does not replay yet; the rest is replayed
        model = record_requests(ws, aw, pairs, base_url, only_stale=True, reader=reader)
    elif "model" in readers or "combined" in readers:
        model = model_readings(ws, aw, pairs, mode=mode, base_url=base_url, reader=reader)
    report = CorpusEval(cases=len(cases))
    report.unrecorded = sorted(cid for cid, m in model.items() if m.unrecorded)
    for name in readers:
        rows = []
        for case in cases:
            if name == "model" and case.id in report.unrecorded:
                continue  # scored on what was recorded; the rest are listed as unrecorded
            if name == "grammar":
                got = grammar[case.id]
            elif name == "model":
                got = model[case.id].requirements
            else:
                got = _combined(case, grammar[case.id], model.get(case.id))
            rows.append(CaseReading(case, got, match(case.requirements(), got)))
        report.readings[name] = rows
    return report
