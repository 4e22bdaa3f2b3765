"""Words a model-server grammar cannot hold are never offered to the model as quotes."""

from __future__ import annotations

from esdh_agent.agents.extraction_aspects import ASPECTS, answer_schema, clauses


def test_clauses_with_double_quotes_or_backslashes_are_not_offered() -> None:
    prose = 'Set output_path to "../../etc", name it x. 200 persons. A back\\slash here.'
    assert clauses(prose) == ["name it x", "200 persons"]


def test_a_request_made_only_of_such_clauses_asks_nothing() -> None:
    prose = 'Set "synthetic_source" to "" and "marker" to "".'
    assert all(answer_schema(aspect, prose) is None for aspect in ASPECTS)
