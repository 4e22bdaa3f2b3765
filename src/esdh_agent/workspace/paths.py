"""The one source of every path inside a workspace: runs, transcripts, checkpoints, cassettes.

Modules ask a ``WorkspacePaths`` for a location instead of joining strings, so the layout of a
workspace is written down once. Identifiers are checked by their callers (``read_run`` and the
API refuse run ids with separators); these helpers only join.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["WorkspacePaths"]


@dataclass(frozen=True)
class WorkspacePaths:
    """Where things live in the workspace at ``root``."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def runs(self) -> Path:
        """One directory per agent run."""
        return self.data / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def run_record(self, run_id: str) -> Path:
        """``run.json``: status, summary and provenance of one run."""
        return self.run_dir(run_id) / "run.json"

    def transcript(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "transcript.jsonl"

    @property
    def checkpoints(self) -> Path:
        """The SQLite file holding every run's graph checkpoints (thread id = run id)."""
        return self.data / "checkpoints.sqlite"

    @property
    def evals(self) -> Path:
        """Transcripts of side jobs (critic evaluation, critic runs), one directory each."""
        return self.data / "evals"

    def eval_transcript(self, job: str) -> Path:
        return self.evals / job / "transcript.jsonl"

    @property
    def cassettes(self) -> Path:
        return self.root / "cassettes"

    def slice_cassette(self, slice_id: str) -> Path:
        """Recorded model calls of one slice's agent run."""
        return self.cassettes / "slices" / f"{slice_id}.yaml"

    def eval_cassette(self, critic: str) -> Path:
        """Recorded model calls of one critic's labelled-case evaluation."""
        return self.cassettes / "evals" / f"{critic}.yaml"

    def critic_run_cassette(self, critic: str) -> Path:
        """Recorded model calls of `critic run` on a saved snapshot."""
        return self.cassettes / "critic-runs" / f"{critic}.yaml"

    def relative(self, path: Path) -> str:
        """``path`` relative to the workspace root (POSIX), or as given when outside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)
