"""Read a prose with the grammar, checking what every reading must hold on the way."""

from __future__ import annotations

from esdh_agent.ledger.extract import extract
from esdh_agent.ledger.grammar import Grammar
from esdh_agent.ledger.model import Requirement


def read(prose: str, grammar: Grammar) -> list[Requirement]:
    """The grammar's requirements: each quote its own span, ids R1.. in prose order."""
    reqs, unsupported = extract(prose, grammar)
    for r in reqs:
        assert r.quote == prose[r.start : r.end] and r.source == "grammar"
    for u in unsupported:
        assert u.quote == prose[u.start : u.end]
    assert [r.id for r in reqs] == [f"R{i}" for i in range(1, len(reqs) + 1)]
    assert [r.start for r in reqs] == sorted(r.start for r in reqs)
    return reqs


def labels(prose: str, grammar: Grammar) -> set[str]:
    return {r.label() for r in read(prose, grammar)}
