"""The API's routers, one module per resource."""

from __future__ import annotations

from esdh_agent.api.routes import generate, health, runs, snapshots

__all__ = ["generate", "health", "runs", "snapshots"]
