"""Keeping cassettes honest: stale, orphaned and secret-bearing recordings.

Every slice is replayed (paused slices are approved, so their later calls replay too) and
every eval suite is re-scored, in a scratch copy of the workspace, against the current
prompts and templates. A request the current prompts make that a cassette lacks is *stale*;
a recorded interaction nothing played is *orphaned*; anything shaped like a key or token is
*secret-bearing*.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from esdh_agent.errors import EsdhError, ReplayMiss
from esdh_agent.workspace import TEMPLATE_ENTRIES, Workspace

__all__ = ["CassetteReport", "check_all", "prune_orphans", "scan_secrets"]

_SECRETS = [
    (re.compile(r"sk-[A-Za-z0-9_-]{16,}"), "an OpenAI-style API key"),
    (re.compile(r"Bearer\s+[A-Za-z0-9._-]{12,}"), "a bearer token"),
    (
        re.compile(
            r"(?im)^\s*-?\s*['\"]?(authorization|api-key|x-api-key|cookie|set-cookie|"
            r"openai-organization|openai-project)['\"]?\s*:"
        ),
        "a credential header",
    ),
    (
        re.compile(r"(?i)(api[_-]?key|secret|password|token)=[A-Za-z0-9._-]{12,}"),
        "a credential in a URL",
    ),
    (re.compile(r"AKIA[0-9A-Z]{16}"), "an AWS access key"),
]


@dataclass
class CassetteReport:
    kind: str
    name: str
    path: str
    interactions: int = 0
    stale: list[str] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.stale or self.orphaned or self.secrets or self.error)


def scan_secrets(path: Path) -> list[str]:
    """What in the file looks like a key or token (line and kind; the value is not echoed)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for pattern, what in _SECRETS:
            if pattern.search(line):
                found.append(f"line {number}: {what}")
    return found


def _interactions(path: Path) -> int:
    if not path.exists():
        return 0
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return len(data.get("interactions", []))


@contextmanager
def _scratch(ws: Workspace) -> Iterator[Workspace]:
    """A throwaway copy of the workspace's governed files (data/ stays empty)."""
    tmp = Path(tempfile.mkdtemp(prefix="esdh-cassettes-"))
    try:
        for entry in TEMPLATE_ENTRIES:
            src = ws.root / entry
            if src.is_dir():
                shutil.copytree(src, tmp / entry)
            elif src.is_file():
                shutil.copy2(src, tmp / entry)
        (tmp / "data").mkdir()
        yield Workspace.open(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _played(opened: list[Any]) -> set[int]:
    used: set[int] = set()
    for cass in opened:
        used |= {index for index, count in cass.play_counts.items() if count}
    return used


def _check_slice(scratch: Workspace, slice_id: str, report: CassetteReport) -> None:
    from esdh_agent.graphs.slice_generation.runner import resume_run, run_slice
    from esdh_agent.llm.recording import observe

    with observe() as opened:
        result = run_slice(scratch, slice_id)
        if result.status == "awaiting_approval":
            result = resume_run(
                scratch, result.run_id, approve=True, comment="check", by="cassettes-check"
            )
    if isinstance(result.error, ReplayMiss):
        report.stale.append(result.error.message)
    elif result.error is not None:
        report.error = result.error.one_line()
    else:
        used = _played(opened)
        report.orphaned = [i for i in range(report.interactions) if i not in used]


def _check_eval(scratch: Workspace, critic: str, report: CassetteReport) -> None:
    from esdh_agent.agents.context import load_agent_workspace
    from esdh_agent.cli.critic import _evaluate, eval_cassette
    from esdh_agent.llm.recording import observe

    aw = load_agent_workspace(scratch)
    try:
        with observe() as opened:
            _evaluate(
                scratch,
                aw,
                critic,
                "replay",
                None,
                template=None,
                cassette_path=eval_cassette(scratch, critic),
                samples=1,
                temperature=None,
                models=None,
            )
    except ReplayMiss as exc:
        report.stale.append(exc.message)
        return
    except EsdhError as exc:
        report.error = exc.one_line()
        return
    used = _played(opened)
    report.orphaned = [i for i in range(report.interactions) if i not in used]


def check_all(ws: Workspace, *, slices: bool = True, evals: bool = True) -> list[CassetteReport]:
    """Check every slice cassette and eval suite of the workspace."""
    from esdh_agent.agents.context import load_agent_workspace

    aw = load_agent_workspace(ws)
    reports: list[CassetteReport] = []
    old = os.environ.get("ESDH_LLM_BASE_URL")
    os.environ["ESDH_LLM_BASE_URL"] = "http://203.0.113.7:9/v1"  # replay only
    try:
        with _scratch(ws) as scratch:
            if slices:
                for slice_id in aw.index.slices:
                    path = ws.root / "cassettes" / "slices" / f"{slice_id}.yaml"
                    report = CassetteReport(
                        "slice", slice_id, str(path.relative_to(ws.root)), _interactions(path)
                    )
                    if path.exists():
                        report.secrets = scan_secrets(path)
                    _check_slice(scratch, slice_id, report)
                    reports.append(report)
            if evals:
                for critic in aw.index.critics.llm:
                    path = ws.root / "cassettes" / "evals" / f"{critic}.yaml"
                    report = CassetteReport(
                        "eval", critic, str(path.relative_to(ws.root)), _interactions(path)
                    )
                    if path.exists():
                        report.secrets = scan_secrets(path)
                    _check_eval(scratch, critic, report)
                    reports.append(report)
    finally:
        if old is None:
            os.environ.pop("ESDH_LLM_BASE_URL", None)
        else:
            os.environ["ESDH_LLM_BASE_URL"] = old
    return reports


def prune_orphans(path: Path, orphaned: list[int]) -> int:
    """Drop recorded interactions nothing plays any more (responses are never edited)."""
    if not orphaned:
        return 0
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    drop = set(orphaned)
    data["interactions"] = [x for i, x in enumerate(data["interactions"]) if i not in drop]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return len(drop)
