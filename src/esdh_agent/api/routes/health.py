"""``GET /healthz``: liveness plus the versions that decide what /generate returns."""

from __future__ import annotations

from fastapi import APIRouter

from esdh_agent import __version__
from esdh_agent.api.models import DEFAULT_SEED, HealthResponse
from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.plan import DEFAULT_PLAN

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness and versions")
def healthz() -> HealthResponse:
    """Always open (no token needed), so load balancers and scripts can probe it."""
    return HealthResponse(
        status="ok",
        dataset_version=DEFAULT_PLAN.dataset_version,
        default_seed=DEFAULT_SEED,
        generator_version=GENERATOR_VERSION,
        version=__version__,
    )
