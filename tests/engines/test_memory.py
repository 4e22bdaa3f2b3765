"""Peak memory does not grow with the row count (slow: two real builds, 100k and 1.5M persons).

Run with ``pytest -m slow tests/engines/test_memory.py``.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import resource, sys
from pathlib import Path
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
result = build_snapshot(GenerationPlan(person_count=int(sys.argv[2])), vocab=ws.vocabulary(),
                        store=ws.store(), marker=ws.policy().required_marker,
                        name=f"m{sys.argv[2]}", formats=("csv", "parquet"), layout="parts")
assert result.report.ok
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_mb(root: Path, persons: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root), str(persons)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return int(done.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.slow
def test_peak_rss_stays_flat_from_100k_to_1_5m_persons(workspace: object) -> None:
    root = workspace.root  # type: ignore[attr-defined]
    small, large = _peak_mb(root, 100_000), _peak_mb(root, 1_500_000)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 0
    # 15× the rows: the keys alone would add ~200 MB in memory; spilled, the peak stays put.
    assert large < small * 1.25 + 50, (small, large)
