"""Measure a critic on its labelled cases: accuracy, precision and recall on "should block",
and how often its verdict flips when sampled again or asked of another model.

``evaluate`` scores one critic with a given model; ``evaluate_critic`` loads its cases and opens
the eval session (client + cassette + transcript); ``score_critics`` is ``critic eval``: every
critic now and, with ``--against``, as its template and cassette were at a git revision.

A case whose calls the cassette does not hold (a template changed since it was recorded) is
not scored: it *needs recording*, and every other case and critic is still scored."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esdh_agent.agents.context import AgentWorkspace, CriticTemplate
from esdh_agent.agents.models import Judge
from esdh_agent.agents.registry import critic_ids, get_critic
from esdh_agent.errors import InputError, ReplayMiss
from esdh_agent.evals.cases import CriticCase, labelled_critics, load_cases
from esdh_agent.evals.session import side_job_client
from esdh_agent.evals.templates import MissingAtRevision, check_revision, template_at
from esdh_agent.llm.protocol import StructuredModel
from esdh_agent.llm.recording import LLMMode
from esdh_agent.workspace import Workspace

__all__ = [
    "CaseOutcome",
    "EvalResult",
    "all_critics",
    "below_accuracy",
    "evaluate",
    "evaluate_critic",
    "needs_recording",
    "require_critic",
    "score_critics",
]


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
    """The scored cases, and those the recording lacks (case id → the replay miss)."""

    critic: str
    template_version: str
    outcomes: list[CaseOutcome]
    unrecorded: dict[str, str] = field(default_factory=dict)
    record_with: str | None = None

    def _count(self, expected: str, predicted: str) -> int:
        return sum(1 for o in self.outcomes if o.expected == expected and o.predicted == predicted)

    @property
    def accuracy(self) -> float | None:
        """Share of the scored cases judged right (None: none could be scored)."""
        if not self.outcomes:
            return None
        return sum(o.correct for o in self.outcomes) / len(self.outcomes)

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
            "cases": len(self.outcomes) + len(self.unrecorded),
            "scored": len(self.outcomes),
            "accuracy": None if self.accuracy is None else round(self.accuracy, 4),
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
            "needs_recording": sorted(self.unrecorded),
            "record_with": self.record_with if self.unrecorded else None,
        }


def evaluate(
    aw: AgentWorkspace,
    llm: StructuredModel | None,
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
    A case with any call the cassette lacks is left unscored (``EvalResult.unrecorded``).
    """
    base_seed = aw.index.llm.seed or 0
    judge = get_critic(aw, critic, template=template)
    outcomes = []
    unrecorded: dict[str, str] = {}
    choices: list[str | None] = list(models) if models else [None]
    for case in cases:
        inputs = Judge(
            slice_prompt=case.slice_prompt,
            pinned=case.pinned,
            plan=case.plan,
            validation=case.validation,
            profile=case.profile,
            ledger=case.ledger,
        )
        verdicts = []
        try:
            for model in choices:
                for i in range(samples if judge.needs_model else 1):
                    verdict = judge.review(
                        llm,
                        inputs,
                        seed=base_seed + i if samples > 1 else None,
                        temperature=temperature,
                        model=model,
                    )
                    verdicts.append(verdict.model_dump(mode="json"))
        except ReplayMiss as miss:
            unrecorded[case.id] = miss.message
            continue
        labels = ["pass" if v["passed"] else "block" for v in verdicts]
        outcomes.append(CaseOutcome(case.id, case.expected[critic], labels[0], labels, verdicts[0]))
    return EvalResult(critic, judge.version, outcomes, unrecorded)


def all_critics(aw: AgentWorkspace) -> list[str]:
    """Every critic of the workspace with labelled cases, rule-based first, in the MOP
    index's order: ``critic eval``'s default. A critic no case names (the built-in ``request``
    critic, in a workspace whose specs predate it) is left out rather than failing the whole
    command; named explicitly it is refused with a hint. With no labelled case at all, every
    critic (so the refusal and its hint are shown)."""
    every = critic_ids(aw)
    labelled = labelled_critics(aw)
    return [c for c in every if c in labelled] or every


def require_critic(aw: AgentWorkspace, critic: str) -> None:
    """Refuse a critic the workspace does not have."""
    get_critic(aw, critic)


