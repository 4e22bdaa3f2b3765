"""Response bodies: what clients get, documented in the OpenAPI schema.

Responses reuse the contract's models, so the OpenAPI schema documents every column. The
/generate and /healthz bodies carry this project's fields and, beside them, every field the
original system's API returned, with the same meaning (``persons``/``vehicles``/``profiles``,
``metadata``, ``records_requested``, ``record_count``; ``plan``, ``seed``, ``target_records``
and ``version`` = the dataset version in /healthz), so its consumers keep working.
Request bodies and query parameters are in ``api.requests``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from esdh_agent.api.requests import DEFAULT_SEED, MAX_SEED, GenerateQuery, GenerateRequest
from esdh_agent.core.contract import Person, Profile, Vehicle
from esdh_agent.core.manifest import FileEntry
from esdh_agent.core.plan import GenerationPlan

__all__ = [
    "DEFAULT_SEED",
    "MAX_SEED",
    "BundleCounts",
    "BundleResponse",
    "GenerateQuery",
    "GenerateRequest",
    "HealthPlan",
    "HealthResponse",
    "IndexResponse",
    "Metadata",
    "PersonsResponse",
    "ProfilesResponse",
    "RunSummary",
    "RunsResponse",
    "SnapshotFile",
    "SnapshotFilesResponse",
    "SnapshotSummary",
    "SnapshotsResponse",
    "VehiclesResponse",
]


class HealthPlan(BaseModel):
    steps: list[str] = Field(description="The default plan's generation rules, one sentence each.")
    default: GenerationPlan = Field(description="The default GenerationPlan itself.")
    plan_hash: str = Field(description="SHA-256 of the default plan's canonical JSON.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    dataset_version: str
    default_seed: int
    generator_version: str = Field(description="Bumped whenever a plan would give other values.")
    version: str = Field(description="The dataset version (as the original API reported it).")
    package_version: str = Field(description="The esdh-agent package serving this API.")
    seed: int = Field(description="The default seed (the original API's name for it).")
    target_records: int = Field(description="Persons in a default snapshot.")
    max_records: int = Field(description="Most persons one /generate request may ask for.")
    plan: HealthPlan


class Metadata(BaseModel):
    """The original API's ``metadata``: a snapshot's metadata.json for the same plan."""

    dataset_version: str
    generated_at: str = Field(
        description="The plan's as-of date at midnight, ISO 8601 without an offset "
        "(e.g. 2025-11-01T00:00:00), as the original API wrote it.",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
    )
    record_count_persons: int
    record_count_vehicles: int
    record_count_profiles: int
    notes: str


class _Generated(BaseModel):
    seed: int = Field(description="The seed used: send it back to get the same rows.")
    dataset_version: str
    name: str = Field(
        description="Snapshot name the id columns were keyed on: `esdh-agent generate --name "
        "NAME` with the same plan and seed gives the same rows, ids included."
    )
    plan_hash: str = Field(description="SHA-256 of the plan used (a snapshot manifest's too).")
    records_requested: int = Field(description="Persons asked for (the plan's, if not given).")
    metadata: Metadata = Field(
        description="What a snapshot of this plan holds as metadata.json: dataset version, "
        "generated_at (the plan's as-of date), record counts of every entity, notes."
    )


class _Single(_Generated):
    count: int = Field(description="Number of records returned.")
    record_count: int = Field(description="Number of records returned (the original's name).")


class PersonsResponse(_Single):
    records: list[Person]
    persons: list[Person] = Field(description="The same rows as records.")


class VehiclesResponse(_Single):
    records: list[Vehicle]
    vehicles: list[Vehicle] = Field(description="The same rows as records.")


class ProfilesResponse(_Single):
    records: list[Profile]
    profiles: list[Profile] = Field(description="The same rows as records.")


class BundleCounts(BaseModel):
    persons: int
    vehicles: int
    profiles: int


class BundleResponse(_Generated):
    counts: BundleCounts
    persons: list[Person]
    vehicles: list[Vehicle]
    profiles: list[Profile]


class IndexResponse(BaseModel):
    name: str
    title: str
    version: str
    dataset_version: str
    links: dict[str, str] = Field(description="Documentation, schema and health, by name.")
    endpoints: list[dict[str, Any]] = Field(description="Every operation: method, path, summary.")


class SnapshotSummary(BaseModel):
    """One committed snapshot; ``error`` is set (and the rest null) if its manifest is broken."""

    name: str
    dataset_version: str | None = None
    persons: int | None = None
    content_hash: str | None = None
    committed_at: str | None = None
    error: str | None = None


class SnapshotsResponse(BaseModel):
    count: int
    snapshots: list[SnapshotSummary]


class SnapshotFile(FileEntry):
    """A manifest's file entry, and where to download it."""

    url: str = Field(description="Where to download it (ETag = the sha256).")


class SnapshotFilesResponse(BaseModel):
    name: str
    content_hash: str
    count: int
    files: list[SnapshotFile]


class RunSummary(BaseModel):
    run_id: str
    slice_id: str | None = None
    status: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    llm_mode: str | None = None


class RunsResponse(BaseModel):
    count: int
    runs: list[RunSummary]
