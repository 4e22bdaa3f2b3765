"""The pipeline's crash points fire where the crash-safety harness expects them: after the
first block is on disk (both layouts) and after every data file is closed, before metadata."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from esdh_agent.workspace import Workspace

SCRIPT = """
import sys
from pathlib import Path
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
build_snapshot(GenerationPlan(person_count=300), vocab=ws.vocabulary(), store=ws.store(),
               marker=ws.policy().required_marker, name="crash", block_size=50,
               layout=sys.argv[2], formats=("csv", "json"))
"""


@pytest.mark.parametrize(
    ("point", "layout", "present", "absent"),
    [
        ("write_data", "parts", ["persons/part-00000.csv"], ["persons/part-00001.csv"]),
        ("write_data", "single", ["persons.csv", "vehicles.json"], ["metadata.json"]),
        ("before_manifest", "parts", ["profiles/part-00005.json"], ["metadata.json"]),
    ],
)
def test_crash_points_in_the_writer_and_before_the_manifest(
    workspace: Workspace, point: str, layout: str, present: list[str], absent: list[str]
) -> None:
    env = {**os.environ, "ESDH_CRASH_AT": point}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(workspace.root), layout],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    staged = list((workspace.data / ".staging").iterdir())
    assert [p.name.split(".")[0] for p in staged] == ["crash"]
    for name in present:
        assert (staged[0] / name).is_file(), name
    for name in [*absent, "manifest.json"]:
        assert not (staged[0] / name).exists(), name
    assert not (workspace.data / "snapshots" / "crash").exists()
