"""``GET /snapshots``, ``/snapshots/{name}`` and its files: committed snapshots, read-only.

The name is taken as a whole path (``{name:path}``) so that ``../x``, ``a/b`` or an absolute
path reach ``check_name`` and get a clear 400, rather than silently matching another route.
No name reaches the filesystem before ``check_name`` accepts it — and the whole name must
match: ``check_name`` uses ``re.match`` with ``$``, which also accepts a trailing newline. A
snapshot directory that resolves outside ``data/snapshots/`` (a symlink) is neither listed nor
served, as for runs. ``/snapshots/{name}/files`` lists a snapshot's files and
``/snapshots/{name}/files/{path}`` downloads one (``api.downloads``: streamed, ETag = its
SHA-256). These two routes come before the whole-path one; a name with a ``/`` in it still
reaches the whole-path route and its 400.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from esdh_agent.api.context import ApiContext, get_context
from esdh_agent.api.downloads import MEDIA_TYPES, download
from esdh_agent.api.errors import documented
from esdh_agent.api.models import SnapshotFilesResponse, SnapshotsResponse
from esdh_agent.core.manifest import Manifest
from esdh_agent.core.store import NAME_PATTERN, SnapshotStore, check_name
from esdh_agent.errors import SnapshotCorrupt, SnapshotNameError, SnapshotNotFound

__all__ = ["router", "safe_name"]

router = APIRouter(prefix="/snapshots", tags=["snapshots"], responses=documented(401, 500))
Ctx = Annotated[ApiContext, Depends(get_context)]


def _inside_store(store: SnapshotStore, name: str) -> bool:
    """Does snapshot ``name`` resolve inside the store (no symlink out of it)?"""
    return store.path(name).resolve().is_relative_to(store.root.resolve())


def safe_name(name: str) -> str:
    """``check_name``, plus a full match of the pattern (no trailing newline)."""
    check_name(name)
    if not NAME_PATTERN.fullmatch(name):
        raise SnapshotNameError(
            f"invalid snapshot name {name!r}", hint="no line breaks or control characters"
        )
    return name


@router.get("", response_model=SnapshotsResponse, summary="List committed snapshots")
def list_snapshots(ctx: Ctx) -> JSONResponse:
    """Every committed snapshot, by name; a broken manifest is listed with an ``error``."""
    store = ctx.workspace.store()
    items: list[dict[str, Any]] = []
    for name in store.names():
        if not _inside_store(store, name):
            continue
        try:
            manifest = store.manifest(name)
        except SnapshotCorrupt:
            items.append({"name": name, "error": "unreadable manifest"})
            continue
        persons = manifest.entities.get("persons")
        items.append(
            {
                "name": name,
                "dataset_version": manifest.dataset_version,
                "persons": persons.rows if persons is not None else None,
                "content_hash": manifest.content_hash,
                "committed_at": manifest.committed_at,
            }
        )
    return JSONResponse({"count": len(items), "snapshots": items})


def _manifest(ctx: ApiContext, name: str) -> Manifest:
    store = ctx.workspace.store()
    if not _inside_store(store, safe_name(name)):
        raise SnapshotNotFound(f"no snapshot named {name!r}")
    return store.manifest(name)


@router.get(
    "/{name}/files",
    response_model=SnapshotFilesResponse,
    summary="A snapshot's files, with checksums and download links",
    responses=documented(400, 404),
)
def list_files(name: str, ctx: Ctx) -> JSONResponse:
    """Every file the manifest lists (data, metadata.json), its size, SHA-256 and URL."""
    manifest = _manifest(ctx, name)
    files = [
        {**f.model_dump(mode="json"), "url": f"/snapshots/{name}/files/{f.path}"}
        for f in manifest.files
    ]
    return JSONResponse(
        {
            "name": name,
            "content_hash": manifest.content_hash,
            "count": len(files),
            "files": files,
        }
    )


@router.get(
    "/{name}/files/{file_path:path}",
    summary="Download one file of a snapshot (streamed; ETag = its SHA-256)",
    response_class=Response,
    responses={
        200: {
            "description": "The file, streamed. ETag and Repr-Digest carry its SHA-256 from "
            "the manifest; Range requests are honoured.",
            "content": {
                media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for media in [*MEDIA_TYPES.values(), "application/octet-stream"]
            },
        },
        304: {"description": "Not modified: If-None-Match names the file's ETag"},
        **documented(400, 404),
    },
)
def download_file(name: str, file_path: str, request: Request, ctx: Ctx) -> Response:
    """A file the manifest lists, by its manifest path (``persons.csv``, ``metadata.json``,
    ``persons/part-00000.csv``); ``If-None-Match`` with its ETag gives 304."""
    manifest = _manifest(ctx, name)
    return download(request, ctx.workspace.store().path(name), manifest, file_path)


@router.get(
    "/{name:path}",
    summary="A snapshot's manifest",
    responses={
        200: {"description": "manifest.json: files, hashes, plan, seed, versions, provenance"},
        **documented(400, 404),
    },
)
def get_snapshot(name: str, ctx: Ctx) -> JSONResponse:
    """The manifest of snapshot ``name`` (lowercase letters, digits, ``.``, ``_``, ``-``)."""
    manifest = _manifest(ctx, name)
    return JSONResponse(manifest.model_dump(mode="json"))
