"""Golden responses: seed 20251101, 3 persons, for every /generate endpoint.

The files are the responses as committed JSON (two-space indent, keys in response order).
If a change is meant to alter generated values, bump GENERATOR_VERSION and refresh them with
`ESDH_UPDATE_GOLDEN=1 pytest tests/api/test_golden.py`, and say why in the CHANGELOG.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

GOLDEN = Path(__file__).parent / "golden"
REQUEST = {"records": 3, "seed": 20251101}


def _canonical(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("endpoint", ["person", "vehicle", "profile", "bundle"])
def test_response_matches_the_golden_file(client: TestClient, endpoint: str) -> None:
    response = client.post(f"/generate/{endpoint}", json=REQUEST)
    assert response.status_code == 200, response.text
    path = GOLDEN / f"{endpoint}.json"
    if os.environ.get("ESDH_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(_canonical(response.json()), encoding="utf-8")
    golden_text = path.read_text(encoding="utf-8")
    assert response.json() == json.loads(golden_text)
    assert _canonical(response.json()) == golden_text  # key order too
