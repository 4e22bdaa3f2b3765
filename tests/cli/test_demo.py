"""`esdh-agent demo`: replay, API up, previews, API down — offline."""

from __future__ import annotations

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
    assert f"'persons': {records}" in result.out
    assert "API stopped." in result.out
    assert not any(t.name == "esdh-demo-api" for t in threading.enumerate())
    port = int(result.out.split("http://127.0.0.1:")[1].split(":")[0])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_unknown_demo_profile(cli: Cli) -> None:
    result = cli("demo", "--profile", "nope")
    assert result.code == 2 and "unknown demo profile 'nope'" in result.err
