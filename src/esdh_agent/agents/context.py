"""The agent's view of a workspace: MOP, index, slice prompts, critic templates, policy.

Everything is loaded and checked up front, so a malformed file fails the run before any model
is called, with an error naming the file and line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from esdh_agent.agents.frontmatter import Document, read_document
from esdh_agent.agents.models import CriticSeverity
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import Policy
from esdh_agent.core.yamlio import FAST_LOADER, describe_validation_error, load_model
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
    "discovered_slices",
    "load_agent_workspace",
]

PLACEHOLDERS = (
    "slice_prompt",
    "pinned",
    "plan",
    "validation",
    "profile",
    "samples",
    "policy",
    "ledger",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ID = r"^[a-z0-9][a-z0-9-]{0,47}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMDefaults(_Strict):
    """mop/index.yaml ``llm``: the endpoint and how calls to it are made and retried."""

    base_url: str = "http://127.0.0.1:8765/v1"
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int | None = 20251101
    max_tokens: int = Field(1200, ge=16, le=32768)
    timeout_seconds: float = Field(180, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_seconds: float = Field(
        0.5, ge=0, le=60, description="First retry wait; doubles on each further retry."
    )
    backoff_max_seconds: float = Field(8, ge=0, le=600, description="Longest backoff wait.")
    retry_after_max_seconds: float = Field(
        30, ge=0, le=600, description="Longest wait a server's Retry-After may ask for."
    )


class CriticLists(_Strict):
    llm: list[str] = Field(default_factory=list)
    rules: list[Literal["rules", "request"]] = Field(default_factory=lambda: ["rules", "request"])  # type: ignore[arg-type]


class AgentIndex(_Strict):
    """mop/index.yaml. Once loaded, ``slices`` holds the slices it lists, in that order, then
    every other slice found in ``prompts/`` (by id)."""

    version: int = Field(ge=1)
    default_slice: str
    slices: list[str] = Field(
        default_factory=list,
        description="Slices in the order to run them; any other prompts/<id>.md runs too.",
    )
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
                hint=f"slices (prompts/<id>.md): {', '.join(self.index.slices)}; "
                f"start a new one with `esdh-agent slices new {slice_id}`",
            )
        return self.slices[slice_id]

    def model_for(self, name: str) -> str:
        """The model id of a node kind; ESDH_MODEL_OVERRIDE (recording elsewhere) wins."""
        import os

        return os.environ.get("ESDH_MODEL_OVERRIDE") or self.index.models.get(name, name)


def apply_pins(base: dict[str, Any], pins: dict[str, Any]) -> dict[str, Any]:
    """Pinned values over a plan dict; ``edge_cases`` merges field by field."""
    out = dict(base)
    for key, value in pins.items():
        if key == "edge_cases" and isinstance(value, dict):
            out[key] = {**dict(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def yaml_line(path: Path, *keys: str | int, front_matter: bool = False) -> int | None:
    """1-based line of the value at ``keys`` in a YAML file (or a Markdown file's front
    matter), or of the deepest parent found; None when the file cannot be parsed.

    Used to point errors found after parsing (a missing file a list names, an unknown pinned
    field) at the line to fix, not just the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    offset = 0
    if front_matter:
        lines = text.split("\n")
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if not lines or lines[0].strip() != "---" or end is None:
            return None
        text, offset = "\n".join(lines[1:end]), 1
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if str(kv[0].value) == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return line + 1 + offset


def _at(path: Path, *keys: str | int, front_matter: bool = False) -> str:
    line = yaml_line(path, *keys, front_matter=front_matter)
    return f"{path}:{line}" if line else str(path)


def _check_pins(meta: SliceMeta, path: Path) -> None:
    unknown = [k for k in meta.pinned if k not in GenerationPlan.model_fields]
    if unknown:
        raise WorkspaceError(
            f"pinned field {unknown[0]!r} is not a plan field",
            location=_at(path, "pinned", unknown[0], front_matter=True),
            hint="`esdh-agent plan schema` lists every field",
        )
    try:
        GenerationPlan.model_validate(apply_pins(GenerationPlan().model_dump(), meta.pinned))
    except ValidationError as exc:
        loc, message = describe_validation_error(exc)
        raise WorkspaceError(
            f"pinned requirements are not a valid plan: {message}",
            location=_at(path, "pinned", *loc, front_matter=True),
        ) from None


