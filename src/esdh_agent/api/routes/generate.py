"""``POST /generate/{person,vehicle,profile,bundle}``: records straight from the core.

``records`` is always a number of persons: /generate/vehicle returns the vehicles those
persons own and /generate/profile their profiles, so the four endpoints agree with each other
and with a snapshot of the same plan. Generation is CPU-bound, so the handlers are plain
functions (FastAPI runs them in its thread pool, off the event loop).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from esdh_agent.api.context import ApiContext, get_context
from esdh_agent.api.errors import ApiError, documented
from esdh_agent.api.generation import check_records, generate_rows, resolve_seed
from esdh_agent.api.models import (
    BundleResponse,
    GenerateRequest,
    PersonsResponse,
    ProfilesResponse,
    VehiclesResponse,
)

__all__ = ["router"]


async def require_json(request: Request) -> None:
    """A non-empty body must be declared JSON (415 otherwise); an empty one means defaults."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not is_json and await request.body():
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the request body as JSON with 'Content-Type: application/json'",
        )


router = APIRouter(
    prefix="/generate",
    tags=["generate"],
    dependencies=[Depends(require_json)],
    responses=documented(400, 401, 403, 413, 415, 422, 500),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Req = Annotated[
    GenerateRequest | None,
    Body(description="Omit (or send {}) for 5 persons from the default seed 20251101."),
]


def _records(ctx: ApiContext, body: GenerateRequest | None, entity: str) -> JSONResponse:
    request = body or GenerateRequest()
    check_records(request, ctx)
    seed = resolve_seed(request)
    plan, rows = generate_rows(ctx, request.records, seed, (entity,))
    payload: dict[str, Any] = {
        "seed": seed,
        "dataset_version": plan.dataset_version,
        "count": len(rows[entity]),
        "records": rows[entity],
    }
    return JSONResponse(payload)


@router.post("/person", response_model=PersonsResponse, summary="Generate persons")
def generate_person(ctx: Ctx, body: Req = None) -> JSONResponse:
    """``records`` persons, as in persons.csv of a snapshot with the same seed."""
    return _records(ctx, body, "persons")


@router.post("/vehicle", response_model=VehiclesResponse, summary="Generate vehicles")
def generate_vehicle(ctx: Ctx, body: Req = None) -> JSONResponse:
    """The vehicles of ``records`` persons (each person owns one under the default plan)."""
    return _records(ctx, body, "vehicles")


@router.post("/profile", response_model=ProfilesResponse, summary="Generate profiles")
def generate_profile(ctx: Ctx, body: Req = None) -> JSONResponse:
    """One profile per person: the person joined with their primary vehicle."""
    return _records(ctx, body, "profiles")


@router.post("/bundle", response_model=BundleResponse, summary="Generate a linked bundle")
def generate_bundle(ctx: Ctx, body: Req = None) -> JSONResponse:
    """Persons, their vehicles and their profiles, linked by ``person_id``/``vehicle_id``."""
    request = body or GenerateRequest()
    check_records(request, ctx)
    seed = resolve_seed(request)
    plan, rows = generate_rows(ctx, request.records, seed)
    payload: dict[str, Any] = {
        "seed": seed,
        "dataset_version": plan.dataset_version,
        "counts": {entity: len(items) for entity, items in rows.items()},
        **rows,
    }
    return JSONResponse(payload)
