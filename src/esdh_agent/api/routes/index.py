"""``GET /``: a small index — what this is, where the docs are, every operation.

The operations are read from the OpenAPI schema, so the index lists exactly what is documented.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from esdh_agent import __version__
from esdh_agent.api.models import IndexResponse
from esdh_agent.core.plan import DEFAULT_PLAN

__all__ = ["LINKS", "router"]

router = APIRouter(tags=["index"])
LINKS = {
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": "/openapi.json",
    "healthz": "/healthz",
    "snapshots": "/snapshots",
    "runs": "/runs",
}


@router.get("/", response_model=IndexResponse, summary="Index: name, version, links, endpoints")
def index(request: Request) -> IndexResponse:
    """Where to start: Swagger UI at /docs and ReDoc at /redoc (both offline), the OpenAPI
    schema, and every operation this server answers."""
    paths = request.app.openapi().get("paths", {})
    endpoints = [
        {"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
        for path, operations in paths.items()
        for method, operation in operations.items()
    ]
    return IndexResponse(
        name="esdh-agent",
        title=request.app.title,
        version=__version__,
        dataset_version=DEFAULT_PLAN.dataset_version,
        links=LINKS,
        endpoints=endpoints,
    )
