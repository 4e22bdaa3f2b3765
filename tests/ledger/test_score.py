"""Requirement-level matching of a read ledger against the labels, and the metrics."""

from __future__ import annotations

from typing import Any

import pytest

from esdh_agent.ledger.model import Requirement
from esdh_agent.ledger.score import Counts, match, overlap, scored, scores, values_agree

PROSE = "600 commercial customers in AZ/NV (60/40), mostly trucks, seed 77."


def req(quote: str, target: str, op: str, value: Any = None, **kw: Any) -> Requirement:
    """A requirement located at the first occurrence of ``quote`` in PROSE."""
    start = PROSE.index(quote)
    fields: dict[str, Any] = {"id": "R1", "tolerance": "exact", **kw}
    return Requirement(
        target=target,
        op=op,
        value=value,
        quote=quote,
        start=start,
        end=start + len(quote),
        **fields,
    )


COUNT = req("600 commercial customers", "person_count", "eq", 600)
LOB = req("commercial customers", "lob", "only", ["Commercial"], tolerance="all")
AZ = req("60/40", "state", "share", 0.6, key="AZ")
NV = req("60/40", "state", "share", 0.4, key="NV")
TRUCKS = req("mostly trucks", "body_style", "share", None, key="Truck", tolerance="mostly")
EXPECTED = [COUNT, LOB, AZ, NV, TRUCKS]


# --- value normalisation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        (0.6667, 2 / 3, True),
        (0.6, 0.605, True),
        (0.6, 0.61, False),
        (600, 600.0, True),
        (600, 601, False),
        (["NV", "AZ"], ["AZ", "NV"], True),
        (["AZ", "NV", "AZ"], ["AZ", "NV"], True),
        (["AZ"], ["AZ", "NV"], False),
        ([2024, 2015], [2015, 2024], True),
        (["1"], [1], False),  # a vehicle-count key is a string, not a number
        ("v0.2", "v0.2", True),
        ("v0.2", "v0.1", False),
        (None, None, True),
        (None, 0.0, False),
        (0.0, None, False),
        ("AZ", ["AZ"], False),
    ],
)
def test_values_agree_after_normalisation(a: Any, b: Any, agree: bool) -> None:
    assert values_agree(a, b) is agree
    assert values_agree(b, a) is agree


def test_overlap_counts_shared_characters_and_never_for_unlocated_quotes() -> None:
    assert overlap(COUNT, LOB) == len("commercial customers")
    assert overlap(COUNT, AZ) == 0
    pinned = COUNT.model_copy(update={"start": -1, "end": -1})
    assert overlap(pinned, COUNT) == 0


# --- matching -----------------------------------------------------------------------------


def test_a_perfect_reading_matches_everything() -> None:
    got = [r.model_copy(update={"id": f"R{i}"}) for i, r in enumerate(EXPECTED, 1)]
    result = match(EXPECTED, got)
    assert len(result.true_positives) == 5
    assert result.false_positives == [] and result.false_negatives == []
    counts = result.counts()
    assert (counts.precision, counts.recall, counts.f1, counts.tolerance_accuracy) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )


def test_a_reading_with_a_different_but_overlapping_span_matches() -> None:
    wider = req("AZ/NV (60/40)", "state", "share", 0.6, key="AZ")
    result = match([AZ], [wider])
    assert result.true_positives == [(AZ, wider)]


def test_a_right_value_from_the_wrong_words_does_not_match() -> None:
    elsewhere = req("seed 77", "state", "share", 0.6, key="AZ")
    result = match([AZ], [elsewhere])
    assert result.true_positives == []
    assert result.false_positives == [elsewhere] and result.false_negatives == [AZ]


