"""Shared fixtures: a fresh workspace per test, the reference vocabulary, a CLI runner."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.vocab import Vocabulary, load_vocabulary
from esdh_agent.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
MARKER = "enterprise-synthetic-data-hub v0.1"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run offline: any connection to a non-loopback address fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.delenv("ESDH_WORKSPACE", raising=False)


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return load_vocabulary(REPO / "governance")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A new workspace created by `esdh-agent init` from the packaged reference files."""
    return Workspace.open(init_workspace(tmp_path / "ws"))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> Callable[..., CliResult]:
    """Run `esdh-agent ARGS` in-process against the test workspace."""
    from esdh_agent.cli.app import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        old = Path.cwd()
        os.chdir(cwd or workspace.root)
        try:
            code = main(list(args))
        finally:
            os.chdir(old)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def small_plan(**changes: object) -> GenerationPlan:
    """A quick plan with every feature switched on."""
    base = GenerationPlan(person_count=300, vehicles_per_person={1: 0.6, 2: 0.3, 3: 0.1})
    data = base.model_dump()
    data.update(changes)
    return GenerationPlan.model_validate(data)


@pytest.fixture
def staging_empty(workspace: Workspace) -> Iterator[Callable[[], bool]]:
    def check() -> bool:
        staging = workspace.data / ".staging"
        return not staging.exists() or not any(staging.iterdir())

    yield check
