"""One critic judging one bundle: the same code for runs, `critic run` and `critic eval`."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from esdh_agent.agents.context import AgentWorkspace, CriticTemplate
from esdh_agent.agents.critics import CriticAnswer, derive_verdict, rules_verdict
from esdh_agent.agents.render import dumps, policy_summary, render_critic, validation_summary
from esdh_agent.core.report import ValidationReport
from esdh_agent.llm.client import CallResult

__all__ = ["CRITIC_SYSTEM", "Judge", "StructuredModel", "critic_prompt", "judge"]

CRITIC_SYSTEM = (
    "You are a careful reviewer of synthetic insurance test data. Answer with one JSON "
    "object: score (0-1), summary, findings (severity info/minor/major/critical, field, rule, "
    "message, optional check) and suggested_changes (plan field -> new value)."
)


class StructuredModel(Protocol):
    """What a critic needs from a model client (LLMClient or a scripted fake)."""

    def structured(
        self,
        *,
        node: str,
        model: str,
        system: str,
        user: str,
        schema: type[BaseModel],
        max_reasks: int,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> CallResult: ...


class Judge(BaseModel):
    """The inputs a critic sees: never the whole dataset."""

    slice_prompt: str
    pinned: dict[str, Any]
    plan: dict[str, Any]
    validation: dict[str, Any]
    profile: dict[str, Any]


def critic_prompt(aw: AgentWorkspace, template: CriticTemplate, case: Judge) -> str:
    """The rendered template (deterministic)."""
    report = ValidationReport.model_validate(case.validation)
    return render_critic(
        template,
        {
            "slice_prompt": case.slice_prompt.strip(),
            "pinned": dumps(case.pinned) if case.pinned else "(none)",
            "plan": dumps(case.plan),
            "validation": validation_summary(report),
            "profile": dumps({k: v for k, v in case.profile.items() if k != "samples"}),
            "samples": dumps(case.profile.get("samples", {})),
            "policy": policy_summary(aw),
        },
    )


def judge(
    aw: AgentWorkspace,
    llm: StructuredModel,
    critic: str,
    case: Judge,
    *,
    template: CriticTemplate | None = None,
    seed: int | None = None,
    temperature: float | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The critic's verdict on ``case`` (the rule-based critic needs no model)."""
    report = ValidationReport.model_validate(case.validation)
    if critic == "rules":
        return rules_verdict(report)
    template = template or aw.critics[critic]
    meta = template.meta
    user = critic_prompt(aw, template, case)
    result = llm.structured(
        node=f"critic:{meta.id}",
        model=model or aw.model_for(meta.model),
        system=CRITIC_SYSTEM,
        user=user,
        schema=CriticAnswer,
        max_reasks=aw.index.max_reasks,
        temperature=meta.temperature if temperature is None else temperature,
        seed=seed,
    )
    answer = result.value if isinstance(result.value, CriticAnswer) else None
    verdict = derive_verdict(
        meta.id,
        answer,
        threshold=meta.pass_threshold,
        blocking=list(meta.blocking_severities),
        profile=case.profile,
        prose=case.slice_prompt,
        pinned=case.pinned,
        error=result.errors,
    )
    verdict["template_version"] = meta.version
    return verdict
