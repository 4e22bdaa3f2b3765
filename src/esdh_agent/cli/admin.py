"""``esdh-agent init``, ``contracts write`` and ``vocab extract``: workspace upkeep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from esdh_agent.cli.common import WorkspaceOpt, open_workspace, out_console, sync_generated

__all__ = ["contracts_app", "init_command", "vocab_app"]

contracts_app = typer.Typer(
    help="The YAML data contracts derived from the models.", no_args_is_help=True
)
vocab_app = typer.Typer(
    help="The governed vocabularies extracted from pinned libraries.", no_args_is_help=True
)

CheckOpt = Annotated[
    bool, typer.Option("--check", help="Only check that the committed files are current.")
]


def init_command(
    directory: Annotated[Path, typer.Argument(help="New workspace directory.")],
) -> None:
    """Create a new workspace from the packaged reference files."""
    from esdh_agent.workspace import init_workspace

    root = init_workspace(directory)
    out_console().print(
        f"[green]Created[/] workspace {root}\n  next: cd {directory} && esdh-agent generate"
    )


def contract_files(governance: Path) -> dict[Path, str]:
    """The YAML contract files, rendered from the pydantic models."""
    import yaml

    from esdh_agent.core.contract import CONTRACT_VERSION, contract_documents

    folder = governance / "schemas" / CONTRACT_VERSION
    header = (
        "# Generated from esdh_agent.core.contract by `esdh-agent contracts write`.\n"
        "# Do not edit by hand: a test fails when this file is not current.\n"
    )
    return {
        folder / f"{stem}.yaml": header
        + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
        for stem, doc in contract_documents().items()
    }


@contracts_app.command("write")
def contracts_write(check: CheckOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Write governance/schemas/<version>/*.yaml from the pydantic models."""
    ws = open_workspace(workspace)
    sync_generated(contract_files(ws.governance), check, "contracts", "esdh-agent contracts write")


@vocab_app.command("extract")
def vocab_extract(check: CheckOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Extract name, street and ZIP vocabularies from the pinned Faker and zipcodes."""
    from esdh_agent.core.vocab_extract import extract_vocabularies

    ws = open_workspace(workspace)
    folder = ws.governance / "vocabularies"
    sync_generated(
        {folder / name: text for name, text in extract_vocabularies().items()},
        check,
        "vocabularies",
        "esdh-agent vocab extract",
    )
