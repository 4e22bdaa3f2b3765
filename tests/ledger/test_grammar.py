"""The request grammar is governed data: validated, located errors, hashed, cached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from esdh_agent.errors import WorkspaceError
from esdh_agent.ledger.extract import extract
from esdh_agent.ledger.grammar import grammar_path, load_grammar

from tests.conftest import REPO

SHIPPED = REPO / "governance" / "request_grammar.yaml"


def test_the_shipped_grammar_loads_and_is_hashed() -> None:
    grammar = load_grammar(SHIPPED)
    assert grammar_path(REPO / "governance") == SHIPPED
    assert grammar.version
    assert grammar.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert len(grammar.states) == 51 and "DC" in grammar.states
    assert load_grammar(SHIPPED) is grammar


def test_an_edit_is_seen(tmp_path: Path) -> None:
    copy = tmp_path / "request_grammar.yaml"
    copy.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    first = load_grammar(copy)
    copy.write_text(
        copy.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "9.9.9"'),
        encoding="utf-8",
    )
    second = load_grammar(copy)
    assert second.version == "9.9.9" and second.sha256 != first.sha256


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("percent_words:", "percent_wordz:"), "percent_words"),
        (("  approx: [about,", "  vague: [about,"), "unknown tolerance class"),
        (("  AZ: [Arizona]", "  Az: [Arizona]"), "two capital letters"),
        (('version: "1.0.0"', "version: [1.0.0"), "invalid YAML"),
        (("  sources: [numbers,", "  sources: [numberz,"), "not a grammar section"),
    ],
)
def test_a_malformed_grammar_names_file_and_line(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    bad = tmp_path / "request_grammar.yaml"
    text = SHIPPED.read_text(encoding="utf-8")
    assert edit[0] in text
    bad.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(WorkspaceError) as caught:
        load_grammar(bad)
    assert message in str(caught.value)
    assert str(bad) in str(caught.value)
    if "YAML" not in message:
        assert caught.value.location and caught.value.location.rsplit(":", 1)[1].isdigit()


def test_a_missing_grammar_is_a_workspace_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="file not found"):
        load_grammar(tmp_path / "request_grammar.yaml")


def test_shorthand_lives_in_the_grammar(tmp_path: Path) -> None:
    """Model-year prefixes and line-of-business short forms are governed data: without them
    "MY2019+" and "PL insureds" are not read."""
    prose = "300 PL insureds, vehicles MY2019+"
    shipped = {r.label() for r in extract(prose, load_grammar(SHIPPED))[0]}
    assert shipped == {
        "person_count eq 300 (exact)",
        "lob only [Personal] (all)",
        "model_year min 2019 (at_least)",
    }
    bare = tmp_path / "request_grammar.yaml"
    text = SHIPPED.read_text(encoding="utf-8")
    for line in ("model_year_prefixes: [MY]\n", "    Personal: [PL]\n"):
        assert line in text
        text = text.replace(line, "model_year_prefixes: []\n" if "MY" in line else "", 1)
    bare.write_text(text, encoding="utf-8")
    assert {r.label() for r in extract(prose, load_grammar(bare))[0]} == {
        "person_count eq 300 (exact)"
    }
