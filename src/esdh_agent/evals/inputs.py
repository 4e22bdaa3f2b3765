"""What a critic saw, recovered from a run's checkpoint or a committed snapshot."""

from __future__ import annotations

from esdh_agent.agents.context import AgentWorkspace
from esdh_agent.agents.models import Judge
from esdh_agent.agents.profile import build_profile
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.errors import InputError
from esdh_agent.snapshots.operations import read_tables, validate_path
from esdh_agent.workspace import Workspace

__all__ = ["inputs_from_run", "inputs_from_snapshot"]


def inputs_from_run(ws: Workspace, run_id: str) -> tuple[Judge, str]:
    """The plan, validation report and profile of a run's last revision (from its checkpoint)."""
    from langchain_core.runnables import RunnableConfig

    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.graphs.slice_generation.graph import build_graph
    from esdh_agent.graphs.slice_generation.runner import checkpointer, read_run

    record = read_run(ws, run_id)
    config: RunnableConfig = {"configurable": {"thread_id": run_id}}
    with checkpointer(ws) as saver:
        values = build_graph().compile(checkpointer=saver).get_state(config).values
    if not values.get("validation") or not values.get("profile"):
        raise InputError(
            f"run {run_id} never reached validation ({record.get('status')}); "
            "there is nothing for a critic to grade"
        )
    slice_ = load_agent_workspace(ws).slice(record["slice_id"])
    return Judge(
        slice_prompt=slice_.prose,
        pinned=slice_.meta.pinned,
        plan=values["plan"],
        validation=values["validation"],
        profile=values["profile"],
        ledger=values.get("ledger"),
    ), slice_.id


def inputs_from_snapshot(ws: Workspace, aw: AgentWorkspace, name: str) -> tuple[Judge, str | None]:
    """A committed snapshot re-validated and profiled; its slice when the agent made it."""
    store = ws.store()
    manifest = store.manifest(name)
    plan = GenerationPlan.model_validate(manifest.plan)
    report = validate_path(ws, store.path(name))
    tables, _ = read_tables(store.path(name))
    slice_id = manifest.provenance.get("slice")
    if slice_id in aw.slices:
        slice_ = aw.slice(slice_id)
        prose, pinned = slice_.prose, slice_.meta.pinned
    else:
        slice_id = None
        prose = f"(snapshot {name} was made by `esdh-agent generate`; no slice prompt)"
        pinned = {}
    return Judge(
        slice_prompt=prose,
        pinned=pinned,
        plan=plan.model_dump(mode="json"),
        validation=report.model_dump(mode="json"),
        profile=build_profile(tables, plan.as_of_date),
        ledger=(manifest.provenance.get("request") or {}).get("ledger"),
    ), slice_id
