"""The labelled corpus of slice prompts: what a careful human reads from each one.

Each ``corpus/requests/*.yaml`` file holds one slice prompt, the ledger a careful reader
expects from its prose (every requirement with its exact quote), the quotes of checkable
words the plan cannot express, and what a correct run does with it (commit, refuse or
pause). The corpus defines what "right" means for the extractors: :mod:`.score` compares
their ledgers against these labels.

Loading is strict, because a label whose quote is not in the prompt cannot be located and
would silently score as a miss: every quote must occur verbatim in the prompt, every target,
op and tolerance must be one of the model's, and ids must be unique across the corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.yamlio import load_model
from esdh_agent.errors import InputError
from esdh_agent.ledger.model import Op, Requirement, Target, Tolerance

__all__ = [
    "OUTCOMES",
    "STYLES",
    "CorpusCase",
    "ExpectedRequirement",
    "load_case",
    "load_corpus",
]

Style = Literal[
    "terse",
    "chatty",
    "bullets",
    "typos",
    "words",
    "fractions",
    "negations",
    "ranges",
    "states",
    "contradictions",
    "out-of-policy",
    "mixed",
]
STYLES: tuple[str, ...] = get_args(Style)
"""How a prompt is written (docs/requests.md, "The corpus")."""

Outcome = Literal["commit", "refuse", "pause"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
"""What a correct run does with the prompt."""

ExpectedValue = int | float | str | list[int] | list[str] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedRequirement(_Strict):
    """One requirement a careful reader finds in the prose, located by its quote."""

    target: Target
    key: str | None = None
    op: Op
    value: ExpectedValue = None
    tolerance: Tolerance
    quote: str = Field(min_length=1, description="An exact substring of the prompt.")

    def to_requirement(self, prompt: str, req_id: str = "E1") -> Requirement:
        """The label as a :class:`Requirement`, its span the quote's first occurrence."""
        start = prompt.find(self.quote)
        if start < 0:
            raise InputError(f"quote {self.quote!r} does not occur in the prompt")
        return Requirement(
            id=req_id,
            target=self.target,
            key=self.key,
            op=self.op,
            value=self.value,
            tolerance=self.tolerance,
            quote=self.quote,
            start=start,
            end=start + len(self.quote),
        )


class CorpusCase(_Strict):
    """One labelled slice prompt."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    style: Style
    prompt: str = Field(min_length=1)
    pinned: dict[str, Any] = Field(
        default_factory=dict, description="Front-matter pins, as in a slice (plan fields)."
    )
    expected: list[ExpectedRequirement] = Field(default_factory=list)
    unsupported: list[str] = Field(
        default_factory=list, description="Quotes of checkable words the plan cannot express."
    )
    outcome: Outcome

    @model_validator(mode="after")
    def _pins_are_plan_fields(self) -> CorpusCase:
        unknown = sorted(set(self.pinned) - set(GenerationPlan.model_fields))
        if unknown:
            raise ValueError(f"pinned: {unknown[0]!r} is not a plan field")
        return self

    def quotes(self) -> list[str]:
        """Every quote the case holds: the expected requirements' and the unsupported ones."""
        return [e.quote for e in self.expected] + list(self.unsupported)

    def requirements(self) -> list[Requirement]:
        """The expected ledger as requirements, in prose order, with ids ``E1``, ``E2``, ..."""
        located = [e.to_requirement(self.prompt) for e in self.expected]
        located.sort(key=lambda r: (r.start, r.end))
        return [r.model_copy(update={"id": f"E{i}"}) for i, r in enumerate(located, 1)]


def load_case(path: Path) -> CorpusCase:
    """One corpus file, validated; every quote must occur verbatim in its prompt."""
    case = load_model(path, CorpusCase, error=InputError)
    for quote in case.quotes():
        if quote not in case.prompt:
            raise InputError(
                f"quote {quote!r} does not occur in the prompt of case {case.id!r}",
                location=str(path),
                hint="quotes are exact substrings of the prompt (case and spacing included)",
            )
    return case


def load_corpus(directory: Path) -> list[CorpusCase]:
    """Every ``*.yaml`` case under ``directory``, sorted by id; duplicate ids are an error."""
    if not directory.is_dir():
        raise InputError(f"no corpus directory at {directory}")
    seen: dict[str, Path] = {}
    cases: list[CorpusCase] = []
    for path in sorted(directory.glob("*.yaml")):
        case = load_case(path)
        if case.id in seen:
            raise InputError(
                f"duplicate corpus id {case.id!r} (also in {seen[case.id]})", location=str(path)
            )
        seen[case.id] = path
        cases.append(case)
    return sorted(cases, key=lambda c: c.id)
