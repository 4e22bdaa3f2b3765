"""A small golden snapshot: the same plan gives the same bytes, release after release.

If a change is meant to alter generated values, bump GENERATOR_VERSION and refresh the
golden files with `ESDH_UPDATE_GOLDEN=1 pytest tests/test_golden.py`, and say why in the
CHANGELOG.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from esdh_agent.core.plan import EdgeCases, GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER

GOLDEN = Path(__file__).parent / "golden" / "small"
PLAN = GenerationPlan(
    person_count=24,
    vehicles_per_person={1: 0.5, 2: 0.25, 3: 0.25},
    address_line_2_rate=0.25,
    zip_plus4_rate=0.25,
    garaging_elsewhere_rate=0.1,
    edge_cases=EdgeCases(
        hyphenated_names=0.125,
        apostrophe_names=0.125,
        non_ascii_names=0.125,
        long_names=0.125,
        max_length_fields=0.125,
        boundary_ages=0.25,
    ),
)
FILES = ("persons.csv", "vehicles.csv", "profiles.csv", "metadata.json")


def test_small_snapshot_matches_the_golden_bytes(workspace: Workspace) -> None:
    result = build_snapshot(
        PLAN,
        vocab=workspace.vocabulary(),
        store=workspace.store(),
        marker=MARKER,
        name="golden",
        block_size=10,
    )
    if os.environ.get("ESDH_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copy(result.commit.path / name, GOLDEN / name)
        (GOLDEN / "content_hash.txt").write_text(result.commit.manifest.content_hash + "\n")
    for name in FILES:
        assert (result.commit.path / name).read_bytes() == (GOLDEN / name).read_bytes(), name
    expected = (GOLDEN / "content_hash.txt").read_text().strip()
    assert result.commit.manifest.content_hash == expected
