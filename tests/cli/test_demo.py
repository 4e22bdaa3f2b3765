"""`esdh-agent demo`: replay, API up, the same plan through both paths, API down — offline."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _replay_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESDH_LLM_BASE_URL", "http://203.0.113.7:9/v1")


@pytest.mark.parametrize(
    ("profile", "records", "slice_"),
    [("baseline", 30, "baseline"), ("heavy", 200, "commercial-fleet")],
)
def test_demo_profiles(cli: Cli, profile: str, records: int, slice_: str) -> None:
    result = cli("demo", "--profile", profile)
    assert result.code == 0, result.err
    assert f"snapshot {slice_}-v0.1 committed" in result.out
    assert "/healthz ok" in result.out
    # the snapshot's own plan, seed and name through the API: the very same rows
    assert f"name {slice_}-v0.1 through both paths:" in result.out
    assert "Same plan (sha256 " in result.out
    for entity in ("persons", "vehicles", "profiles"):
        assert f"  {entity}: " in result.out
        line = result.out.split(f"  {entity}: ", 1)[1].split("\n", 1)[0]
        assert line.endswith("rows, identical (every column, ids included)"), line
    # then the profile's own size and seed, over GET
    assert f"API GET /generate/bundle?records={records}&seed=" in result.out
    assert f"'persons': {records}" in result.out
    assert "API stopped." in result.out
    assert not any(t.name == "esdh-demo-api" for t in threading.enumerate())
    port = int(result.out.split("http://127.0.0.1:")[1].split(":")[0])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_compare_says_what_matches() -> None:
    from esdh_agent.cli.demo import compare

    rows = [{"person_id": "a", "city": "X"}, {"person_id": "b", "city": "Y"}]
    same = compare({"persons": rows}, {"persons": [dict(r) for r in rows]})
    assert same == ["persons: 2 rows, identical (every column, ids included)"]
    other_ids = [{**r, "person_id": r["person_id"] + "2"} for r in rows]
    assert compare({"persons": rows}, {"persons": other_ids}) == [
        "persons: 2 rows, identical except ids (person_id)"
    ]
    other_city = [{**rows[0], "city": "Z"}, rows[1]]
    assert compare({"persons": rows}, {"persons": other_city}) == [
        "persons: 2 rows, columns differ: city"
    ]
    assert compare({"persons": rows}, {"persons": rows[:1]}) == [
        "persons: 2 rows in the snapshot, 1 from the API"
    ]


def test_unknown_demo_profile(cli: Cli) -> None:
    result = cli("demo", "--profile", "nope")
    assert result.code == 2 and "unknown demo profile 'nope'" in result.err


def test_demo_json(cli: Cli) -> None:
    result = cli("demo", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["status"] in ("committed", "unchanged")
    assert data["snapshot"] == data["name"] == "baseline-v0.1"
    assert data["plan_hash"]["snapshot"] == data["plan_hash"]["api"]
    assert [line.split(":")[0] for line in data["comparison"]] == [
        "persons",
        "vehicles",
        "profiles",
    ]
    assert all(line.endswith("ids included)") for line in data["comparison"])
    assert data["other_request"]["counts"]["persons"] == 30
