"""Typed agent data: what crosses the slice-generation graph's node boundaries.

Graph state, checkpoints, ``run.json`` and transcripts hold plain JSON: the
``model_dump(mode="json")`` of these models, with the same keys in the same order as before
they were models. Nodes validate what they read from the state and dump what they write, so
renaming or moving a model never breaks a checkpoint already on disk.

The LLM critic's answer schema (``Check``, ``CriticFinding``, ``CriticAnswer``) is what the
model is asked for; ``VerdictFinding`` and ``Verdict`` are what the framework derives from it.
What a verdict means (``verdict_state``, ``verdict_reason``, ``summary_line``) is defined here
once, for every surface: run summary, ``transcripts show``, HTML, ``--json`` and the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)

from esdh_agent.agents.verdicts import (
    UNUSABLE,
    VerdictState,
    one_line,
    summary_line,
    verdict_reason,
    verdict_state,
)

__all__ = [
    "UNUSABLE",
    "Approval",
    "ApprovalRequest",
    "BundleRef",
    "Check",
    "CriticAnswer",
    "CriticFinding",
    "CriticKind",
    "CriticSeverity",
    "Decision",
    "FindingStatus",
    "GateResult",
    "JsonObject",
    "Judge",
    "Outcome",
    "PlannerResult",
    "RunStatus",
    "SnapshotRef",
    "Verdict",
    "VerdictFinding",
    "VerdictState",
    "current_verdicts",
    "one_line",
    "summary_line",
    "verdict_reason",
    "verdict_state",
]


JsonObject = dict[str, Any]
"""A JSON object: a model's dump as held in graph state, or free-form data (plan, profile)."""

RunStatus = Literal[
    "running", "awaiting_approval", "committed", "unchanged", "refused", "rejected", "failed"
]
"""A run's status in ``run.json`` (and the CLI's and API's views of it)."""
Outcome = Literal["committed", "unchanged", "refused", "rejected"]
"""How a finished run ended (the graph state's ``outcome``)."""
Decision = Literal["commit", "revise", "give_up"]
CriticKind = Literal["rules", "llm"]
CriticSeverity = Literal["info", "minor", "major", "critical"]
FindingStatus = Literal["verified", "satisfied", "dismissed", "advisory"]


class _Data(BaseModel):
    # NaN and infinities a model may write (Python's JSON reads them) stay as they are.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


# -- What an LLM critic is asked for (its JSON schema is part of every recorded request) --


class Check(_Data):
    """A claim about the data the framework can verify."""

    kind: Literal["share", "count", "range", "allowed"]
    field: str = Field(
        max_length=40,
        description="Column (lob_type, state, body_style, "
        "risk_rating, make), count (persons, vehicles, profiles) or range "
        "(age, model_year).",
    )
    value: str | None = Field(None, max_length=40, description="For share: the category.")
    expected: float | None = Field(None, description="For share: fraction 0-1; for count.")
    min: float | None = Field(None, description="For range: lowest allowed.")
    max: float | None = Field(None, description="For range: highest allowed.")
    allowed: list[str] | None = Field(None, max_length=10, description="For allowed.")
    quote: str = Field("", max_length=200, description="The request's exact words.")


class CriticFinding(_Data):
    severity: CriticSeverity
    field: str = Field("", max_length=60)
    rule: str = Field("", max_length=60)
    message: str = Field(max_length=300)
    check: Check | None = None


class CriticAnswer(_Data):
    """What an LLM critic must answer."""

    score: float = Field(ge=0, le=1, description="0 = nothing right, 1 = all right.")
    summary: str = Field("", max_length=400)
    findings: list[CriticFinding] = Field(default_factory=list, max_length=8)
    suggested_changes: dict[str, Any] = Field(default_factory=dict, max_length=8)


# -- What nodes hand each other --


class Judge(BaseModel):
    """The inputs a critic sees: never the whole dataset."""

    slice_prompt: str
    pinned: JsonObject
    plan: JsonObject
    validation: JsonObject
    profile: JsonObject
    ledger: JsonObject | None = None  # ledger.model.Ledger, verified on the data


class PlannerResult(_Data):
    """The planner's proposal (valid plan fields only) and how it was obtained."""

    proposal: JsonObject
    valid: bool
    attempts: int
    mode: str
    dropped: list[str]
    errors: list[str]
    kept: list[str] = []  # fields kept from an earlier answer this one left out or got wrong


