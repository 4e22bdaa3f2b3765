"""Request and response bodies: what clients send and get, documented in the OpenAPI schema.

Requests are strict (no coercion: ``"5"`` or ``5.0`` or ``true`` is not a record count) and
reject unknown fields, so a typo is an error rather than a silently ignored option.
Responses reuse the contract's models, so the OpenAPI schema documents every column.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from esdh_agent.core.contract import Person, Profile, Vehicle
from esdh_agent.core.plan import DEFAULT_PLAN

__all__ = [
    "DEFAULT_SEED",
    "MAX_SEED",
    "BundleCounts",
    "BundleResponse",
    "GenerateRequest",
    "HealthResponse",
    "PersonsResponse",
    "ProfilesResponse",
    "RunSummary",
    "RunsResponse",
    "SnapshotSummary",
    "SnapshotsResponse",
    "VehiclesResponse",
]

DEFAULT_SEED = DEFAULT_PLAN.seed
MAX_SEED = 2**63 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


class GenerateRequest(BaseModel):
    """What to generate: ``records`` persons (and their vehicles and profiles) from a seed."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"records": 5, "seed": DEFAULT_SEED}]},
    )

    records: int = Field(
        5,
        ge=1,
        description="Number of persons. /generate/vehicle returns their vehicles, "
        "/generate/profile their profiles. Above the server's cap is rejected, never cut.",
    )
    seed: Seed | Literal["random"] = Field(
        DEFAULT_SEED,
        description="Seed of every random stream (0 to 2^63-1), or 'random' for a fresh one. "
        "The response names the seed used, so any call can be reproduced.",
    )
    randomize: bool = Field(
        False, description="Draw a fresh seed (as seed='random'); the given seed is ignored."
    )

    @field_validator("seed", mode="wrap")
    @classmethod
    def _one_seed_error(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One clear message instead of one per member of the int-or-'random' union."""
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(f"must be an integer from 0 to {MAX_SEED}, or 'random'") from None


class HealthResponse(BaseModel):
    status: Literal["ok"]
    dataset_version: str
    default_seed: int
    generator_version: str
    version: str


class _Generated(BaseModel):
    seed: int = Field(description="The seed used: send it back to get the same rows.")
    dataset_version: str
    count: int = Field(description="Number of records returned.")


class PersonsResponse(_Generated):
    records: list[Person]


class VehiclesResponse(_Generated):
    records: list[Vehicle]


class ProfilesResponse(_Generated):
    records: list[Profile]


class BundleCounts(BaseModel):
    persons: int
    vehicles: int
    profiles: int


class BundleResponse(BaseModel):
    seed: int = Field(description="The seed used: send it back to get the same rows.")
    dataset_version: str
    counts: BundleCounts
    persons: list[Person]
    vehicles: list[Vehicle]
    profiles: list[Profile]


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
