"""Workspaces: discovery, settings, ``init``, and the one source of every path inside one."""

from esdh_agent.workspace.discovery import (
    ENV_VAR,
    MARKER_FILE,
    TEMPLATE_ENTRIES,
    Workspace,
    WorkspaceSettings,
    find_workspace,
    init_workspace,
    template_root,
)
from esdh_agent.workspace.paths import WorkspacePaths

__all__ = [
    "ENV_VAR",
    "MARKER_FILE",
    "TEMPLATE_ENTRIES",
    "Workspace",
    "WorkspacePaths",
    "WorkspaceSettings",
    "find_workspace",
    "init_workspace",
    "template_root",
]
