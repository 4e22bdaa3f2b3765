"""The critic registry: every critic, rule-based or LLM, looked up by id and run alike.

Rule-based critics are built into the framework (``RULE_CRITICS``; mop/index.yaml's
``critics.rules`` lists those a workspace runs). LLM critics are the workspace's templates
(``critics.llm``). Both answer ``review(llm, case)`` with a ``Verdict``; only an LLM critic
uses the model, and callers ask ``needs_model`` rather than an id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from esdh_agent.agents.conformance import CRITIC_ID as CONFORMANCE_ID
from esdh_agent.agents.conformance import request_verdict
from esdh_agent.agents.context import AgentWorkspace, CriticTemplate
from esdh_agent.agents.critics import derive_verdict, rules_verdict
from esdh_agent.agents.models import CriticAnswer, CriticKind, Judge, Verdict
from esdh_agent.agents.render import CRITIC_SYSTEM, critic_prompt
from esdh_agent.core.report import ValidationReport
from esdh_agent.errors import InputError
from esdh_agent.llm.protocol import StructuredModel

__all__ = ["RULE_CRITICS", "Critic", "LLMCritic", "RuleCritic", "critic_ids", "get_critic"]

BUILT_IN = "built-in"
"""The version a rule-based critic reports (it changes with the framework)."""


def _rules(case: Judge) -> Verdict:
    return rules_verdict(ValidationReport.model_validate(case.validation))


RULE_CRITICS: Mapping[str, Callable[[Judge], Verdict]] = {
    "rules": _rules,
    CONFORMANCE_ID: request_verdict,
}
"""Rule-based critics by id: each turns what the run measured into a verdict."""
MANDATORY = (CONFORMANCE_ID,)
"""Rule-based critics every run asks, whatever the workspace's index lists."""


class Critic(Protocol):
    """One critic, whatever its kind."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> CriticKind: ...

    @property
    def version(self) -> str: ...

    @property
    def needs_model(self) -> bool:
        """Does ``review`` call the model (and so need one, a cassette, samples...)?"""
        ...

    def review(
        self,
        llm: StructuredModel | None,
        case: Judge,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        model: str | None = None,
    ) -> Verdict:
        """The critic's verdict on ``case``."""
        ...


@dataclass(frozen=True)
class RuleCritic:
    """A deterministic critic over the validation report; it never calls a model."""

    id: str
    check: Callable[[Judge], Verdict]
    kind: Literal["rules"] = "rules"
    version: str = BUILT_IN
    needs_model: bool = False

    def review(
        self,
        llm: StructuredModel | None,
        case: Judge,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        model: str | None = None,
    ) -> Verdict:
        return self.check(case)


@dataclass(frozen=True)
class LLMCritic:
    """A critic template asked of a model; its verdict is derived from the evidence."""

    aw: AgentWorkspace
    template: CriticTemplate
    kind: Literal["llm"] = "llm"
    needs_model: bool = True

    @property
    def id(self) -> str:
        return self.template.meta.id

    @property
    def version(self) -> str:
        return self.template.meta.version

    def review(
        self,
        llm: StructuredModel | None,
        case: Judge,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        model: str | None = None,
    ) -> Verdict:
        if llm is None:
            raise ValueError(f"critic {self.id!r} needs a model")
        meta = self.template.meta
        user = critic_prompt(self.aw, self.template, case)
        result = llm.structured(
            node=f"critic:{meta.id}",
            model=model or self.aw.model_for(meta.model),
            system=CRITIC_SYSTEM,
            user=user,
            schema=CriticAnswer,
            max_reasks=self.aw.index.max_reasks,
            temperature=meta.temperature if temperature is None else temperature,
            seed=seed,
        )
        verdict = derive_verdict(
            meta.id,
            result.value,
            threshold=meta.pass_threshold,
            blocking=list(meta.blocking_severities),
            profile=case.profile,
            prose=case.slice_prompt,
            pinned=case.pinned,
            error=result.errors,
        )
        return verdict.model_copy(update={"template_version": meta.version})


def critic_ids(aw: AgentWorkspace) -> list[str]:
    """Every critic a run asks, in order: the rule-based ones (request conformance always),
    then the LLM templates."""
    rules: list[str] = [*aw.index.critics.rules]
    rules += [c for c in MANDATORY if c not in rules]
    return [*rules, *aw.index.critics.llm]


def get_critic(
    aw: AgentWorkspace, critic_id: str, *, template: CriticTemplate | None = None
) -> Critic:
    """The critic called ``critic_id``; ``template`` stands in for an LLM critic's own (to
    measure an older version of it)."""
    rule = RULE_CRITICS.get(critic_id)
    if rule is not None:
        return RuleCritic(critic_id, rule)
    if template is None:
        if critic_id not in aw.critics:
            raise InputError(
                f"unknown critic {critic_id!r}", hint=f"critics: {', '.join(critic_ids(aw))}"
            )
        template = aw.critics[critic_id]
    return LLMCritic(aw, template)
