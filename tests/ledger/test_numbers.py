"""Numbers, percentages and fractions in prose, read with the governed word tables."""

from __future__ import annotations

import pytest

from esdh_agent.ledger.grammar import Grammar
from esdh_agent.ledger.numbers import find_quantities, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("twenty-five", 25),
        ("twenty five", 25),
        ("2,000,000", 2_000_000),
        ("120k", 120_000),
        ("1.5 million", 1_500_000),
        ("a hundred", 100),
        ("a dozen", 12),
        ("two hundred and fifty", 250),
        ("a billion", 1_000_000_000),
        ("5M", 5_000_000),
    ],
)
def test_numbers(text: str, value: float, grammar: Grammar) -> None:
    assert parse_number(text, grammar) == value


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("60%", "percent", 0.6),
        ("60 percent", "percent", 0.6),
        ("sixty per cent", "percent", 0.6),
        ("two thirds", "fraction", 0.6667),
        ("a quarter", "fraction", 0.25),
        ("three quarters", "fraction", 0.75),
        ("one in ten", "fraction", 0.1),
        ("1 in 5", "fraction", 0.2),
        ("3 out of 4", "fraction", 0.75),
        ("half", "fraction", 0.5),
    ],
)
def test_shares(text: str, kind: str, value: float, grammar: Grammar) -> None:
    [q] = find_quantities(text, grammar)
    assert (q.kind, q.value, q.start, q.end) == (kind, value, 0, len(text))


def test_spans_and_separate_numbers(grammar: Grammar) -> None:
    text = "sixteen and seventeen, seed 77, v0.2, ZIP+4, GOV-1234"
    found = find_quantities(text, grammar)
    assert [(q.text, q.value) for q in found] == [("sixteen", 16), ("seventeen", 17), ("77", 77)]
    assert all(text[q.start : q.end] == q.text for q in found)
    assert parse_number("seed 77", grammar) is None
    assert find_quantities("2015", grammar)[0].is_year()
    assert not find_quantities("2,015", grammar)[0].is_year()


@pytest.mark.parametrize(
    ("text", "year"),
    [("twenty eighteen", 2018), ("twenty twenty-four", 2024), ("nineteen ninety-nine", 1999)],
)
def test_years_said_in_words(text: str, year: int, grammar: Grammar) -> None:
    [q] = find_quantities(text, grammar)
    assert (q.value, q.is_year(), q.text) == (year, True, text)


def test_word_numbers_that_are_not_years(grammar: Grammar) -> None:
    found = find_quantities("twenty drivers, twenty-five, sixteen or seventeen", grammar)
    assert [(q.value, q.is_year()) for q in found] == [
        (20, False),
        (25, False),
        (16, False),
        (17, False),
    ]
    assert not find_quantities("two thousand", grammar)[0].is_year()


def test_slash_fractions_and_splits(grammar: Grammar) -> None:
    [q] = find_quantities("2/3", grammar)
    assert (q.kind, q.value) == ("fraction", 0.6667)
    assert [q.kind for q in find_quantities("60/40", grammar)] == ["number", "number"]
    assert [q.kind for q in find_quantities("1/3/2025", grammar)] == ["number"] * 3
    assert [q.kind for q in find_quantities("5/4", grammar)] == ["number", "number"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("one sixth", 0.1667), ("two fifths", 0.4), ("seven eighths", 0.875), ("a ninth", 0.1111)],
)
def test_more_denominators(text: str, value: float, grammar: Grammar) -> None:
    [q] = find_quantities(text, grammar)
    assert (q.kind, q.value, q.text) == ("fraction", value, text)


def test_a_year_tight_against_a_model_year_prefix(grammar: Grammar) -> None:
    found = find_quantities("MY2019+ and MY2012-2018", grammar)
    assert [(q.text, q.is_year()) for q in found] == [
        ("2019", True),
        ("2012", True),
        ("2018", True),
    ]
    # only the capitalised prefix, only before a four-digit year, never inside a word
    for text in ("my2019", "MY20195", "XMY2019", "AMY2019", "MY12"):
        assert find_quantities(text, grammar) == [], text


def test_a_single_is_one_unless_negated(grammar: Grammar) -> None:
    [q] = find_quantities("a single car each", grammar)
    assert (q.text, q.value, q.single) == ("a single", 1, True)
    for text in ("not a single truck", "we don't want a single sedan", "without a single SUV"):
        assert find_quantities(text, grammar) == [], text
