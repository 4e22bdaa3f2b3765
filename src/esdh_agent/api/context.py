"""What every request shares: the workspace, the settings, and governed data loaded once.

The vocabulary and policy are read when the app is created, so a malformed governance file
stops the server at start-up rather than failing requests, and each request skips the
reload. A change to ``governance/`` takes effect when the server restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request

from esdh_agent.api.settings import ApiSettings
from esdh_agent.core.policy import Policy
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.workspace import Workspace

__all__ = ["ApiContext", "get_context"]


@dataclass(frozen=True)
class ApiContext:
    workspace: Workspace
    settings: ApiSettings
    vocabulary: Vocabulary
    policy: Policy

    @classmethod
    def load(cls, workspace: Workspace, settings: ApiSettings) -> ApiContext:
        return cls(workspace, settings, workspace.vocabulary(), workspace.policy())


def get_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context ``create_app`` stored on the application."""
    return cast(ApiContext, request.app.state.esdh)
