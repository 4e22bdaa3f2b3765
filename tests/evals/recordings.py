"""The request corpus's recorded model readings, copied into a test workspace (``init`` does
not ship them: they belong to the repository's corpus, not to a workspace)."""

from __future__ import annotations

import shutil

from esdh_agent.workspace import Workspace

from tests.conftest import REPO


def with_recordings(ws: Workspace) -> None:
    """Copy ``cassettes/requests/`` of the repository into ``ws``."""
    shutil.copytree(
        REPO / "cassettes" / "requests", ws.paths.cassettes / "requests", dirs_exist_ok=True
    )
