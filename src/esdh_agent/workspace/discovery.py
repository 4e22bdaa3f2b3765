"""Workspaces: the governed content the framework runs on.

A workspace is a directory holding ``esdh-workspace.yaml`` plus ``mop/``, ``prompts/``,
``critics/``, ``governance/``, ``cassettes/`` and ``data/``. It is found like git finds
``.git``: ``--workspace DIR``, else ``$ESDH_WORKSPACE``, else the nearest directory at or
above the current one that holds ``esdh-workspace.yaml``. The repository root is the
reference workspace; ``esdh-agent init DIR`` copies its packaged files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.core.policy import Policy, load_policy
from esdh_agent.core.store import SnapshotStore
from esdh_agent.core.vocab import Vocabulary, load_vocabulary
from esdh_agent.core.yamlio import load_model
from esdh_agent.errors import InputError, WorkspaceError
from esdh_agent.workspace.paths import WorkspacePaths

__all__ = [
    "ENV_VAR",
    "MARKER_FILE",
    "TEMPLATE_ENTRIES",
    "Workspace",
    "WorkspaceSettings",
    "find_workspace",
    "init_workspace",
    "template_root",
]

MARKER_FILE = "esdh-workspace.yaml"
TEMPLATE_ENTRIES = (MARKER_FILE, "mop", "prompts", "critics", "governance", "cassettes")
ENV_VAR = "ESDH_WORKSPACE"


class WorkspaceSettings(BaseModel):
    """esdh-workspace.yaml: choices that belong to the workspace, never to a model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("esdh-workspace", max_length=80)
    formats: list[Literal["csv", "json", "parquet"]] = Field(
        default_factory=lambda: ["csv"],  # type: ignore[arg-type]
        description="Output formats of new snapshots.",
    )
    workers: int = Field(0, ge=0, le=256, description="Worker processes (0: one per CPU).")
    engine: Literal["local", "dask"] = Field(
        "local", description="Where blocks run: local processes, or a Dask cluster."
    )
    scheduler: str | None = Field(
        None,
        max_length=200,
        description="Dask scheduler address for the dask engine (none: start a local cluster "
        "of `workers` processes).",
    )
    layout: Literal["single", "parts"] = Field(
        "single",
        description="Snapshot files: one per entity and format (single), or one per block "
        "(parts: persons/part-00000.csv …). Never changes the content hash.",
    )


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: WorkspaceSettings

    @property
    def governance(self) -> Path:
        return self.root / "governance"

    @property
    def data(self) -> Path:
        return self.paths.data

    @property
    def paths(self) -> WorkspacePaths:
        """Every location inside this workspace (runs, checkpoints, cassettes, …)."""
        return WorkspacePaths(self.root)

    @property
    def policy_path(self) -> Path:
        return self.governance / "policy.yaml"

    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    def vocabulary(self) -> Vocabulary:
        return load_vocabulary(self.governance)

    def store(self) -> SnapshotStore:
        return SnapshotStore(self.data)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        marker = root / MARKER_FILE
        if not marker.is_file():
            raise WorkspaceError(
                f"{root} is not a workspace (no {MARKER_FILE})",
                hint="run `esdh-agent init DIR` to create one",
            )
        return cls(root=root.resolve(), settings=load_model(marker, WorkspaceSettings))


def find_workspace(explicit: Path | None = None, cwd: Path | None = None) -> Workspace:
    """Locate the workspace: explicit path, then $ESDH_WORKSPACE, then walk up from cwd."""
    if explicit is not None:
        return Workspace.open(explicit)
    env = os.environ.get(ENV_VAR)
    if env:
        return Workspace.open(Path(env))
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / MARKER_FILE).is_file():
            return Workspace.open(candidate)
    raise WorkspaceError(
        f"no workspace found at or above {start}",
        hint=f"pass --workspace DIR, set {ENV_VAR}, or run `esdh-agent init DIR`",
    )


def template_root() -> Path:
    """The packaged reference workspace (or, in a source checkout, the repository root)."""
    packaged = resources.files("esdh_agent") / "_workspace"
    if packaged.is_dir():
        return Path(str(packaged))
    source_root = Path(__file__).resolve().parents[3]
    if (source_root / MARKER_FILE).is_file() and (source_root / "governance").is_dir():
        return source_root
    raise WorkspaceError("the packaged workspace template is missing from this install")


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    """What ``init`` leaves out: caches, and the recordings of the request corpus (the
    corpus itself is the repository's, not a workspace's: ``corpus/`` is not shipped)."""
    left_out = {n for n in names if n == "__pycache__"}
    if Path(folder).name == "cassettes" and "requests" in names:
        left_out.add("requests")
    return left_out


def init_workspace(target: Path) -> Path:
    """Create a new workspace at ``target`` from the packaged reference files."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(
            f"{target} already exists and is not empty", hint="choose a new or empty directory"
        )
    source = template_root()
    staging = target.parent / f".{target.name}.init-{os.getpid()}"
    try:
        staging.mkdir(parents=True)
        for entry in TEMPLATE_ENTRIES:
            src = source / entry
            if src.is_dir():
                shutil.copytree(src, staging / entry, ignore=_not_shipped)
            elif src.is_file():
                shutil.copy2(src, staging / entry)
        (staging / "data" / "snapshots").mkdir(parents=True)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except PermissionError as exc:
        raise InputError(f"cannot create {target}: permission denied ({exc.filename})") from None
    except OSError as exc:
        raise InputError(f"cannot create {target}: {exc.strerror}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target.resolve()
