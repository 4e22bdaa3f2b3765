"""Engines: where blocks run. ``local`` (this process or a process pool) and ``dask``.

Both run the same ``run_block`` on the same block specs and hand results back in block order,
so an engine never changes a byte. Dask is imported only when the dask engine runs.
"""

from __future__ import annotations

from typing import Any

from esdh_agent.engines.base import ENGINES, Engine
from esdh_agent.errors import InputError

__all__ = ["ENGINES", "Engine", "make_engine"]


def make_engine(kind: str, workers: int, scheduler: str | None = None) -> Engine[Any, Any]:
    """The engine named ``kind`` with ``workers`` processes (or an existing Dask scheduler)."""
    from esdh_agent.engines.options import check_engine

    check_engine(kind)
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if kind == "local":
        if scheduler is not None:
            raise InputError("--scheduler needs --engine dask")
        from esdh_agent.engines.local import LocalEngine

        return LocalEngine(workers, in_flight=2)  # results are small: workers write files
    from esdh_agent.engines.dask import DaskEngine

    return DaskEngine(workers, scheduler, in_flight=2)
