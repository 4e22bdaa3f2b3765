"""Random streams, exact quotas and keyed permutations: the determinism toolkit.

Every field's random stream is derived from ``(seed, entity, field, block)`` (an id field's
also from the snapshot's name, see ``id_stream``), never from a shared sequential generator,
so a block's values do not depend on which worker ran it or on which other fields exist.
Shares become exact counts by the largest-remainder method, are spread over blocks by
sequential multivariate-hypergeometric draws (the same distribution a global shuffle would
give) and are shuffled within each block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

import numpy as np

__all__ = [
    "BlockStreams",
    "allocate_to_blocks",
    "block_labels",
    "id_stream",
    "largest_remainder",
    "name_key",
    "permute",
    "stream",
]

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def stream(seed: int, entity: str, field: str, block: int) -> np.random.Generator:
    """The random generator of one field in one block."""
    sequence = np.random.SeedSequence(
        entropy=seed, spawn_key=(name_key(entity), name_key(field), block)
    )
    return np.random.Generator(np.random.Philox(sequence))


def id_stream(seed: int, snapshot: str, entity: str, field: str, block: int) -> np.random.Generator:
    """The random generator of an id field in one block of the snapshot named ``snapshot``.

    Its entropy is ``(seed, name_key(snapshot))`` instead of the seed alone, so two snapshots
    with different names never share ids, even with the same plan and seed, while every other
    field (``stream``: the seed alone) keeps its values. Keyed on the name, not on the plan's
    hash, so ids do not move when the plan schema gains a field.
    """
    sequence = np.random.SeedSequence(
        entropy=(seed, name_key(snapshot)), spawn_key=(name_key(entity), name_key(field), block)
    )
    return np.random.Generator(np.random.Philox(sequence))


class BlockStreams:
    """The named random streams of one entity in one block of the snapshot ``snapshot``."""

    def __init__(self, seed: int, entity: str, block: int, snapshot: str) -> None:
        self.seed, self.entity, self.block, self.snapshot = seed, entity, block, snapshot

    def __call__(self, field: str) -> np.random.Generator:
        return stream(self.seed, self.entity, field, self.block)

    def ids(self, field: str) -> np.random.Generator:
        """An id field's stream: keyed on the snapshot name too, so names never share ids."""
        return id_stream(self.seed, self.snapshot, self.entity, field, self.block)


def largest_remainder(total: int, shares: Sequence[float]) -> np.ndarray:
    """Exact integer counts summing to ``total``, proportional to ``shares``.

    Each category gets the floor of its quota; the remaining units go to the largest
    fractional remainders, ties to the earlier category. Quotas are computed in decimal
    arithmetic on the shares' shortest float representation, so 0.29 x 100 is 29 exactly.
    """
    weights = [Decimal(repr(float(s))) for s in shares]
    weight_sum = sum(weights, Decimal(0))
    if total == 0 or weight_sum == 0:
        return np.zeros(len(weights), dtype=np.int64)
    quotas = [w * total / weight_sum for w in weights]
    floors = [int(q.to_integral_value(rounding=ROUND_FLOOR)) for q in quotas]
    left = total - sum(floors)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return np.array(floors, dtype=np.int64)


def allocate_to_blocks(
    counts: np.ndarray, block_sizes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Spread category ``counts`` over blocks of ``block_sizes`` (both summing to the same total).

    Returns an array of shape (blocks, categories). Block by block, the block's counts are a
    multivariate-hypergeometric draw from what is left: exactly the counts a uniformly random
    global shuffle of the labels would put in each block.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(block_sizes, dtype=np.int64)
    if counts.sum() != sizes.sum():
        raise ValueError("category counts and block sizes must have the same total")
    out = np.zeros((len(sizes), len(counts)), dtype=np.int64)
    left = counts.copy()
    for b, size in enumerate(sizes):
        if size == left.sum():
            out[b] = left
        elif size > 0:
            out[b] = rng.multivariate_hypergeometric(left, int(size), method="marginals")
        left -= out[b]
    return out


def block_labels(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category labels (0..k-1) with exactly ``counts[i]`` of label i, in random order."""
    labels = np.repeat(np.arange(len(counts), dtype=np.int32), np.asarray(counts, dtype=np.int64))
    rng.shuffle(labels)
    return labels


def _mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """SplitMix64 finalizer of ``x ^ key`` (vectorized, wrapping uint64 arithmetic)."""
    z = x ^ key
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(values: np.ndarray, domain: int, key: int, rounds: int = 6) -> np.ndarray:
    """A keyed bijection of [0, domain) applied to ``values`` (all < domain).

    A balanced Feistel network over the smallest even bit width covering ``domain``, with
    cycle walking back into range. Distinct inputs give distinct outputs: this is how
    licence numbers and VIN serials are unique by construction, not by luck.
    """
    if domain < 2:
        return np.zeros_like(values, dtype=np.uint64)
    bits = max(2, int(domain - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    mask = np.uint64((1 << half) - 1)
    keys = [np.uint64(name_key(f"{key}:{r}") & 0xFFFFFFFFFFFFFFFF) for r in range(rounds)]
    limit = np.uint64(domain)

    def once(x: np.ndarray) -> np.ndarray:
        left = x >> np.uint64(half)
        right = x & mask
        for k in keys:
            left, right = right, left ^ (_mix(right, k) & mask)
        return (left << np.uint64(half)) | right

    with np.errstate(over="ignore"):
        out = once(np.asarray(values, dtype=np.uint64))
        todo = out >= limit
        while todo.any():
            out[todo] = once(out[todo])
            todo = out >= limit
    return out
