"""``esdh-agent demo``: the whole product in one command, offline.

Replays a recorded slice to a committed snapshot, starts the HTTP API on a free loopback
port, checks ``/healthz``, sends the snapshot's own plan, seed and name to
``/generate/bundle`` and compares what comes back with the snapshot's rows — column by
column, saying what matches — previews both side by side, makes one more request with the
profile's own size and seed (``mop/demo.yaml``), and stops the API — also when interrupted.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    err_console,
    open_workspace,
    out_console,
)

if TYPE_CHECKING:
    from rich.console import Console

    from esdh_agent.workspace import Workspace

__all__ = ["demo_command"]

PREVIEW_COLUMNS = ("first_name", "last_name", "date_of_birth", "city", "state", "lob_type")


class ApiPreview(BaseModel):
    """One more API request after the comparison: another size and seed, other rows."""

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
def _api(ws: Workspace, persons: int) -> Iterator[str]:
    """The HTTP API on a free loopback port, in a thread, stopped on exit (Ctrl-C too).

    Its record cap is raised to ``persons`` if need be, so the snapshot's whole plan fits.
    """
    import uvicorn

    from esdh_agent.api import ApiSettings, create_app
    from esdh_agent.api.settings import DEFAULT_MAX_RECORDS

    port = _free_port()
    settings = ApiSettings(max_records=min(max(DEFAULT_MAX_RECORDS, persons), 100_000))
    config = uvicorn.Config(
        create_app(ws, settings),
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


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET ``url`` (or POST ``body`` as JSON); an API error becomes one clear EsdhError."""
    from esdh_agent.errors import EsdhError

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise EsdhError(f"the API answered {exc.code} to {url}: {message}") from None


def compare(
    snapshot: dict[str, list[dict[str, Any]]], api: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """What matches between the snapshot's rows and the API's, one line per entity."""
    lines = []
    for entity, rows in snapshot.items():
        theirs = api.get(entity, [])
        if len(rows) != len(theirs):
            lines.append(f"{entity}: {len(rows)} rows in the snapshot, {len(theirs)} from the API")
            continue
        columns = list(rows[0]) if rows else []
        differ = [
            c
            for c in columns
            if any(a.get(c) != b.get(c) for a, b in zip(rows, theirs, strict=True))
        ]
        if not differ:
            lines.append(f"{entity}: {len(rows)} rows, identical (every column, ids included)")
        elif all(c.endswith("_id") for c in differ):
            lines.append(f"{entity}: {len(rows)} rows, identical except ids ({', '.join(differ)})")
        else:
            lines.append(f"{entity}: {len(rows)} rows, columns differ: {', '.join(differ)}")
    return lines


def _preview(
    console: Console,
    snapshot_rows: list[dict[str, Any]],
    api_rows: list[dict[str, Any]],
    snapshot: str,
    seed: int,
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
                table(f"API /generate/bundle, same plan, seed {seed}", api_rows),
            ]
        )
    )


def demo_command(
    profile: Annotated[str, typer.Option("--profile", help="A profile of mop/demo.yaml.")] = (
        "baseline"
    ),
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a slice to a snapshot, start the API, send it the snapshot's plan, compare."""
    from esdh_agent.api.generation import json_rows
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

    def say(text: str) -> None:
        if not as_json:
            console.print(text)

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
    say(f"snapshot [bold]{snapshot}[/] {result.status} (run {result.run_id})")
    manifest = ws.store().manifest(snapshot)
    persons = int(manifest.plan.get("person_count", 0))
    status.print("[bold]2/3[/] starting the HTTP API on a free loopback port")
    with _api(ws, persons) as url:
        health = _call(f"{url}/healthz")
        say(
            f"API {url}: /healthz {health['status']}, dataset "
            f"{health['dataset_version']}, generator {health['generator_version']}"
        )
        status.print("[bold]3/3[/] the snapshot's plan, seed and name through the API")
        bundle = _call(f"{url}/generate/bundle", {"plan": manifest.plan, "name": snapshot})
        tables, _ = read_tables(ws.store().path(snapshot))
        rows = {entity: json_rows(table) for entity, table in tables.items()}
        if not as_json:
            _preview(console, rows["persons"], bundle["persons"], snapshot, bundle["seed"])
        if bundle["plan_hash"] == manifest.plan_hash:
            plan = f"Same plan (sha256 {manifest.plan_hash})"
        else:
            plan = (
                f"A DIFFERENT plan (snapshot sha256 {manifest.plan_hash}, API sha256 "
                f"{bundle['plan_hash']})"
            )
        say(f"{plan}, seed {bundle['seed']} and name {bundle['name']} through both paths:")
        matches = compare(rows, bundle)
        for line in matches:
            say(f"  {line}")
        query = urllib.parse.urlencode({"records": chosen.api.records, "seed": chosen.api.seed})
        other = _call(f"{url}/generate/bundle?{query}")
        say(
            f"API GET /generate/bundle?{query} returned {other['counts']} for seed "
            f"{other['seed']}: another size and seed, other rows"
        )
    say("API stopped.")
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "status": result.status,
                "snapshot": snapshot,
                "plan_hash": {"snapshot": manifest.plan_hash, "api": bundle["plan_hash"]},
                "seed": bundle["seed"],
                "name": bundle["name"],
                "comparison": matches,
                "other_request": {"query": query, "counts": other["counts"]},
            }
        )