def evaluate_critic(
    ws: Workspace,
    aw: AgentWorkspace,
    critic: str,
    mode: LLMMode,
    base_url: str | None,
    *,
    template: CriticTemplate | None,
    cassette_path: Path,
    samples: int,
    temperature: float | None,
    models: list[str] | None,
) -> EvalResult:
    """``critic`` on every labelled case naming it, its model calls inside ``cassette_path``
    (the rule-based critic calls no model and opens no session). In replay, the cases the
    cassette lacks (all of them when there is no cassette) are left unscored."""
    cases = load_cases(aw, critic)
    if not cases:
        raise InputError(
            f"no labelled cases name critic {critic!r}",
            hint="add expectations for it in critics/cases/specs.yaml",
        )
    judge = get_critic(aw, critic, template=template)
    if not judge.needs_model:
        return evaluate(aw, None, critic, cases)
    record = f"esdh-agent cassettes record --eval {critic} --base-url URL"
    try:
        with side_job_client(
            ws,
            aw,
            mode=mode,
            base_url=base_url,
            label=f"eval-{critic}",
            cassette_path=cassette_path,
            record_command=record,
        ) as llm:
            result = evaluate(
                aw,
                llm,
                critic,
                cases,
                template=template,
                samples=samples,
                temperature=temperature,
                models=models,
            )
    except ReplayMiss as miss:  # no cassette at all
        result = EvalResult(critic, judge.version, [], {c.id: miss.message for c in cases})
    result.record_with = record
    return result


def _changed(current: EvalResult, before: EvalResult) -> list[dict[str, str]]:
    """The cases scored both times whose predicted verdict differs between two evaluations."""
    then = {o.case: o for o in before.outcomes}
    return [
        {
            "case": a.case,
            "expected": a.expected,
            "before": then[a.case].predicted,
            "now": a.predicted,
        }
        for a in current.outcomes
        if a.case in then and a.predicted != then[a.case].predicted
    ]


def _against(
    ws: Workspace,
    aw: AgentWorkspace,
    name: str,
    rev: str,
    folder: Path,
    current: EvalResult,
    **options: Any,
) -> dict[str, Any]:
    """``name`` as its template and cassette were at ``rev``: its summary and the cases that
    changed, or one line saying why there is nothing to compare."""
    if not get_critic(aw, name).needs_model:
        return {"revision": rev, "note": "built into the framework: no template to compare"}
    try:
        template, cassette_path = template_at(ws, rev, name, folder)
    except MissingAtRevision as exc:
        return {"revision": rev, "note": f"{exc.message}: nothing to compare"}
    before = evaluate_critic(
        ws, aw, name, "replay", None, template=template, cassette_path=cassette_path, **options
    )
    before.record_with = None  # a past revision's recording cannot be made now
    return {"revision": rev, **before.summary(), "changed": _changed(current, before)}


def score_critics(
    ws: Workspace,
    aw: AgentWorkspace,
    critics: list[str],
    mode: LLMMode,
    base_url: str | None,
    *,
    against: str | None,
    samples: int,
    temperature: float | None,
    models: list[str] | None,
) -> list[dict[str, Any]]:
    """One row per critic: ``now`` (its summary) and, with ``against``, ``against`` (replayed
    from the template and cassette at that revision, or a ``note`` saying why there is
    nothing to compare) and ``changed`` (the cases whose verdict differs)."""
    if against:
        check_revision(ws, against)
    options: dict[str, Any] = {"samples": samples, "temperature": temperature, "models": models}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in critics:
            current = evaluate_critic(
                ws,
                aw,
                name,
                mode,
                base_url,
                template=None,
                cassette_path=ws.paths.eval_cassette(name),
                **options,
            )
            row: dict[str, Any] = {"now": current.summary()}
            if against:
                folder = Path(tmp) / name
                folder.mkdir()
                then = _against(ws, aw, name, against, folder, current, **options)
                row["changed"] = then.pop("changed", [])
                row["against"] = then
            rows.append(row)
    return rows


def below_accuracy(rows: list[dict[str, Any]], min_accuracy: float | None) -> list[str]:
    """The critics of ``score_critics`` rows scoring below ``min_accuracy`` (none: no gate;
    a critic with no case scored is not below it: it needs recording)."""
    if min_accuracy is None:
        return []
    return [
        r["now"]["critic"]
        for r in rows
        if r["now"].get("accuracy") is not None and r["now"]["accuracy"] < min_accuracy
    ]


def needs_recording(rows: list[dict[str, Any]]) -> list[str]:
    """The critics of ``score_critics`` rows with cases their current recording lacks."""
    return [r["now"]["critic"] for r in rows if r["now"].get("needs_recording")]
