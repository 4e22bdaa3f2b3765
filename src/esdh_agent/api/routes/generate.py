"""``GET|POST /generate/{person,vehicle,profile,bundle}``: records straight from the core.

GET reads query parameters (``?records=3&seed=42``); POST reads a JSON body, which may also
carry a whole plan. Both say the same things and give the same rows; anything they do not
read is refused (422), never ignored. ``records`` is always a number of persons:
/generate/vehicle returns the vehicles those persons own and /generate/profile their
profiles, so the four endpoints agree with each other and with a snapshot of the same plan.
Generation is CPU-bound, so the handlers are plain functions (FastAPI runs them in its thread
pool, off the event loop).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from esdh_agent.api.context import ApiContext, get_context
from esdh_agent.api.errors import ApiError, documented
from esdh_agent.api.generation import ENTITIES, generate
from esdh_agent.api.models import (
    BundleResponse,
    PersonsResponse,
    ProfilesResponse,
    VehiclesResponse,
)
from esdh_agent.api.requests import GenerateQuery, GenerateRequest

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
    responses=documented(400, 401, 403, 413, 415, 422, 500),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Req = Annotated[
    GenerateRequest | None,
    Body(description="Omit (or send {}) for 5 persons from the default seed 20251101."),
]
Params = Annotated[GenerateQuery, Query()]
JSON_BODY = [Depends(require_json)]


def _respond(ctx: ApiContext, request: GenerateRequest, entity: str | None) -> JSONResponse:
    """One entity (``records`` and its own name) or the bundle, with the shared fields."""
    made = generate(ctx, request, (entity,) if entity else ENTITIES)
    payload: dict[str, Any] = {
        "seed": made.plan.seed,
        "dataset_version": made.plan.dataset_version,
    }
    if entity is None:
        payload["counts"] = dict(made.counts)
        payload.update(made.rows)
    else:
        rows = made.rows[entity]
        payload.update({"count": len(rows), "records": rows})
    payload.update(
        {
            "name": made.name,
            "plan_hash": made.plan.plan_hash(),
            "records_requested": made.plan.person_count,
            "metadata": made.metadata(),
        }
    )
    if entity is not None:
        payload.update({"record_count": len(made.rows[entity]), entity: made.rows[entity]})
    return JSONResponse(payload)


@router.get("/person", response_model=PersonsResponse, summary="Generate persons (query)")
def get_person(ctx: Ctx, params: Params) -> JSONResponse:
    """``records`` persons, as in persons.csv of a snapshot with the same plan and seed."""
    return _respond(ctx, params.to_request(), "persons")


@router.post(
    "/person", response_model=PersonsResponse, summary="Generate persons", dependencies=JSON_BODY
)
def generate_person(ctx: Ctx, body: Req = None) -> JSONResponse:
    """``records`` persons, as in persons.csv of a snapshot with the same plan and seed."""
    return _respond(ctx, body or GenerateRequest(), "persons")


@router.get("/vehicle", response_model=VehiclesResponse, summary="Generate vehicles (query)")
def get_vehicle(ctx: Ctx, params: Params) -> JSONResponse:
    """The vehicles of ``records`` persons (each person owns one under the default plan)."""
    return _respond(ctx, params.to_request(), "vehicles")


@router.post(
    "/vehicle",
    response_model=VehiclesResponse,
    summary="Generate vehicles",
    dependencies=JSON_BODY,
)
def generate_vehicle(ctx: Ctx, body: Req = None) -> JSONResponse:
    """The vehicles of ``records`` persons (each person owns one under the default plan)."""
    return _respond(ctx, body or GenerateRequest(), "vehicles")


@router.get("/profile", response_model=ProfilesResponse, summary="Generate profiles (query)")
def get_profile(ctx: Ctx, params: Params) -> JSONResponse:
    """One profile per person: the person joined with their primary vehicle."""
    return _respond(ctx, params.to_request(), "profiles")


@router.post(
    "/profile",
    response_model=ProfilesResponse,
    summary="Generate profiles",
    dependencies=JSON_BODY,
)
def generate_profile(ctx: Ctx, body: Req = None) -> JSONResponse:
    """One profile per person: the person joined with their primary vehicle."""
    return _respond(ctx, body or GenerateRequest(), "profiles")


@router.get("/bundle", response_model=BundleResponse, summary="Generate a linked bundle (query)")
def get_bundle(ctx: Ctx, params: Params) -> JSONResponse:
    """Persons, their vehicles and their profiles, linked by ``person_id``/``vehicle_id``."""
    return _respond(ctx, params.to_request(), None)


@router.post(
    "/bundle",
    response_model=BundleResponse,
    summary="Generate a linked bundle",
    dependencies=JSON_BODY,
)
def generate_bundle(ctx: Ctx, body: Req = None) -> JSONResponse:
    """Persons, their vehicles and their profiles, linked by ``person_id``/``vehicle_id``.

    Send a ``plan`` to generate exactly what ``esdh-agent generate --plan FILE`` commits
    (``name`` too, for the same ids as a snapshot with that name).
    """
    return _respond(ctx, body or GenerateRequest(), None)
