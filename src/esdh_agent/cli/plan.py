"""``esdh-agent plan show | schema``: see what a plan resolves to, and every field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from esdh_agent.cli.common import emit_json

__all__ = ["app"]

app = typer.Typer(help="GenerationPlan: the only thing a model decides.", no_args_is_help=True)


@app.command("show")
def show_command(
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Plan file to resolve.", dir_okay=False)
    ] = None,
    persons: Annotated[int | None, typer.Option("--persons")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of YAML.")] = False,
) -> None:
    """Print the resolved plan (defaults + file + options): a starting point for your own."""
    import yaml

    from esdh_agent.cli.generate import load_plan

    plan = load_plan(plan_file, {"person_count": persons, "seed": seed})
    data = plan.model_dump(mode="json")
    if as_json:
        emit_json(data)
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


@app.command("schema")
def schema_command() -> None:
    """Print the plan's JSON Schema, with a description of every field."""
    from esdh_agent.core.plan import GenerationPlan

    emit_json(GenerationPlan.model_json_schema())
