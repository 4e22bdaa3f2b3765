"""LangChain tools over the deterministic core: generate a bundle, validate a bundle.

The slice-generation graph calls them, and any other LangChain or LangGraph agent can too.
Their docstrings are what a model reads about them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.agents.grounding import verify_requirements
from esdh_agent.agents.models import BundleRef
from esdh_agent.agents.profile import build_profile
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.options import ExecutionOptions
from esdh_agent.engines.pipeline import stage_bundle
from esdh_agent.ledger.model import Ledger
from esdh_agent.snapshots.operations import inspect_path, read_tables
from esdh_agent.workspace import Workspace

__all__ = ["GenerateArgs", "ValidateArgs", "bundle_tools"]


class GenerateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: dict[str, Any] = Field(description="A GenerationPlan (see `esdh-agent plan schema`).")
    name: str = Field(description="Snapshot name the bundle will be committed under.")
    target_dir: str = Field(description="Empty staging directory inside the workspace's data/.")


class ValidateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle_dir: str = Field(description="Directory holding persons/vehicles/profiles CSV.")
    plan: dict[str, Any] | None = Field(None, description="Plan to check conformance against.")
    ledger: dict[str, Any] | None = Field(
        None, description="The request's requirements ledger, to verify on the data."
    )


def _inside(ws: Workspace, path: str) -> Path:
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(ws.data.resolve()):
        raise ValueError(f"{path} is outside the workspace's data directory")
    return resolved


def bundle_tools(ws: Workspace) -> dict[str, BaseTool]:
    """The generate_bundle and validate_bundle tools bound to a workspace."""
    policy = ws.policy()
    # Engine, workers and layout come from the workspace, never from a model.
    options = ExecutionOptions.resolve(ws.settings)

    def generate_bundle(plan: dict[str, Any], name: str, target_dir: str) -> dict[str, Any]:
        """Generate a deterministic synthetic Person/Vehicle/Profile bundle from a plan.

        No model is involved: the same plan always gives the same bytes. Writes CSV files and
        metadata into target_dir (a staging directory, nothing is committed) and returns the
        row counts, the content hash and the manifest to commit.
        """
        target = _inside(ws, target_dir)
        bundle = stage_bundle(
            GenerationPlan.model_validate(plan),
            vocab=ws.vocabulary(),
            marker=policy.required_marker,
            name=name,
            target=target,
            workers=options.workers,
            engine=options.engine,
            scheduler=options.scheduler,
            layout=options.layout,
        )
        return BundleRef(
            path=str(target),
            rows=bundle.rows,
            content_hash=bundle.manifest.content_hash,
            manifest=bundle.manifest.model_dump(mode="json"),
            seconds={k: round(v, 3) for k, v in bundle.seconds.items()},
        ).model_dump(mode="json")

    def validate_bundle(
        bundle_dir: str, plan: dict[str, Any] | None = None, ledger: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate a bundle on disk: contract, references, uniqueness, domain rules,
        governance hygiene and, given a plan, its exact quotas; given the request's
        requirements ledger, verify every requirement on the data.

        Returns the validation report (every finding, located), a compact statistical
        profile of the data with a few sample rows and, given a ledger, the ledger with each
        requirement's status and measured value.
        """
        path = _inside(ws, bundle_dir)
        parsed = GenerationPlan.model_validate(plan) if plan is not None else GenerationPlan()
        as_of = parsed.as_of_date
        report, tables = inspect_path(ws, path, as_of, plan=parsed if plan is not None else None)
        if tables is None:  # a bundle checked block by block: read it whole for the profile
            tables, _ = read_tables(path)
        out = {"report": report.model_dump(mode="json"), "profile": build_profile(tables, as_of)}
        if ledger is not None:
            verified = verify_requirements(Ledger.model_validate(ledger), parsed, tables)
            out["ledger"] = verified.model_dump(mode="json")
        return out

    return {
        "generate_bundle": StructuredTool.from_function(
            generate_bundle, name="generate_bundle", args_schema=GenerateArgs
        ),
        "validate_bundle": StructuredTool.from_function(
            validate_bundle, name="validate_bundle", args_schema=ValidateArgs
        ),
    }
