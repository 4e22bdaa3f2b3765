"""Score an extractor's ledger against the labelled corpus, requirement by requirement.

A read requirement matches an expected one when both say the same thing about the same
words: target, key, op and normalised value agree (numbers within 0.005, lists as sorted
sets, strings and keys equal, ``None`` only with ``None``) and their quote spans overlap in
the prose. Matching is one-to-one, greedy by the size of the overlap, so one reading never
answers for two labels. Tolerance is scored apart, on the matched pairs only: reading "about
60%" as an exact 0.6 is the right requirement with the wrong strictness, not a miss.

Readings a pinned value or the grammar overrode (status ``overridden``) do not stand in the
ledger, so they are ignored; so are pinned requirements, which quote the front matter rather
than the prose and are never an extractor's reading. Directives are requirements like any
other (target ``directive``, key the kind).

Everything here is pure: no I/O, no model calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.ledger.model import Requirement

__all__ = [
    "VALUE_TOLERANCE",
    "Counts",
    "MatchResult",
    "Scores",
    "match",
    "overlap",
    "scored",
    "scores",
    "values_agree",
]

VALUE_TOLERANCE = 0.005
"""Two numbers agree when they differ by at most this (so 0.6667 reads as two thirds)."""
_EPSILON = 1e-9


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ratio(part: int, whole: int) -> float:
    """``part / whole``, and 1.0 when there is nothing to divide (no claim, no miss)."""
    return part / whole if whole else 1.0


class Counts(_Frozen):
    """True/false positives and negatives, and how many matched pairs agree on tolerance."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tolerance_agreed: int = 0

    @property
    def precision(self) -> float:
        """Share of read requirements that a label confirms (1.0 when nothing was read)."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """Share of labelled requirements that were read (1.0 when none was expected)."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0.0 when both are 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def tolerance_accuracy(self) -> float:
        """Share of matched pairs whose tolerance agrees (1.0 when nothing matched)."""
        return _ratio(self.tolerance_agreed, self.tp)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tolerance_agreed=self.tolerance_agreed + other.tolerance_agreed,
        )


class MatchResult(_Frozen):
    """How one read ledger compares with one expected ledger."""

    true_positives: list[tuple[Requirement, Requirement]] = Field(
        default_factory=list, description="Matched pairs: (expected, got)."
    )
    false_positives: list[Requirement] = Field(
        default_factory=list, description="Read requirements no label confirms."
    )
    false_negatives: list[Requirement] = Field(
        default_factory=list, description="Labelled requirements nothing read."
    )

    @property
    def tolerance_mismatches(self) -> list[tuple[Requirement, Requirement]]:
        """Matched pairs whose tolerance differs: (expected, got)."""
        return [(e, g) for e, g in self.true_positives if e.tolerance != g.tolerance]

    @property
    def tolerance_agreed(self) -> int:
        """How many matched pairs agree on tolerance."""
        return len(self.true_positives) - len(self.tolerance_mismatches)

    def counts(self) -> Counts:
        """The totals of this comparison."""
        return Counts(
            tp=len(self.true_positives),
            fp=len(self.false_positives),
            fn=len(self.false_negatives),
            tolerance_agreed=self.tolerance_agreed,
        )

    def per_target(self) -> dict[str, Counts]:
        """The totals split by target (a pair counts under its shared target)."""
        out: dict[str, Counts] = {}

        def add(target: str, counts: Counts) -> None:
            out[target] = out.get(target, Counts()) + counts

        for e, g in self.true_positives:
            add(e.target, Counts(tp=1, tolerance_agreed=int(e.tolerance == g.tolerance)))
        for g in self.false_positives:
            add(g.target, Counts(fp=1))
        for e in self.false_negatives:
            add(e.target, Counts(fn=1))
        return dict(sorted(out.items()))


class Scores(_Frozen):
    """Requirement-level scores over a set of cases, in total and per target."""

    cases: int = 0
    total: Counts = Field(default_factory=Counts)
    per_target: dict[str, Counts] = Field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.total.precision

    @property
    def recall(self) -> float:
        return self.total.recall

    @property
    def f1(self) -> float:
        return self.total.f1

    @property
    def tolerance_accuracy(self) -> float:
        return self.total.tolerance_accuracy


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _atom_key(value: Any) -> tuple[int, Any]:
    """Sort key that keeps numbers and strings apart (a "1" key is not the number 1)."""
    return (0, float(value)) if _is_number(value) else (1, str(value))


def _atoms_agree(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return abs(float(a) - float(b)) <= VALUE_TOLERANCE + _EPSILON
    if _is_number(a) or _is_number(b):
        return False
    return bool(a == b)


def _as_set(values: Sequence[Any]) -> list[Any]:
    """The list sorted, duplicates (within the value tolerance) dropped."""
    out: list[Any] = []
    for value in sorted(values, key=_atom_key):
        if not out or not _atoms_agree(out[-1], value):
            out.append(value)
    return out


def values_agree(a: Any, b: Any) -> bool:
    """Whether two requirement values say the same thing, after normalisation."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)):
            return False
        left, right = _as_set(a), _as_set(b)
        return len(left) == len(right) and all(map(_atoms_agree, left, right))
    return _atoms_agree(a, b)


def overlap(a: Requirement, b: Requirement) -> int:
    """How many characters of the prose both quotes cover (0 when either is not located)."""
    if min(a.start, a.end, b.start, b.end) < 0:
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def _same_reading(e: Requirement, g: Requirement) -> bool:
    return (
        e.target == g.target and e.key == g.key and e.op == g.op and values_agree(e.value, g.value)
    )


def _stands(req: Requirement) -> bool:
    """Whether a read requirement is scored: it stands and it was read from the prose."""
    return req.status != "overridden" and req.source != "pinned"


def match(expected: Sequence[Requirement], got: Sequence[Requirement]) -> MatchResult:
    """Pair read requirements with expected ones, one-to-one, greedy by overlap."""
    readings = [g for g in got if _stands(g)]
    candidates = sorted(
        (
            (-overlap(e, g), i, j)
            for i, e in enumerate(expected)
            for j, g in enumerate(readings)
            if _same_reading(e, g) and overlap(e, g) > 0
        )
    )
    used_e: set[int] = set()
    used_g: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in candidates:
        if i in used_e or j in used_g:
            continue
        used_e.add(i)
        used_g.add(j)
        pairs.append((i, j))
    pairs.sort()
    return MatchResult(
        true_positives=[(expected[i], readings[j]) for i, j in pairs],
        false_positives=[g for j, g in enumerate(readings) if j not in used_g],
        false_negatives=[e for i, e in enumerate(expected) if i not in used_e],
    )


def scores(results: Iterable[MatchResult]) -> Scores:
    """Aggregate per-case comparisons (micro-averaged: every requirement weighs the same)."""
    total = Counts()
    per_target: dict[str, Counts] = {}
    cases = 0
    for result in results:
        cases += 1
        total = total + result.counts()
        for target, counts in result.per_target().items():
            per_target[target] = per_target.get(target, Counts()) + counts
    return Scores(cases=cases, total=total, per_target=dict(sorted(per_target.items())))


def scored(pairs: Iterable[tuple[Sequence[Requirement], Sequence[Requirement]]]) -> Scores:
    """Match each (expected, got) pair and aggregate: the one-call form of the two above."""
    return scores(match(expected, got) for expected, got in pairs)
