"""CI's floor on how requests are read: the labelled corpus, scored offline.

The figures themselves are printed by `esdh-agent slices eval` (README); this keeps them
from sliding: combined precision and recall on the tuning corpus, and the grammar on the blind
held-out corpus (written by someone who never saw the grammar), each above a floor.
"""

from __future__ import annotations

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.evals.request_eval import evaluate_corpus
from esdh_agent.workspace import Workspace

from tests.conftest import REPO
from tests.evals.recordings import with_recordings

FLOOR = 0.95
HELD_OUT_FLOOR = (0.9, 0.8)  # precision, recall of the grammar alone on prompts it never saw


def test_the_corpus_is_read_above_the_floor(workspace: Workspace) -> None:
    with_recordings(workspace)
    aw = load_agent_workspace(workspace)
    report = evaluate_corpus(workspace, aw, REPO / "corpus" / "requests")
    combined = report.scores("combined")
    assert report.cases >= 40
    assert combined.precision >= FLOOR, combined
    assert combined.recall >= FLOOR, combined


def test_the_blind_held_out_corpus_is_read_above_its_floor(workspace: Workspace) -> None:
    with_recordings(workspace)
    aw = load_agent_workspace(workspace)
    report = evaluate_corpus(workspace, aw, REPO / "corpus" / "heldout", readers=("grammar",))
    grammar = report.scores("grammar")
    assert grammar.precision >= HELD_OUT_FLOOR[0], grammar
    assert grammar.recall >= HELD_OUT_FLOOR[1], grammar