@pytest.mark.parametrize(
    "wrong",
    [
        req("60/40", "state", "share", 0.4, key="AZ"),  # value
        req("60/40", "state", "share", 0.6, key="NV"),  # key
        req("60/40", "lob", "share", 0.6, key="AZ"),  # target
        req("60/40", "state", "only", 0.6, key="AZ"),  # op
    ],
    ids=["value", "key", "target", "op"],
)
def test_any_difference_in_the_reading_is_a_miss(wrong: Requirement) -> None:
    result = match([AZ], [wrong])
    assert result.true_positives == [] and len(result.false_negatives) == 1


def test_matching_is_one_to_one() -> None:
    twice = [COUNT.model_copy(update={"id": "R1"}), COUNT.model_copy(update={"id": "R2"})]
    result = match([COUNT], twice)
    assert len(result.true_positives) == 1
    assert [g.id for g in result.false_positives] == ["R2"]
    # and one reading never answers for two labels
    result = match([COUNT, COUNT], [COUNT])
    assert len(result.true_positives) == 1 and len(result.false_negatives) == 1


def test_the_larger_overlap_wins_the_greedy_pairing() -> None:
    prose_labels = [
        req("600 commercial customers", "person_count", "eq", 600),
        req("600", "person_count", "eq", 600),
    ]
    reading = req("600 commercial", "person_count", "eq", 600)
    result = match(prose_labels, [reading])
    (pair,) = result.true_positives
    assert pair[0].quote == "600 commercial customers"  # 14 shared characters beat 3


def test_tolerance_is_scored_apart_from_matching() -> None:
    exact = TRUCKS.model_copy(update={"tolerance": "approx"})
    result = match([TRUCKS, AZ], [exact, AZ])
    assert len(result.true_positives) == 2  # still a match
    assert result.tolerance_mismatches == [(TRUCKS, exact)]
    assert result.tolerance_agreed == 1
    assert result.counts().tolerance_accuracy == 0.5


def test_overridden_and_pinned_readings_are_ignored() -> None:
    overridden = req("600 commercial customers", "person_count", "eq", 250, status="overridden")
    pinned = COUNT.model_copy(update={"id": "P1", "source": "pinned", "start": -1, "end": -1})
    result = match([LOB], [LOB, overridden, pinned])
    assert result.false_positives == [] and len(result.true_positives) == 1


def test_an_overridden_reading_cannot_satisfy_a_label() -> None:
    overridden = COUNT.model_copy(update={"status": "overridden"})
    assert match([COUNT], [overridden]).false_negatives == [COUNT]


def test_directives_are_requirements_like_the_others() -> None:
    skip = req("seed 77", "directive", "eq", None, key="skip_review")
    marker = skip.model_copy(update={"key": "marker"})
    assert len(match([skip], [skip]).true_positives) == 1
    result = match([skip], [marker])
    assert result.false_positives == [marker] and result.false_negatives == [skip]


# --- aggregation --------------------------------------------------------------------------


def test_scores_aggregate_over_cases_and_per_target() -> None:
    half = match(EXPECTED, [COUNT, AZ.model_copy(update={"tolerance": "approx"})])
    noisy = match([COUNT], [COUNT, req("seed 77", "seed", "eq", 77)])
    total = scores([half, noisy])
    assert total.cases == 2
    assert total.total == Counts(tp=3, fp=1, fn=3, tolerance_agreed=2)
    assert total.precision == pytest.approx(3 / 4)
    assert total.recall == pytest.approx(3 / 6)
    assert total.f1 == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert total.tolerance_accuracy == pytest.approx(2 / 3)
    per = total.per_target
    assert per["person_count"] == Counts(tp=2, tolerance_agreed=2)
    assert per["state"] == Counts(tp=1, fn=1)
    assert per["seed"] == Counts(fp=1)
    assert per["lob"] == Counts(fn=1) and per["body_style"] == Counts(fn=1)


def test_empty_ledgers_score_as_perfect_and_nothing_read_scores_zero_recall() -> None:
    nothing = scored([([], [])])
    assert (nothing.precision, nothing.recall, nothing.f1) == (1.0, 1.0, 1.0)
    missed = scored([(EXPECTED, [])])
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)
