"""Keeping cassettes honest: stale, orphaned and secret-bearing recordings, re-recorded.

Every slice is replayed (paused slices are approved, so their later calls replay too) and
every eval suite is re-scored, in a scratch copy of the workspace, against the current
prompts and templates. A request the current prompts make that a cassette lacks is *stale*;
a recorded interaction nothing played is *orphaned*; anything shaped like a key or token is
*secret-bearing*. Recording runs in a scratch copy too, and copies only the new cassette and
its note back; pruning drops interactions nothing plays any more.
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
from typing import TYPE_CHECKING, Any

import yaml

from esdh_agent.agents.context import AgentWorkspace, load_agent_workspace
from esdh_agent.errors import EsdhError, ReplayMiss
from esdh_agent.evals.evaluate import EvalResult, evaluate_critic
from esdh_agent.evals.requests import model_readings, request_cassette
from esdh_agent.ledger.corpus import load_corpus
from esdh_agent.llm.recording import LLMMode, drop_interactions, observe
from esdh_agent.workspace import TEMPLATE_ENTRIES, Workspace

if TYPE_CHECKING:
    from esdh_agent.graphs.slice_generation.runner import RunResult

__all__ = [
    "CassetteReport",
    "check_all",
    "prune_all",
    "prune_orphans",
    "record_eval",
    "record_slice",
    "recording_targets",
    "scan_secrets",
]

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


def _cassette(ws: Workspace, kind: str, name: str) -> Path:
    if kind == "request":
        return request_cassette(ws, name)
    return ws.paths.slice_cassette(name) if kind == "slice" else ws.paths.eval_cassette(name)


def _check_requests(ws: Workspace, aw: AgentWorkspace) -> list[CassetteReport]:
    """The corpora's model-reading cassettes (``slices eval``), when the workspace has them:
    the labelled corpus, and the blind held-out one once its readings are recorded."""
    folders = [ws.root / "corpus" / "requests", ws.root / "corpus" / "heldout"]
    cases = [c for folder in folders if folder.is_dir() for c in load_corpus(folder)]
    reports = []
    for case in cases:
        report = _report(ws, "request", case.id)
        with observe() as opened:
            got = model_readings(ws, aw, [(case.id, case.prompt)])[case.id]
        if got.unrecorded:
            report.stale.append(got.unrecorded)
        else:
            used = _played(opened)
            report.orphaned = [i for i in range(report.interactions) if i not in used]
        reports.append(report)
    return reports


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


def _run_approving(
    ws: Workspace, slice_id: str, *, mode: LLMMode, base_url: str | None, comment: str, by: str
) -> RunResult:
    """Run a slice; a run paused for approval is approved and continued."""
    from esdh_agent.graphs.slice_generation.runner import resume_run, run_slice

    result = run_slice(ws, slice_id, mode=mode, base_url=base_url)
    if result.status == "awaiting_approval":
        result = resume_run(
            ws, result.run_id, approve=True, comment=comment, by=by, mode=mode, base_url=base_url
        )
    return result


def _evaluate_in(
    scratch: Workspace, critic: str, mode: LLMMode, base_url: str | None, cassette_path: Path
) -> EvalResult:
    """Score one eval suite once, as recorded: one sample, the templates' temperatures."""
    return evaluate_critic(
        scratch,
        load_agent_workspace(scratch),
        critic,
        mode,
        base_url,
        template=None,
        cassette_path=cassette_path,
        samples=1,
        temperature=None,
        models=None,
    )


def _check_slice(scratch: Workspace, slice_id: str, report: CassetteReport) -> None:
    with observe() as opened:
        result = _run_approving(
            scratch, slice_id, mode="replay", base_url=None, comment="check", by="cassettes-check"
        )
    if isinstance(result.error, ReplayMiss):
        report.stale.append(result.error.message)
    elif result.error is not None:
        report.error = result.error.one_line()
    else:
        used = _played(opened)
        report.orphaned = [i for i in range(report.interactions) if i not in used]


def _check_eval(scratch: Workspace, critic: str, report: CassetteReport) -> None:
    try:
        with observe() as opened:
            result = _evaluate_in(
                scratch, critic, "replay", None, scratch.paths.eval_cassette(critic)
            )
    except ReplayMiss as exc:
        report.stale.append(exc.message)
        return
    except EsdhError as exc:
        report.error = exc.one_line()
        return
    if result.unrecorded:
        missing = sorted(result.unrecorded)
        report.stale.append(
            f"{len(missing)} of {len(missing) + len(result.outcomes)} cases are not recorded "
            f"({', '.join(missing)}): {result.unrecorded[missing[0]]}"
        )
        return
    used = _played(opened)
    report.orphaned = [i for i in range(report.interactions) if i not in used]