class GateResult(_Data):
    """The policy gate's plan, what it changed, what needs a human, what no one may allow."""

    plan: JsonObject
    notes: list[str]
    needs_approval: list[str]
    refused: list[str]


class ApprovalRequest(_Data):
    """What a run paused at the gate shows a human (``run.json``'s ``awaiting``)."""

    run_id: str
    slice: str
    reasons: list[str]
    plan: JsonObject


class Approval(_Data):
    """A human's answer at the gate, for the reasons it was asked."""

    approved: bool
    by: str
    comment: str
    at: str
    reasons: list[str]

    def covers(self, reasons: Iterable[str]) -> bool:
        """Does this approval allow every one of ``reasons``?"""
        return self.approved and set(reasons) <= set(self.reasons)


class BundleRef(_Data):
    """A staged bundle on disk (the ``generate_bundle`` tool's result)."""

    path: str
    rows: dict[str, int]
    content_hash: str
    manifest: JsonObject
    seconds: dict[str, float]


class SnapshotRef(_Data):
    """What the commit node did with the bundle."""

    name: str
    path: str
    status: Literal["committed", "unchanged"]
    content_hash: str


class VerdictFinding(_Data):
    """A critic's finding as the framework judged it."""

    severity: CriticSeverity
    field: str
    rule: str
    message: str
    check: Check | None
    status: FindingStatus
    reason: str
    blocking: bool


_OMITTED_WHEN_NONE = ("errors", "template_version", "revision")


class Verdict(_Data):
    """One critic's verdict on one revision, derived by the framework (ADR 0006).

    ``errors`` (an abstaining LLM critic's), ``template_version`` (LLM critics) and
    ``revision`` (set by the graph) are left out of the JSON when unset.
    """

    critic: str
    kind: CriticKind
    passed: bool
    abstained: bool
    score: float | None
    summary: str
    errors: list[str] | None = None
    findings: list[VerdictFinding]
    suggested_changes: JsonObject
    threshold: float
    template_version: str | None = None
    revision: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        """``state``, ``reason`` and ``summary_line`` are derived: recomputed, never read."""
        if isinstance(data, Mapping) and any(k in data for k in _DERIVED):
            return {k: v for k, v in data.items() if k not in _DERIVED}
        return data

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> JsonObject:
        data: JsonObject = handler(self)
        for key in _OMITTED_WHEN_NONE:
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> VerdictState:
        """``blocking``, ``pass``, ``advisory`` or ``abstained`` (see ``VerdictState``)."""
        return verdict_state(self.model_dump(mode="json", exclude=set(_DERIVED)))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason(self) -> str:
        """Why the verdict has its state, in one bounded line."""
        return verdict_reason(self.model_dump(mode="json", exclude=set(_DERIVED)))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary_line(self) -> str:
        """The model's summary on one bounded line, or ``unusable answer``."""
        return summary_line(self.summary)

    @property
    def blocking(self) -> list[VerdictFinding]:
        return [f for f in self.findings if f.blocking]

    def _headline(self) -> JsonObject:
        return {k: getattr(self, k) for k in ("critic", "passed", "abstained", "score", "summary")}

    def provenance(self) -> JsonObject:
        """The verdict as a committed manifest records it (with its state and reason)."""
        keys = ("severity", "rule", "field", "message", "status", "reason", "blocking")
        findings = [{k: getattr(f, k) for k in keys} for f in self.findings]
        explained = {k: getattr(self, k) for k in ("state", "reason", "summary_line", "threshold")}
        return {**self._headline(), "findings": findings, **explained}

    def brief(self) -> JsonObject:
        """The verdict as ``run.json`` records it (with its state, reason and findings)."""
        blocking = {"blocking": [f.message for f in self.blocking]}
        return {**self._headline(), **blocking, **self.provenance()}


_DERIVED = ("state", "reason", "summary_line")


def current_verdicts(state: Mapping[str, Any]) -> list[Verdict]:
    """The verdicts of the state's current revision (every critic's, in arrival order)."""
    revision = state.get("revision")
    return [
        Verdict.model_validate(v)
        for v in state.get("verdicts") or []
        if v.get("revision") == revision
    ]
