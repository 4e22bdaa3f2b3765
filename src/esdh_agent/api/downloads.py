"""A committed snapshot's files, downloadable: streamed, with checksums, revalidatable.

Only files the snapshot's manifest lists are served, by their exact manifest path; a path
must look like one (letters, digits, ``.``, ``_``, ``-`` and ``/``, no ``..``, no empty or
dot segment) before anything is looked up, and the file must resolve inside the snapshot
directory (no symlink out). The manifest's SHA-256 is the strong ``ETag`` and the
``Repr-Digest`` / ``Digest`` checksum, so a client can verify what it got and revalidate
with ``If-None-Match`` (304). The body is streamed from disk (``FileResponse``, which also
honours ``Range``); its size is checked against the manifest first.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path, PurePosixPath

from fastapi import Request
from fastapi.responses import FileResponse, Response

from esdh_agent.api.errors import ApiError
from esdh_agent.core.manifest import FileEntry, Manifest
from esdh_agent.errors import SnapshotCorrupt

__all__ = ["MEDIA_TYPES", "check_file_path", "download", "etag_matches"]

FILE_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
MAX_FILE_PATH = 200
MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
}


def check_file_path(path: str) -> str:
    """Return ``path`` if it is shaped like a manifest path, else raise a 400."""
    parts = path.split("/")
    if len(path) > MAX_FILE_PATH or not all(FILE_PATH.fullmatch(p) for p in parts):
        raise ApiError(
            400,
            "invalid_path",
            f"invalid file path {path[:120]!r}: use a path the snapshot's manifest lists, "
            "such as persons.csv or persons/part-00000.csv",
        )
    return path


def etag_matches(header: str | None, etag: str) -> bool:
    """Does an ``If-None-Match`` header name ``etag`` (weakly compared, ``*`` included)?"""
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def _headers(entry: FileEntry) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(entry.sha256)).decode()
    return {
        "ETag": f'"{entry.sha256}"',
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"SHA-256={digest}",
    }


def download(request: Request, snapshot_dir: Path, manifest: Manifest, file_path: str) -> Response:
    """The response for ``GET /snapshots/{name}/files/{file_path}``."""
    entry = manifest.file(check_file_path(file_path))
    if entry is None:
        raise ApiError(
            404,
            "not_found",
            f"snapshot {manifest.name!r} has no file {file_path!r}; "
            f"GET /snapshots/{manifest.name}/files lists them",
        )
    root = snapshot_dir.resolve()
    path = (root / PurePosixPath(entry.path)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, "not_found", f"file {file_path!r} of {manifest.name!r} is missing")
    if path.stat().st_size != entry.bytes:
        raise SnapshotCorrupt(
            f"file {file_path!r} of snapshot {manifest.name!r} differs from its manifest "
            "(`esdh-agent snapshots verify` says more)"
        )
    headers = _headers(entry)
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        headers=headers,
        filename=f"{manifest.name}-{path.name}",
    )