def _listed_file(ws: Workspace, folder: str, name: str, section: tuple[str, ...]) -> Path:
    """``<folder>/<name>.md``, which mop/index.yaml lists; a missing file names that line."""
    path = ws.root / folder / f"{name}.md"
    if not path.is_file():
        index = ws.root / "mop" / "index.yaml"
        items = _index_list(index, section)
        keys: tuple[str | int, ...] = section
        if name in items:
            keys = (*section, items.index(name))
        raise WorkspaceError(
            f"{'/'.join(section)} lists {name!r}, but {folder}/{name}.md does not exist",
            location=_at(index, *keys),
            hint=f"create {folder}/{name}.md or remove {name!r} from the list",
        )
    return path


def _index_list(index: Path, section: tuple[str, ...]) -> list[str]:
    try:
        data: Any = yaml.load(index.read_text(encoding="utf-8"), Loader=FAST_LOADER)
        for key in section:
            data = data[key]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return []
    return [str(item) for item in data] if isinstance(data, list) else []


def _check_template(doc: Document) -> None:
    for offset, line in enumerate(doc.body.split("\n")):
        for name in _PLACEHOLDER.findall(line):
            if name not in PLACEHOLDERS:
                raise WorkspaceError(
                    f"unknown placeholder {{{{{name}}}}}",
                    location=f"{doc.path}:{doc.body_line + offset}",
                    hint=f"placeholders: {', '.join(PLACEHOLDERS)}",
                )


def discovered_slices(ws: Workspace, listed: list[str]) -> list[str]:
    """The ids of ``prompts/<id>.md`` files the index does not list, sorted."""
    folder = ws.root / "prompts"
    found = (p.stem for p in folder.glob("*.md") if p.is_file()) if folder.is_dir() else ()
    return sorted(set(found) - set(listed))


def load_agent_workspace(ws: Workspace) -> AgentWorkspace:
    """Load and check mop/, prompts/, critics/ and the policy.

    Every ``prompts/<id>.md`` is a slice: those mop/index.yaml lists, in its order, then the
    others by id. Each must be a valid slice whose front matter id is its file name.
    """
    index_path = ws.root / "mop" / "index.yaml"
    index = load_model(index_path, AgentIndex)
    mop = read_document(ws.root / "mop" / "master_operating_prompt.md", MopMeta)
    listed = list(index.slices)
    index = index.model_copy(update={"slices": listed + discovered_slices(ws, listed)})
    if not index.slices:
        raise WorkspaceError(
            "no slices: prompts/ holds no <id>.md",
            location=str(index_path),
            hint="start one with `esdh-agent slices new ID`",
        )
    if index.default_slice not in index.slices:
        raise WorkspaceError(
            f"default_slice {index.default_slice!r} is not a slice",
            location=str(index_path),
            hint=f"create prompts/{index.default_slice}.md or name another slice",
        )
    slices: dict[str, Slice] = {}
    for slice_id in index.slices:
        if slice_id in listed:
            path = _listed_file(ws, "prompts", slice_id, ("slices",))
        else:
            path = ws.root / "prompts" / f"{slice_id}.md"
        doc = read_document(path, SliceMeta)
        meta: SliceMeta = doc.meta
        if meta.id != slice_id:
            raise WorkspaceError(
                f"front matter id {meta.id!r} differs from the file name",
                location=_at(path, "id", front_matter=True),
            )
        _check_pins(meta, path)
        slices[slice_id] = Slice(meta, doc)
    critics: dict[str, CriticTemplate] = {}
    for critic_id in index.critics.llm:
        path = _listed_file(ws, "critics", critic_id, ("critics", "llm"))
        doc = read_document(path, CriticMeta)
        if doc.meta.id != critic_id:
            raise WorkspaceError(
                f"front matter id {doc.meta.id!r} differs from the file name",
                location=_at(path, "id", front_matter=True),
            )
        _check_template(doc)
        critics[critic_id] = CriticTemplate(doc.meta, doc)
    policy = ws.policy()
    policy_sha = hashlib.sha256(ws.policy_path.read_bytes()).hexdigest()
    index_sha = hashlib.sha256((ws.root / "mop" / "index.yaml").read_bytes()).hexdigest()
    hashes = {"mop": mop.sha256, "index": index_sha, "policy": policy_sha}
    grammar = ws.governance / "request_grammar.yaml"
    if grammar.is_file():
        hashes["grammar"] = hashlib.sha256(grammar.read_bytes()).hexdigest()
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
