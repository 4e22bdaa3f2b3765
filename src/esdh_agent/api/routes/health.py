"""``GET /healthz``: liveness, the versions that decide what /generate returns, the plan.

Beside this project's fields it carries the original system's (``version`` = the dataset
version, ``seed``, ``target_records``, ``plan: {"steps": [...]}``), so its probes still work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from esdh_agent import __version__
from esdh_agent.api.compat import plan_steps
from esdh_agent.api.context import ApiContext, get_context
from esdh_agent.api.models import DEFAULT_SEED, HealthPlan, HealthResponse
from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.plan import DEFAULT_PLAN

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness, versions, plan")
def healthz(ctx: Annotated[ApiContext, Depends(get_context)]) -> HealthResponse:
    """Always open (no token needed), so load balancers and scripts can probe it."""
    cap = ctx.settings.max_records
    return HealthResponse(
        status="ok",
        dataset_version=DEFAULT_PLAN.dataset_version,
        default_seed=DEFAULT_SEED,
        generator_version=GENERATOR_VERSION,
        version=DEFAULT_PLAN.dataset_version,
        package_version=__version__,
        seed=DEFAULT_SEED,
        target_records=DEFAULT_PLAN.person_count,
        max_records=cap,
        plan=HealthPlan(
            steps=plan_steps(DEFAULT_PLAN, ctx.policy, cap),
            default=DEFAULT_PLAN,
            plan_hash=DEFAULT_PLAN.plan_hash(),
        ),
    )
