"""What every engine promises, and the bounded, in-order window they share.

An engine maps ``fn(task, index)`` over block indices and yields the results in block order,
whichever worker finished first, with at most a fixed number of blocks in flight — so the
writer sees the same sequence of blocks (and the manifest the same block digests) whatever
runs them, and memory does not grow with the row count.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Protocol, TypeVar

__all__ = ["ENGINES", "Engine", "in_order"]

ENGINES = ("local", "dask")
"""Engine names accepted by ``--engine`` and the workspace setting."""

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F")


class Engine(Protocol[T, R]):
    """Runs ``fn(task, index)`` for each index; results come back in index order.

    ``map`` is a generator: it starts its workers on the first ``next`` and stops them when
    exhausted or closed (callers wrap it in ``contextlib.closing``).
    """

    def in_process(self, blocks: int) -> bool:
        """Whether ``blocks`` blocks would run in this process (else workers write their own
        files: ``engines.ownfiles``)."""
        ...

    def start(self, blocks: int) -> None:
        """Start what the workers of a ``blocks``-block build need before ``map`` is called
        (the command line calls it before it imports the build, so the two overlap)."""
        ...

    def map(
        self, fn: Callable[[T, int], R], task: T, indices: range
    ) -> Generator[R, None, None]: ...


def in_order(
    submit: Callable[[int], F],
    result: Callable[[F], R],
    indices: range,
    window: int,
) -> Iterator[R]:
    """Submit up to ``window`` indices ahead, yield results strictly in index order.

    ``submit(index)`` starts one unit of work and returns a handle; ``result(handle)`` waits
    for it. Each time the oldest result is taken, the next index is submitted, so at most
    ``window`` results (plus the one being consumed) exist at once.
    """
    pending: deque[F] = deque()
    todo = iter(indices)
    for index in itertools.islice(todo, max(1, window)):
        pending.append(submit(index))
    while pending:
        value = result(pending.popleft())
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(submit(nxt))
        yield value
