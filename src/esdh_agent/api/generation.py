"""Records for /generate: the CLI's deterministic core, turned into JSON-ready rows.

The plan is the default ``GenerationPlan`` with ``person_count`` and ``seed`` from the
request — exactly what ``esdh-agent generate --persons N --seed S`` builds — compiled with
the workspace's vocabulary and the policy's marker, so the rows equal that snapshot's rows.
"""

from __future__ import annotations

import secrets
from typing import Any

import pyarrow as pa

from esdh_agent.api.context import ApiContext
from esdh_agent.api.errors import ApiError
from esdh_agent.api.models import MAX_SEED, GenerateRequest
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import enforce

__all__ = ["ENTITIES", "check_records", "generate_rows", "resolve_seed"]

ENTITIES = ("persons", "vehicles", "profiles")


def resolve_seed(request: GenerateRequest) -> int:
    """The request's seed, or a fresh one from ``secrets`` for 'random' / randomize."""
    if request.randomize or isinstance(request.seed, str):
        return secrets.randbelow(MAX_SEED + 1)
    return request.seed


def check_records(request: GenerateRequest, ctx: ApiContext) -> None:
    """Reject, never truncate, a request above this server's cap."""
    cap = ctx.settings.max_records
    if request.records > cap:
        raise ApiError(
            422,
            "too_many_records",
            f"records={request.records} exceeds this server's cap of {cap} persons per "
            "request (ESDH_API_MAX_RECORDS); use `esdh-agent generate` for larger datasets",
        )


def generate_rows(
    ctx: ApiContext, persons: int, seed: int, entities: tuple[str, ...] = ENTITIES
) -> tuple[GenerationPlan, dict[str, list[dict[str, Any]]]]:
    """The plan used and the rows of ``entities``, in generation (= snapshot CSV) order."""
    plan = GenerationPlan(person_count=persons, seed=seed)
    enforce(ctx.policy, plan, "request")
    layout = compile_layout(plan, ctx.vocabulary, ctx.policy.required_marker)
    rows: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
    for spec in layout.blocks:
        block = generate_block(layout, spec)
        for entity in entities:
            rows[entity].extend(_json_rows(block[entity]))
    return plan, rows


def _json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts in contract column order; dates as YYYY-MM-DD strings."""
    columns = [
        column.cast(pa.string()) if pa.types.is_date(column.type) else column
        for column in table.columns
    ]
    result: list[dict[str, Any]] = pa.Table.from_arrays(
        columns, names=table.column_names
    ).to_pylist()
    return result
