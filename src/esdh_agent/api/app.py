"""The application factory: routes, the one error shape, auth, limits and OpenAPI docs.

``create_app`` takes an opened workspace and settings (nothing is read from the environment
here), so tests and embedders build apps with whatever settings they need; ``esdh-agent
serve`` builds its settings from the environment and checks the bind address first.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from esdh_agent import __version__
from esdh_agent.api.context import ApiContext
from esdh_agent.api.docs import install_docs
from esdh_agent.api.errors import install_error_handlers
from esdh_agent.api.middleware import (
    OPEN_PATHS,
    BearerAuthMiddleware,
    BodySizeLimitMiddleware,
    PathGuardMiddleware,
    SecurityHeadersMiddleware,
)
from esdh_agent.api.parameters import reject_unread_input
from esdh_agent.api.routes import generate, health, index, runs, snapshots
from esdh_agent.api.settings import ApiSettings
from esdh_agent.workspace import Workspace

__all__ = ["create_app"]

DESCRIPTION = """\
Governed, reproducible synthetic insurance test data (Person, Vehicle, Profile) over HTTP.

`/generate/*` uses the same deterministic core as `esdh-agent generate`: the same plan,
seed and number of persons give the same rows. Each takes GET with query parameters
(`?records=3&seed=42`) or POST with a JSON body (which may also carry a whole plan); a
parameter an endpoint does not read is refused, never ignored. Responses also carry the
original ESDH API's fields (`persons`/`vehicles`/`profiles`, `metadata`,
`records_requested`). Snapshot files download from `/snapshots/{name}/files/{path}` with
their SHA-256 as ETag. Every error is `{"error": {"code", "message"}}`. When the server has a
token (`ESDH_API_TOKEN`), every endpoint but `/healthz` needs `Authorization: Bearer <token>`.
"""


def create_app(workspace: Workspace, settings: ApiSettings) -> FastAPI:
    """A FastAPI app serving ``workspace`` under ``settings``.

    The vocabulary and policy are loaded now, so a broken governance file fails here.
    Middleware, outermost first: safe headers, bearer auth, path guard, body-size limit.
    Every route refuses input it does not read (``reject_unread_input``). Swagger UI (/docs)
    and ReDoc (/redoc) are served from an installed package, offline.
    """
    app = FastAPI(
        title="ESDH agent API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(reject_unread_input)],
    )
    app.state.esdh = ApiContext.load(workspace, settings)
    install_error_handlers(app)
    for module in (index, health, generate, snapshots, runs):
        app.include_router(module.router)
    install_docs(app)
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(PathGuardMiddleware)
    app.add_middleware(BearerAuthMiddleware, token=settings.token_bytes())
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.token is not None:
        _document_bearer_auth(app)
    return app


def _document_bearer_auth(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI schema (client generators read it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            for path, operations in schema.get("paths", {}).items():
                if path in OPEN_PATHS:
                    continue
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
