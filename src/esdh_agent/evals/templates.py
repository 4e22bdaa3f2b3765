"""Critic templates and their eval cassettes as they were at a git revision (``--against``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from esdh_agent.agents.context import CriticMeta, CriticTemplate
from esdh_agent.agents.frontmatter import read_document
from esdh_agent.errors import InputError
from esdh_agent.workspace import Workspace

__all__ = ["git_show", "template_at"]


def git_show(ws: Workspace, rev: str, relative: str, target: Path) -> Path:
    """Write the file at ``relative`` (from the workspace root) as of ``rev`` to ``target``."""
    done = subprocess.run(
        ["git", "-C", str(ws.root), "show", f"{rev}:./{relative}"], capture_output=True
    )
    if done.returncode != 0:
        raise InputError(
            f"{relative} does not exist at {rev!r}",
            hint=(done.stderr.decode(errors="replace").strip() or None),
        )
    target.write_bytes(done.stdout)
    return target


def template_at(ws: Workspace, rev: str, critic: str, folder: Path) -> tuple[CriticTemplate, Path]:
    """The critic template and eval cassette as they were at git revision ``rev``, written to
    ``folder``."""
    template_path = git_show(ws, rev, f"critics/{critic}.md", folder / f"{critic}.md")
    cassette_path = git_show(
        ws,
        rev,
        ws.paths.relative(ws.paths.eval_cassette(critic)),
        folder / f"{critic}.cassette.yaml",
    )
    doc = read_document(template_path, CriticMeta)
    return CriticTemplate(doc.meta, doc), cassette_path
