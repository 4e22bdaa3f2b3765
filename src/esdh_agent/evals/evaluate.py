"""Measure a critic on its labelled cases: accuracy, precision and recall on "should block",
and how often its verdict flips when sampled again or asked of another model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esdh_agent.agents.cases import CriticCase
from esdh_agent.agents.context import AgentWorkspace, CriticTemplate
from esdh_agent.agents.review import Judge, StructuredModel, judge

__all__ = ["CaseOutcome", "EvalResult", "evaluate"]


@dataclass
class CaseOutcome:
    case: str
    expected: str
    predicted: str
    samples: list[str] = field(default_factory=list)
    verdict: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.expected == self.predicted

    @property
    def flipped(self) -> bool:
        return len(set(self.samples)) > 1


@dataclass
class EvalResult:
    critic: str
    template_version: str
    outcomes: list[CaseOutcome]

    def _count(self, expected: str, predicted: str) -> int:
        return sum(1 for o in self.outcomes if o.expected == expected and o.predicted == predicted)

    @property
    def accuracy(self) -> float:
        return sum(o.correct for o in self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def precision(self) -> float | None:
        """Of the cases it blocked, how many should have been blocked (None: blocked none)."""
        tp, fp = self._count("block", "block"), self._count("pass", "block")
        return tp / (tp + fp) if tp + fp else None

    @property
    def recall(self) -> float | None:
        """Of the cases that should be blocked, how many it blocked (None: no such case)."""
        tp, fn = self._count("block", "block"), self._count("block", "pass")
        return tp / (tp + fn) if tp + fn else None

    @property
    def flip_rate(self) -> float | None:
        """Share of cases whose samples disagree (None: one sample each)."""
        sampled = [o for o in self.outcomes if len(o.samples) > 1]
        return sum(o.flipped for o in sampled) / len(sampled) if sampled else None

    def summary(self) -> dict[str, Any]:
        return {
            "critic": self.critic,
            "template_version": self.template_version,
            "cases": len(self.outcomes),
            "accuracy": round(self.accuracy, 4),
            "precision": None if self.precision is None else round(self.precision, 4),
            "recall": None if self.recall is None else round(self.recall, 4),
            "flip_rate": None if self.flip_rate is None else round(self.flip_rate, 4),
            "outcomes": [
                {
                    "case": o.case,
                    "expected": o.expected,
                    "predicted": o.predicted,
                    "samples": o.samples,
                }
                for o in self.outcomes
            ],
        }


def evaluate(
    aw: AgentWorkspace,
    llm: StructuredModel,
    critic: str,
    cases: list[CriticCase],
    *,
    template: CriticTemplate | None = None,
    samples: int = 1,
    temperature: float | None = None,
    models: list[str] | None = None,
) -> EvalResult:
    """Run ``critic`` on every case; with samples > 1 or several models, record each verdict.

    The first sample with the first model is the verdict scored; the others only measure
    stability. Samples differ by seed (base seed + i), so each is its own recorded request.
    """
    base_seed = aw.index.llm.seed or 0
    outcomes = []
    for case in cases:
        inputs = Judge(
            slice_prompt=case.slice_prompt,
            pinned=case.pinned,
            plan=case.plan,
            validation=case.validation,
            profile=case.profile,
        )
        verdicts = []
        choices: list[str | None] = list(models) if models else [None]
        for model in choices:
            for i in range(samples if critic != "rules" else 1):
                verdicts.append(
                    judge(
                        aw,
                        llm,
                        critic,
                        inputs,
                        template=template,
                        seed=base_seed + i if samples > 1 else None,
                        temperature=temperature,
                        model=model,
                    )
                )
        labels = ["pass" if v["passed"] else "block" for v in verdicts]
        outcomes.append(CaseOutcome(case.id, case.expected[critic], labels[0], labels, verdicts[0]))
    version = (
        template.meta.version
        if template
        else (aw.critics[critic].meta.version if critic in aw.critics else "built-in")
    )
    return EvalResult(critic, version, outcomes)
