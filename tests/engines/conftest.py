"""A Dask LocalCluster shared by the engine tests (two processes, one thread each, loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of a running two-worker Dask cluster (started once per test session)."""
    pytest.importorskip("dask.distributed")
    from esdh_agent.engines.dask import local_cluster

    cluster = local_cluster(2)  # the engine's own settings; tests reach it by its address
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
