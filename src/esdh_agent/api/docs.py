"""Swagger UI at /docs and ReDoc at /redoc, served offline from an installed package.

FastAPI's own pages load their scripts from a CDN, so they are blank without a network. The
``fastapi-offline`` package ships the Swagger UI bundle, its CSS and the ReDoc standalone
script; only its static directory is used here (mounted at ``/docs/assets``), with FastAPI's
page builders pointed at it. Both pages carry a Content-Security-Policy that lets them load
from this server only, so nothing is fetched from anywhere else — not even ReDoc's footer
logo, which it hides when the image cannot load.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from esdh_agent.api.settings import ApiConfigError

__all__ = ["ASSETS_URL", "DOCS_CSP", "assets_dir", "install_docs"]

ASSETS_URL = "/docs/assets"
ASSET_PACKAGE = "fastapi_offline"
# The pages' own bootstrap script and the UIs' generated styles are inline; ReDoc runs its
# search index in a blob: worker. Everything else comes from this server.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def assets_dir() -> Path:
    """The installed package's static directory (swagger-ui-bundle.js, redoc.standalone.js)."""
    try:
        return Path(str(files(ASSET_PACKAGE) / "static"))
    except ModuleNotFoundError:
        raise ApiConfigError(
            "the API's offline docs need the fastapi-offline package, which is not installed",
            hint="pip install 'fastapi-offline>=1.7,<2'",
        ) from None


class _Assets(StaticFiles):
    """Static files a browser may cache: public library code, not data."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = "public, max-age=86400"
        return response


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Mount the assets and add /docs and /redoc (not in the schema)."""
    app.mount(ASSETS_URL, _Assets(directory=assets_dir()), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            # No "valid" badge: it would send the schema to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page
