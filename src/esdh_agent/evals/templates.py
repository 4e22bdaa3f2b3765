"""Critic templates and their eval cassettes as they were at a git revision (``--against``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from esdh_agent.agents.context import CriticMeta, CriticTemplate
from esdh_agent.agents.frontmatter import read_document
from esdh_agent.errors import InputError
from esdh_agent.workspace import Workspace

__all__ = ["MissingAtRevision", "check_revision", "git_show", "template_at"]


class MissingAtRevision(InputError):
    """A file that did not exist at the revision asked for (the revision itself exists)."""


def _git(ws: Workspace, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ws.root), *args], capture_output=True)


def check_revision(ws: Workspace, rev: str) -> None:
    """Refuse a revision git does not know, or a workspace outside a git repository, in one
    line (never git's own ``fatal:``)."""
    if _git(ws, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise InputError(
            "--against needs the workspace in a git repository; this one is not",
            hint="drop --against, or run it in a clone",
        )
    if (
        rev.startswith("-")
        or _git(ws, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode
    ):
        raise InputError(
            f"git revision {rev!r} does not exist",
            hint="give a commit, branch or tag, e.g. HEAD or main",
        )


def git_show(ws: Workspace, rev: str, relative: str, target: Path) -> Path:
    """Write the file at ``relative`` (from the workspace root) as of ``rev`` to ``target``;
    ``MissingAtRevision`` when it did not exist then."""
    check_revision(ws, rev)
    done = _git(ws, "show", f"{rev}:./{relative}")
    if done.returncode != 0:
        raise MissingAtRevision(f"{relative} did not exist at {rev}")
    target.write_bytes(done.stdout)
    return target


def template_at(ws: Workspace, rev: str, critic: str, folder: Path) -> tuple[CriticTemplate, Path]:
    """The critic template and eval cassette as they were at git revision ``rev``, written to
    ``folder``. A template missing at ``rev`` raises ``MissingAtRevision``; a cassette missing
    there gives a path that does not exist (replaying it finds nothing recorded)."""
    template_path = git_show(ws, rev, f"critics/{critic}.md", folder / f"{critic}.md")
    cassette_path = folder / f"{critic}.cassette.yaml"
    try:
        git_show(ws, rev, ws.paths.relative(ws.paths.eval_cassette(critic)), cassette_path)
    except MissingAtRevision:
        cassette_path.unlink(missing_ok=True)
    doc = read_document(template_path, CriticMeta)
    return CriticTemplate(doc.meta, doc), cassette_path
