"""The corpus's model reader: model extraction replayed from per-case cassettes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.evals.requests import (
    GrammarReader,
    grammar_reader,
    model_readings,
    request_cassette,
)
from esdh_agent.ledger.corpus import load_corpus
from esdh_agent.ledger.model import Requirement
from esdh_agent.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
RECORDED = sorted((REPO / "cassettes" / "requests").glob("*.yaml"))
RECORDED = [p for p in RECORDED if not p.name.endswith(".meta.yaml")]


def _nothing(target: str, quote: str, grammar: Any) -> list[Requirement]:
    return []


def test_a_case_without_cassette_needs_recording_and_is_not_an_error(
    workspace: Workspace,
) -> None:
    aw = load_agent_workspace(workspace)
    reader = GrammarReader(_nothing, None)
    got = model_readings(workspace, aw, [("never-recorded", "300 drivers in Ohio.")], reader=reader)
    assert got["never-recorded"].requirements == []
    assert got["never-recorded"].calls == 0
    assert "no cassette for requests-never-recorded" in (got["never-recorded"].unrecorded or "")
    assert request_cassette(workspace, "x") == workspace.root / "cassettes/requests/x.yaml"


def test_a_stale_cassette_needs_recording(workspace: Workspace) -> None:
    aw = load_agent_workspace(workspace)
    path = request_cassette(workspace, "stale")
    # `init` ships cassettes/, so the folder of corpus readings may already be there.
    path.parent.mkdir(parents=True, exist_ok=True)
    assert not path.exists()
    path.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    got = model_readings(
        workspace, aw, [("stale", "300 drivers.")], reader=GrammarReader(_nothing, None)
    )
    assert got["stale"].unrecorded and got["stale"].requirements == []


@pytest.mark.skipif(not RECORDED, reason="no request cassettes recorded")
def test_recorded_cases_replay_offline_and_every_reading_is_grounded(
    workspace: Workspace,
) -> None:
    cases = {c.id: c.prompt for c in load_corpus(REPO / "corpus" / "requests")}
    chosen = [p.stem for p in RECORDED if p.stem in cases][:3]
    assert chosen, "request cassettes exist for corpus cases"
    for case_id in chosen:
        target = request_cassette(workspace, case_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "cassettes" / "requests" / f"{case_id}.yaml", target)
    aw = load_agent_workspace(workspace)
    pairs = [(case_id, cases[case_id]) for case_id in chosen]
    reader = grammar_reader(workspace)
    first = model_readings(workspace, aw, pairs, reader=reader)
    again = model_readings(workspace, aw, pairs, reader=reader)
    for case_id, prompt in pairs:
        got = first[case_id]
        assert got.unrecorded is None and got.calls > 0
        for r in got.requirements:
            assert r.source == "model" and prompt[r.start : r.end] == r.quote
        assert [r.model_dump() for r in got.requirements] == [
            r.model_dump() for r in again[case_id].requirements
        ]
