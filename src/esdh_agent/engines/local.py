"""The local engine: run blocks in this process or in a pool of worker processes.

Results come back in block order whatever the number of workers, with a bounded number of
blocks in flight so memory does not grow with the row count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from esdh_agent.engines.base import in_order

__all__ = [
    "LocalEngine",
    "available_cpus",
    "default_workers",
    "start_forkserver",
    "tune_allocator",
]

T = TypeVar("T")
R = TypeVar("R")

POOL_MIN_BLOCKS = 4
"""Fewer blocks than this run in-process whatever the worker count: the pool costs about a
second of CPU to start and warm up, which two or three blocks barely repay (ADR 0005,
amendment)."""

_TASK: Any = None
_FN: Any = None


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """Worker processes to use when nobody said: one per CPU, two on a two-CPU machine.

    Workers write their own files (``engines.ownfiles``), so the parent no longer receives,
    writes and hashes every byte, and a second worker pays even on two CPUs; builds of fewer
    than ``POOL_MIN_BLOCKS`` blocks run in-process whatever this says. See ADR 0005.
    """
    return available_cpus()


def tune_allocator() -> None:
    """Keep freed memory in the heap instead of returning it to the kernel at once.

    Every block allocates and frees the same large numpy arrays; with glibc's defaults each
    one is a fresh mmap whose pages fault in again, which costs more system time than the
    work itself. Raising the mmap and trim thresholds makes the heap reuse those pages.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)  # the largest value glibc accepts on 64-bit
    mallopt(m_trim_threshold, 256 << 20)
    mallopt(m_top_pad, 64 << 20)


def _forkserver(*preload: str) -> Any:
    """The forkserver context, with what the server imports once for every worker (and
    ``preload``, such as ``distributed`` for a Dask cluster's workers)."""
    context = multiprocessing.get_context("forkserver")
    # "__main__" too: else every worker imports the main script again (the CLI, a benchmark)
    context.set_forkserver_preload(["__main__", "esdh_agent.engines.ownfiles", *preload])
    return context


def start_forkserver(*preload: str) -> None:
    """Start the forkserver now (see ``_forkserver``), unless it runs already."""
    from multiprocessing import forkserver

    _forkserver(*preload)
    forkserver.ensure_running()


def _init(fn: Callable[[Any, int], Any], task: Any) -> None:
    global _FN, _TASK
    _FN, _TASK = fn, task
    import pyarrow as pa

    pa.set_cpu_count(1)  # one process per core: no nested thread pools
    tune_allocator()


def _call(index: int) -> Any:
    return _FN(_TASK, index)


class LocalEngine(Generic[T, R]):
    """Map ``fn(task, index)`` over block indices, in order: in this process for one worker
    (or fewer than ``POOL_MIN_BLOCKS`` blocks, where starting a pool costs more than it
    gains), else in a forkserver pool with ``workers * in_flight`` blocks in flight."""

    def __init__(self, workers: int = 1, in_flight: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.in_flight = in_flight

    def in_process(self, blocks: int) -> bool:
        """Whether ``blocks`` blocks run here rather than in a pool (see ``POOL_MIN_BLOCKS``)."""
        return self.workers == 1 or blocks < POOL_MIN_BLOCKS

    def start(self, blocks: int) -> None:
        """Start the pool's server now if ``blocks`` blocks will run in a pool, so that its
        imports (about 0.3 s) overlap the caller's own start-up instead of following it.

        The command line calls this before it imports the build; ``map`` reuses the server.
        Nothing is started for an in-process build.
        """
        if not self.in_process(blocks):
            start_forkserver()

    def map(self, fn: Callable[[T, int], R], task: T, indices: range) -> Generator[R, None, None]:
        if self.in_process(len(indices)):
            tune_allocator()
            for index in indices:
                yield fn(task, index)
            return
        context = _forkserver()
        workers = min(self.workers, len(indices))
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init, initargs=(fn, task)
        )
        try:
            yield from in_order(
                lambda index: pool.submit(_call, index),
                lambda future: future.result(),
                indices,
                workers * self.in_flight,
            )
        except BaseException:
            # Wait for the blocks already running: a worker writing its own files must be done
            # before the caller removes the staging directory.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
