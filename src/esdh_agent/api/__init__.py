"""The HTTP API: synthetic records, snapshots and agent runs over FastAPI.

``create_app(workspace, settings)`` builds the application; ``esdh-agent serve`` runs it with
uvicorn. Generation uses the same deterministic core as ``esdh-agent generate``, so a seed
gives the same rows over HTTP as on the command line.

The names below are imported lazily: ``esdh_agent.api.settings`` (the bind check the CLI runs
before anything else) must not pull in FastAPI, and ``esdh-agent --help`` must stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esdh_agent.api.app import create_app
    from esdh_agent.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from esdh_agent.api.app import create_app

        return create_app
    if name == "ApiSettings":
        from esdh_agent.api.settings import ApiSettings

        return ApiSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
