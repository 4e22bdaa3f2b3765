"""The snapshot manifest: what a committed snapshot holds and how to prove it.

``content_hash`` covers the data only — the canonical CSV encoding of every block, in block
order, plus metadata.json — so it is the same whatever the engine or number of workers, the
output formats, the file layout, the Parquet writer's metadata or the wall-clock time of the
commit.

Two file layouts (ADR 0008): ``single`` writes one file per entity and format
(``persons.csv``); ``parts`` writes one self-contained file per block, entity and format
(``persons/part-00000.csv``, header included). The layout is not a manifest field: part
paths in ``files`` say it, so manifests keep format version 1.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CSV_DIALECT",
    "FORMAT_VERSION",
    "LAYOUTS",
    "BlockEntry",
    "EntityEntry",
    "FileEntry",
    "Layout",
    "Manifest",
    "content_hash",
    "part_index",
    "part_path",
]

FORMAT_VERSION = 1
CSV_DIALECT = {
    "encoding": "utf-8",
    "delimiter": ",",
    "line_terminator": "\\n",
    "header": True,
    "quoting": "RFC 4180: every string value double-quoted, embedded quotes doubled; numbers "
    "and dates unquoted",
    "null": 'empty unquoted field (an empty string is "")',
    "date": "YYYY-MM-DD",
}
Layout = Literal["single", "parts"]
LAYOUTS: tuple[Layout, ...] = ("single", "parts")
_PART = re.compile(r"^(?P<entity>[a-z]+)/part-(?P<index>[0-9]{5,})\.(?P<format>[a-z]+)$")


def part_path(entity: str, index: int, fmt: str) -> str:
    """Block ``index`` of ``entity`` in the parts layout, e.g. ``persons/part-00000.csv``."""
    return f"{entity}/part-{index:05d}.{fmt}"


def part_index(path: str) -> int | None:
    """The block index of a part path (None for a single-layout file)."""
    match = _PART.match(path)
    return int(match["index"]) if match else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlockEntry(_Model):
    """One block of one entity: its rows and the SHA-256 of its canonical CSV (no header)."""

    rows: int
    bytes: int
    sha256: str


class EntityEntry(_Model):
    rows: int
    columns: list[str]
    blocks: list[BlockEntry]


class FileEntry(_Model):
    path: str
    bytes: int
    sha256: str
    rows: int | None = None
    entity: str | None = None
    format: str | None = None


class Manifest(_Model):
    """manifest.json of a committed snapshot."""

    format_version: int = FORMAT_VERSION
    name: str
    dataset_version: str
    content_hash: str = Field(description="sha256 over block digests; see content_hash().")
    seed: int
    plan: dict[str, Any]
    plan_hash: str
    marker: str
    entities: dict[str, EntityEntry]
    files: list[FileEntry]
    generator: dict[str, Any] = Field(
        description="Generator version, block size and exact versions of value-shaping libs."
    )
    vocabulary: dict[str, Any] = Field(description="Hash of governed files and each file's.")
    contract: dict[str, Any]
    csv_dialect: dict[str, Any] = Field(default_factory=lambda: dict(CSV_DIALECT))
    validation: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(
        default_factory=dict, description="Who and what committed it (outside the content hash)."
    )
    committed_at: str = Field(description="Wall-clock UTC time of the commit (not hashed).")

    def file(self, path: str) -> FileEntry | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def layout(self) -> Layout:
        """``parts`` when the data files are per-block parts, else ``single``."""
        return "parts" if any(part_index(f.path) is not None for f in self.files) else "single"


def content_hash(entities: dict[str, EntityEntry], metadata_sha256: str) -> str:
    """The content hash: SHA-256 over 'entity block rows digest' lines and the metadata."""
    h = hashlib.sha256(f"esdh-content v{FORMAT_VERSION}\n".encode())
    for entity, entry in entities.items():
        for index, block in enumerate(entry.blocks):
            h.update(f"{entity} {index} {block.rows} {block.sha256}\n".encode())
    h.update(f"metadata {metadata_sha256}\n".encode())
    return "sha256:" + h.hexdigest()
