"""Every labelled corpus request, run end to end through the agent: no committed snapshot may
break the requirements its request's *labels* state.

The check is made against the corpus labels (``corpus/requests/*.yaml``), never by the
conformance critic that decided the commit. The model's readings of each request are the
ones recorded from the reference model (``cassettes/requests/``, replayed); the planner is
as unhelpful as a planner can be (it proposes a tiny, all-California, all-personal book that
contradicts nearly every request) and every LLM critic claims a pass: whatever the run
commits, the request's own words put it there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest

from esdh_agent.agents import grounding
from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.extraction import ModelExtraction
from esdh_agent.agents.extraction_aspects import Aspect
from esdh_agent.core.contract import arrow_schema
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.evals.requests import model_readings
from esdh_agent.ledger.corpus import CorpusCase, load_corpus
from esdh_agent.ledger.verify import verify_ledger
from esdh_agent.workspace import Workspace

from tests.conftest import REPO
from tests.evals.recordings import with_recordings
from tests.scripted import run_scripted

CORPUS = REPO / "corpus" / "requests"
LLM_CRITICS = ("plan-fidelity", "governance-privacy", "realism-coherence")
UNHELPFUL_PLANNER = {
    "person_count": 7,
    "state_mix": {"CA": 1.0},
    "lob_mix": {"Personal": 1.0},
    "vehicles_per_person": {"1": 1.0},
    "age_bands": [{"min_age": 16, "max_age": 99, "share": 1.0}],
    "model_year_min": 2000,
    "model_year_max": 2024,
    "seed": 5,
}
YES = {"score": 1.0, "summary": "everything matches", "findings": [], "suggested_changes": {}}


def _slice_file(case: CorpusCase) -> str:
    front = {
        "id": case.id,
        "version": "1.0.0",
        "owner": "corpus",
        "dataset_version": "v0.1",
        "pinned": dict(case.pinned),
    }
    return "---\n" + json.dumps(front) + "\n---\n" + case.prompt


def _tables(snapshot: Path) -> dict[str, Any]:
    out = {}
    for entity in ("persons", "vehicles"):
        schema = arrow_schema(entity)
        out[entity] = pacsv.read_csv(
            snapshot / f"{entity}.csv",
            convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True),
        ).select(schema.names)
    return out


def test_no_committed_snapshot_breaks_its_requests_labels(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = load_corpus(CORPUS)
    for case in cases:
        (workspace.root / "prompts" / f"{case.id}.md").write_text(
            _slice_file(case), encoding="utf-8"
        )
    with_recordings(workspace)
    aw = load_agent_workspace(workspace)
    recorded = model_readings(workspace, aw, [(c.id, c.prompt) for c in cases])
    by_prose = {aw.slice(c.id).prose: recorded[c.id] for c in cases}

    def replayed(
        llm: Any, model: str, prose: str, *, aspects: Sequence[Aspect] = (), **_: Any
    ) -> ModelExtraction:
        reading = by_prose[prose]
        asked = {t for a in aspects for t in a.targets}
        return ModelExtraction(
            requirements=[r for r in reading.requirements if r.target in asked],
            discarded=list(reading.discarded),
            calls=len(aspects),
        )

    monkeypatch.setattr(grounding, "extract_with_model", replayed)
    script: dict[str, list[Any]] = {
        "planner": [UNHELPFUL_PLANNER],
        **{f"critic:{c}": [YES] for c in LLM_CRITICS},
    }
    broken: list[str] = []
    outcomes: dict[str, list[str]] = {}
    for case in cases:
        run = run_scripted(workspace, case.id, script, run_id=f"run-{case.id}")
        state = run.state
        got = (
            "pause"
            if run.interrupts
            else {"committed": "commit", "unchanged": "commit"}.get(
                str(state.get("outcome")), "refuse"
            )
        )
        outcomes.setdefault(f"{case.outcome}->{got}", []).append(case.id)
        if got != "commit":
            continue
        snapshot = Path(state["snapshot"]["path"])
        plan = GenerationPlan.model_validate(state["plan"])
        expected = [r for r in case.requirements() if r.target != "directive"]
        for req in verify_ledger(expected, plan, _tables(snapshot)):
            if req.status == "unmet":
                broken.append(f"{case.id}: {req.label()} “{req.quote}”: {req.detail}")
    # Requests labelled refuse or pause never commit.
    assert not outcomes.get("refuse->commit"), outcomes
    assert not outcomes.get("pause->commit"), outcomes
    # And nothing committed contradicts what its request's words ask for.
    assert broken == [], "\n".join(broken)