def _report(ws: Workspace, kind: str, name: str) -> CassetteReport:
    path = _cassette(ws, kind, name)
    report = CassetteReport(kind, name, ws.paths.relative(path), _interactions(path))
    if path.exists():
        report.secrets = scan_secrets(path)
    return report


def check_all(
    ws: Workspace, *, slices: bool = True, evals: bool = True, requests: bool = True
) -> list[CassetteReport]:
    """Check every slice cassette, eval suite and corpus reading of the workspace."""
    aw = load_agent_workspace(ws)
    reports: list[CassetteReport] = []
    old = os.environ.get("ESDH_LLM_BASE_URL")
    os.environ["ESDH_LLM_BASE_URL"] = "http://203.0.113.7:9/v1"  # replay only
    try:
        with _scratch(ws) as scratch:
            if slices:
                for slice_id in aw.index.slices:
                    report = _report(ws, "slice", slice_id)
                    _check_slice(scratch, slice_id, report)
                    reports.append(report)
            if evals:
                for critic in aw.index.critics.llm:
                    report = _report(ws, "eval", critic)
                    _check_eval(scratch, critic, report)
                    reports.append(report)
        if requests:
            reports += _check_requests(ws, aw)
    finally:
        if old is None:
            os.environ.pop("ESDH_LLM_BASE_URL", None)
        else:
            os.environ["ESDH_LLM_BASE_URL"] = old
    return reports


def prune_orphans(path: Path, orphaned: list[int]) -> int:
    """Drop recorded interactions nothing plays any more, and their latencies in the note
    (responses are never edited)."""
    return drop_interactions(path, orphaned)


def prune_all(ws: Workspace) -> int:
    """Check every cassette and prune the orphans of those that are not stale."""
    pruned = 0
    for report in check_all(ws):
        if report.orphaned and not report.stale:
            pruned += prune_orphans(_cassette(ws, report.kind, report.name), report.orphaned)
    return pruned


def recording_targets(
    ws: Workspace,
    aw: AgentWorkspace,
    *,
    slices: list[str] | None,
    evals: list[str] | None,
    stale_only: bool,
) -> tuple[list[str], list[str]]:
    """The slices and eval suites to record: those named, else all of the kind not narrowed
    by the other option; with ``stale_only`` only those ``check_all`` finds stale or broken."""
    chosen_slices = slices if slices is not None else ([] if evals else list(aw.index.slices))
    chosen_evals = evals if evals is not None else ([] if slices else list(aw.index.critics.llm))
    if stale_only:
        reports = check_all(ws)
        stale = {(r.kind, r.name) for r in reports if r.stale or r.error}
        chosen_slices = [s for s in chosen_slices if ("slice", s) in stale]
        chosen_evals = [c for c in chosen_evals if ("eval", c) in stale]
    return chosen_slices, chosen_evals


def _copy_recording(source: Path, destination: Path) -> None:
    """A cassette recorded in the scratch copy, and its note, into the workspace."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for path in (source, source.with_suffix(".meta.yaml")):
        shutil.copy2(path, destination.parent / path.name)


def record_slice(ws: Workspace, slice_id: str, base_url: str | None) -> str:
    """Record one slice's agent run from the model at ``base_url``; its final status."""
    with _scratch(ws) as scratch:
        result = _run_approving(
            scratch,
            slice_id,
            mode="record",
            base_url=base_url,
            comment="recording",
            by="cassettes-record",
        )
        if result.error is not None:
            raise result.error
        _copy_recording(scratch.paths.slice_cassette(slice_id), ws.paths.slice_cassette(slice_id))
        return result.status


def record_eval(ws: Workspace, critic: str, base_url: str | None) -> None:
    """Record one critic's eval suite afresh from the model at ``base_url``."""
    with _scratch(ws) as scratch:
        target = scratch.paths.eval_cassette(critic)
        target.unlink(missing_ok=True)
        _evaluate_in(scratch, critic, "record", base_url, target)
        _copy_recording(target, ws.paths.eval_cassette(critic))
