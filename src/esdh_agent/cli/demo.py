"""``esdh-agent demo``: the whole product in one command, offline.

Replays a recorded slice to a committed snapshot, starts the HTTP API on a free loopback
port, checks ``/healthz``, previews rows from the snapshot and from the API side by side, and
stops the API — also when interrupted.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.cli.common import WorkspaceOpt, err_console, open_workspace, out_console

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.workspace import Workspace

__all__ = ["demo_command"]

PREVIEW_COLUMNS = ("first_name", "last_name", "date_of_birth", "city", "state", "lob_type")


class ApiPreview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: int = Field(ge=1, le=1000)
    seed: int | Literal["random"]


class DemoProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slice: str
    api: ApiPreview


class DemoProfiles(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profiles: dict[str, DemoProfile]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _api(ws: Workspace) -> Iterator[str]:
    """The HTTP API on a free loopback port, in a thread, stopped on exit (Ctrl-C too)."""
    import uvicorn

    from esdh_agent.api import ApiSettings, create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(ws, ApiSettings()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="esdh-demo-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _preview(
    console: Console,
    snapshot_rows: list[dict[str, Any]],
    api_rows: list[dict[str, Any]],
    snapshot: str,
    seed: Any,
) -> None:
    from rich.columns import Columns
    from rich.table import Table

    def table(title: str, rows: list[dict[str, Any]]) -> Table:
        t = Table(title=title, title_justify="left")
        for column in PREVIEW_COLUMNS:
            t.add_column(column)
        for row in rows[:5]:
            t.add_row(*(str(row.get(c) or "") for c in PREVIEW_COLUMNS))
        return t

    console.print(
        Columns(
            [
                table(f"snapshot {snapshot} (persons)", snapshot_rows),
                table(f"API /generate/bundle, seed {seed}", api_rows),
            ]
        )
    )


def demo_command(
    profile: Annotated[str, typer.Option("--profile", help="A profile of mop/demo.yaml.")] = (
        "baseline"
    ),
    workspace: WorkspaceOpt = None,
) -> None:
    """Replay a slice to a snapshot, start the API, check it, preview both, stop the API."""
    from esdh_agent.core.yamlio import load_model
    from esdh_agent.errors import EsdhError, InputError
    from esdh_agent.graphs.slice_generation.runner import run_slice
    from esdh_agent.snapshots.operations import read_tables

    ws = open_workspace(workspace)
    profiles = load_model(ws.root / "mop" / "demo.yaml", DemoProfiles).profiles
    if profile not in profiles:
        raise InputError(
            f"unknown demo profile {profile!r}", hint=f"profiles: {', '.join(profiles)}"
        )
    chosen = profiles[profile]
    console, status = out_console(), err_console()
    status.print(f"[bold]1/3[/] replaying slice {chosen.slice} (recorded model calls, offline)")
    result = run_slice(ws, chosen.slice)
    if result.error is not None:
        raise result.error
    snapshot = (result.summary.get("snapshot") or {}).get("name")
    if result.status not in ("committed", "unchanged") or not snapshot:
        raise EsdhError(
            f"slice {chosen.slice} ended {result.status}; the demo needs a committed snapshot",
            hint="pick a profile whose slice commits",
        )
    console.print(f"snapshot [bold]{snapshot}[/] {result.status} (run {result.run_id})")
    status.print("[bold]2/3[/] starting the HTTP API on a free loopback port")
    with _api(ws) as url:
        health = _get(f"{url}/healthz")
        console.print(
            f"API {url}: /healthz {health['status']}, dataset "
            f"{health['dataset_version']}, generator {health['generator_version']}"
        )
        status.print("[bold]3/3[/] previewing the snapshot and the API side by side")
        bundle = _post(
            f"{url}/generate/bundle", {"records": chosen.api.records, "seed": chosen.api.seed}
        )
        tables, _ = read_tables(ws.store().path(snapshot))
        _preview(
            console,
            tables["persons"].slice(0, 5).to_pylist(),
            bundle["persons"],
            snapshot,
            bundle["seed"],
        )
        console.print(f"API returned {bundle['counts']} for seed {bundle['seed']}")
    console.print("API stopped.")
