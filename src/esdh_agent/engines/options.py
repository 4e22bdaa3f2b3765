"""Execution options — engine, workers, scheduler, layout, formats — resolved once.

The command line, the agent's generate tool and the HTTP API all build snapshots; each asks
``resolve`` instead of applying the workspace defaults its own way. An option given
explicitly wins over ``esdh-workspace.yaml``; what neither says falls back to the engine's
default worker count (ADR 0005). None of these choices changes a snapshot's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from esdh_agent.core.manifest import LAYOUTS, Layout
from esdh_agent.engines.base import ENGINES
from esdh_agent.engines.local import available_cpus, default_workers
from esdh_agent.errors import InputError
from esdh_agent.workspace import WorkspaceSettings

__all__ = ["FORMATS", "ExecutionOptions", "check_engine", "check_formats", "check_layout"]

FORMATS = ("csv", "json", "parquet")
Engine = Literal["local", "dask"]


def check_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """Known formats in canonical order; CSV is always written (it is what gets hashed)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}", hint=f"use {', '.join(FORMATS)}")
    if "csv" not in formats:
        formats = ("csv", *formats)
    return tuple(f for f in FORMATS if f in formats)


def check_layout(layout: str) -> Layout:
    """``single`` or ``parts`` (a workspace / command-line choice, never a plan field)."""
    for known in LAYOUTS:
        if layout == known:
            return known
    raise InputError(f"unknown layout {layout!r}", hint=f"use {' or '.join(LAYOUTS)}")


def check_engine(engine: str) -> Engine:
    """``local`` or ``dask``."""
    if engine == "local":
        return "local"
    if engine == "dask":
        return "dask"
    raise InputError(f"unknown engine {engine!r}", hint=f"use {' or '.join(ENGINES)}")


@dataclass(frozen=True)
class ExecutionOptions:
    """How a build runs and lays out its files (never what it contains)."""

    engine: Engine
    workers: int
    scheduler: str | None
    layout: Layout
    formats: tuple[str, ...]

    @classmethod
    def resolve(
        cls,
        settings: WorkspaceSettings,
        *,
        engine: str | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        layout: str | None = None,
        formats: str | None = None,
    ) -> ExecutionOptions:
        """Explicit options over the workspace's settings over the defaults.

        ``formats`` is a comma-separated list, as on the command line.
        """
        if workers is not None and workers < 1:
            raise InputError("--workers must be at least 1")
        kind = check_engine((engine or settings.engine).strip().lower())
        if scheduler is not None and kind != "dask":
            raise InputError("--scheduler needs --engine dask")
        # A Dask cluster is asked for explicitly: one worker per CPU unless told otherwise.
        fallback = available_cpus() if kind == "dask" else default_workers()
        chosen = (
            tuple(settings.formats)
            if formats is None
            else tuple(part.strip().lower() for part in formats.split(",") if part.strip())
        )
        return cls(
            engine=kind,
            workers=workers or settings.workers or fallback,
            scheduler=scheduler or (settings.scheduler if kind == "dask" else None),
            layout=check_layout((layout or settings.layout).strip().lower()),
            formats=check_formats(chosen),
        )
