"""The agent's view of a workspace: MOP, index, slice prompts, critic templates, policy.

Everything is loaded and checked up front, so a malformed file fails the run before any model
is called, with an error naming the file and line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from esdh_agent.agents.frontmatter import Document, read_document
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import Policy
from esdh_agent.core.yamlio import describe_validation_error, load_model
from esdh_agent.errors import InputError, WorkspaceError
from esdh_agent.llm.client import Budgets
from esdh_agent.workspace import Workspace

__all__ = [
    "AgentIndex",
    "AgentWorkspace",
    "CriticMeta",
    "CriticSeverity",
    "SliceMeta",
    "apply_pins",
    "load_agent_workspace",
]

CriticSeverity = Literal["info", "minor", "major", "critical"]
PLACEHOLDERS = ("slice_prompt", "pinned", "plan", "validation", "profile", "samples", "policy")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ID = r"^[a-z0-9][a-z0-9-]{0,47}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMDefaults(_Strict):
    base_url: str = "http://127.0.0.1:8765/v1"
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int | None = 20251101
    max_tokens: int = Field(1200, ge=16, le=32768)
    timeout_seconds: float = Field(180, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=10)


class CriticLists(_Strict):
    llm: list[str] = Field(default_factory=list)
    rules: list[Literal["rules"]] = Field(default_factory=lambda: ["rules"])  # type: ignore[arg-type]


class AgentIndex(_Strict):
    """mop/index.yaml"""

    version: int = Field(ge=1)
    default_slice: str
    slices: list[str] = Field(min_length=1)
    critics: CriticLists
    models: dict[str, str] = Field(description="Node kind (planner, critic) → model id.")
    llm: LLMDefaults = Field(default_factory=LLMDefaults)
    max_revisions: int = Field(2, ge=0, le=10)
    max_reasks: int = Field(2, ge=0, le=10)
    budgets: Budgets = Field(default_factory=Budgets)


class MopMeta(_Strict):
    id: str
    version: str
    owner: str


class SliceMeta(_Strict):
    """Front matter of a slice prompt."""

    id: str = Field(pattern=_ID)
    version: str
    owner: str
    dataset_version: str
    locked: bool = Field(False, description="Unpinned fields keep their defaults.")
    pinned: dict[str, Any] = Field(default_factory=dict)


class CriticMeta(_Strict):
    """Front matter of an LLM critic template."""

    id: str = Field(pattern=_ID)
    version: str
    model: str = Field(description="A key of index.models, or a model id.")
    temperature: float = Field(ge=0, le=2)
    pass_threshold: float = Field(ge=0, le=1)
    blocking_severities: list[CriticSeverity]


@dataclass(frozen=True)
class Slice:
    meta: SliceMeta
    doc: Document

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def prose(self) -> str:
        return self.doc.body


@dataclass(frozen=True)
class CriticTemplate:
    meta: CriticMeta
    doc: Document


@dataclass(frozen=True)
class AgentWorkspace:
    """Everything the agent reads from a workspace, validated."""

    ws: Workspace
    index: AgentIndex
    mop: Document
    slices: dict[str, Slice]
    critics: dict[str, CriticTemplate]
    policy: Policy
    policy_sha256: str
    hashes: dict[str, str] = field(default_factory=dict)

    def slice(self, slice_id: str) -> Slice:
        if slice_id not in self.slices:
            raise InputError(
                f"unknown slice {slice_id!r}",
                hint=f"slices in mop/index.yaml: {', '.join(self.index.slices)}",
            )
        return self.slices[slice_id]

    def model_for(self, name: str) -> str:
        return self.index.models.get(name, name)


def apply_pins(base: dict[str, Any], pins: dict[str, Any]) -> dict[str, Any]:
    """Pinned values over a plan dict; ``edge_cases`` merges field by field."""
    out = dict(base)
    for key, value in pins.items():
        if key == "edge_cases" and isinstance(value, dict):
            out[key] = {**dict(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def _check_pins(meta: SliceMeta, source: str) -> None:
    unknown = [k for k in meta.pinned if k not in GenerationPlan.model_fields]
    if unknown:
        raise WorkspaceError(
            f"pinned field {unknown[0]!r} is not a plan field",
            location=source,
            hint="`esdh-agent plan schema` lists every field",
        )
    try:
        GenerationPlan.model_validate(apply_pins(GenerationPlan().model_dump(), meta.pinned))
    except ValidationError as exc:
        _, message = describe_validation_error(exc)
        raise WorkspaceError(
            f"pinned requirements are not a valid plan: {message}", location=source
        ) from None


def _check_template(doc: Document) -> None:
    for offset, line in enumerate(doc.body.split("\n")):
        for name in _PLACEHOLDER.findall(line):
            if name not in PLACEHOLDERS:
                raise WorkspaceError(
                    f"unknown placeholder {{{{{name}}}}}",
                    location=f"{doc.path}:{doc.body_line + offset}",
                    hint=f"placeholders: {', '.join(PLACEHOLDERS)}",
                )


def load_agent_workspace(ws: Workspace) -> AgentWorkspace:
    """Load and check mop/, prompts/, critics/ and the policy."""
    index = load_model(ws.root / "mop" / "index.yaml", AgentIndex)
    mop = read_document(ws.root / "mop" / "master_operating_prompt.md", MopMeta)
    if index.default_slice not in index.slices:
        raise WorkspaceError(
            f"default_slice {index.default_slice!r} is not in slices",
            location=str(ws.root / "mop" / "index.yaml"),
        )
    slices: dict[str, Slice] = {}
    for slice_id in index.slices:
        path = ws.root / "prompts" / f"{slice_id}.md"
        doc = read_document(path, SliceMeta)
        meta: SliceMeta = doc.meta
        if meta.id != slice_id:
            raise WorkspaceError(
                f"front matter id {meta.id!r} differs from the file name", location=f"{path}:2"
            )
        _check_pins(meta, str(path))
        slices[slice_id] = Slice(meta, doc)
    critics: dict[str, CriticTemplate] = {}
    for critic_id in index.critics.llm:
        path = ws.root / "critics" / f"{critic_id}.md"
        doc = read_document(path, CriticMeta)
        if doc.meta.id != critic_id:
            raise WorkspaceError(
                f"front matter id {doc.meta.id!r} differs from the file name", location=f"{path}:2"
            )
        _check_template(doc)
        critics[critic_id] = CriticTemplate(doc.meta, doc)
    policy = ws.policy()
    policy_sha = hashlib.sha256(ws.policy_path.read_bytes()).hexdigest()
    index_sha = hashlib.sha256((ws.root / "mop" / "index.yaml").read_bytes()).hexdigest()
    hashes = {"mop": mop.sha256, "index": index_sha, "policy": policy_sha}
    hashes.update({f"critic:{k}": v.doc.sha256 for k, v in critics.items()})
    return AgentWorkspace(
        ws=ws,
        index=index,
        mop=mop,
        slices=slices,
        critics=critics,
        policy=policy,
        policy_sha256=policy_sha,
        hashes=hashes,
    )
