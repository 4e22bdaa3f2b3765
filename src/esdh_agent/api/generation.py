"""Records for /generate: the CLI's deterministic core, turned into JSON-ready rows.

The plan is the request's ``plan`` (else the default ``GenerationPlan``) with
``person_count`` and ``seed`` from the request — exactly what ``esdh-agent generate --plan
FILE --persons N --seed S`` builds — checked against the governance policy and the API's
record cap, and compiled with the workspace's vocabulary and the policy's marker, so the rows
equal that snapshot's rows. The id columns are keyed on a snapshot name as well (the request's
``name``, else the name ``generate`` would commit the plan under), as in the CLI.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from esdh_agent.api.context import ApiContext
from esdh_agent.api.errors import ApiError
from esdh_agent.api.requests import MAX_SEED, GenerateRequest
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout, default_snapshot_name
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import enforce
from esdh_agent.engines.pipeline import metadata_bytes

__all__ = ["ENTITIES", "Generated", "generate", "json_rows", "resolve_plan"]

ENTITIES = ("persons", "vehicles", "profiles")


@dataclass(frozen=True)
class Generated:
    """What one /generate request produced."""

    plan: GenerationPlan
    name: str  # the snapshot name the id columns are keyed on
    rows: dict[str, list[dict[str, Any]]]  # the entities asked for, in snapshot CSV order
    counts: dict[str, int]  # rows of every entity of the plan, asked for or not

    def metadata(self) -> dict[str, Any]:
        """The metadata.json a snapshot of this plan holds (record counts, notes, ...)."""
        result: dict[str, Any] = json.loads(metadata_bytes(self.plan, self.counts))
        return result


def resolve_plan(request: GenerateRequest, ctx: ApiContext) -> GenerationPlan:
    """The plan to generate: the request's own plan or the default one, with the request's
    person count and seed, under this server's cap and the governance policy."""
    plan = request.plan or GenerationPlan()
    persons = request.persons()
    seed = request.given_seed()
    if seed == "random":
        seed = secrets.randbelow(MAX_SEED + 1)
    changes: dict[str, Any] = {}
    if persons is not None:
        changes["person_count"] = persons
    if seed is not None:
        changes["seed"] = seed
    cap = ctx.settings.max_records
    wanted = changes.get("person_count", plan.person_count)
    if wanted > cap:
        source = "the plan's person_count" if persons is None else "records"
        raise ApiError(
            422,
            "too_many_records",
            f"{source}={wanted} exceeds this server's cap of {cap} persons per request "
            "(ESDH_API_MAX_RECORDS); use `esdh-agent generate` for larger datasets",
        )
    if changes:
        plan = GenerationPlan.model_validate({**plan.model_dump(), **changes})
    enforce(ctx.policy, plan, "request")
    return plan


def generate(
    ctx: ApiContext, request: GenerateRequest, entities: tuple[str, ...] = ENTITIES
) -> Generated:
    """The rows of ``entities`` for ``request``, in generation (= snapshot CSV) order."""
    plan = resolve_plan(request, ctx)
    name = request.name or default_snapshot_name(plan)
    layout = compile_layout(plan, ctx.vocabulary, ctx.policy.required_marker, name=name)
    rows: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
    counts = dict.fromkeys(ENTITIES, 0)
    for spec in layout.blocks:
        block = generate_block(layout, spec)
        for entity in ENTITIES:
            counts[entity] += block[entity].num_rows
        for entity in entities:
            rows[entity].extend(json_rows(block[entity]))
    return Generated(plan, name, rows, counts)


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts in contract column order; dates as YYYY-MM-DD strings."""
    columns = [
        column.cast(pa.string()) if pa.types.is_date(column.type) else column
        for column in table.columns
    ]
    result: list[dict[str, Any]] = pa.Table.from_arrays(
        columns, names=table.column_names
    ).to_pylist()
    return result
