"""The workspace's request grammar, loaded once for the ledger tests."""

from __future__ import annotations

import pytest

from esdh_agent.ledger.grammar import Grammar, load_grammar

from tests.conftest import REPO


@pytest.fixture(scope="session")
def grammar() -> Grammar:
    return load_grammar(REPO / "governance" / "request_grammar.yaml")
