"""``esdh-agent serve``: the HTTP API (FastAPI) under uvicorn.

Loopback by default. Binding any other address needs a bearer token in ``ESDH_API_TOKEN``:
an open API on a network interface would hand synthetic-data generation and every run
transcript to whoever can reach it. FastAPI and uvicorn are imported only when the command
runs, so ``esdh-agent --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from esdh_agent.cli.common import WorkspaceOpt, err_console, open_workspace

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "serve_command"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to bind. Anything but loopback needs ESDH_API_TOKEN to be set.",
        ),
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = DEFAULT_PORT,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the HTTP API: /generate, /snapshots, /runs; an index at /, docs at /docs and
    /redoc (offline).

    Environment: ESDH_API_TOKEN (bearer token for every endpoint but /healthz),
    ESDH_API_MAX_RECORDS (persons per /generate request, default 1000) and
    ESDH_API_MAX_BODY_BYTES (largest request body, default 65536).
    """
    from esdh_agent.api.settings import ApiConfigError, ApiSettings, check_bind

    ws = open_workspace(workspace)
    settings = ApiSettings.from_env()
    check_bind(host, settings)
    try:
        import uvicorn

        from esdh_agent.api.app import create_app
    except ImportError as exc:
        raise ApiConfigError(
            f"the HTTP API needs FastAPI and uvicorn ({exc.name} is not installed)",
            hint="pip install 'fastapi>=0.115,<1' 'uvicorn>=0.30,<1'",
        ) from None
    from rich.markup import escape

    app = create_app(ws, settings)
    auth = "bearer token required" if settings.token is not None else "no token: loopback only"
    shown = f"[{host}]" if ":" in host else host
    err_console().print(
        f"Serving workspace [bold]{escape(str(ws.root))}[/] on http://{escape(shown)}:{port} "
        f"({auth}); "
        f"index at /, docs at /docs and /redoc. Ctrl+C stops."
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        server_header=False,
    )
