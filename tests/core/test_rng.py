"""Exact quotas, block allocation and keyed permutations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from esdh_agent.core.rng import (
    allocate_to_blocks,
    block_labels,
    id_stream,
    largest_remainder,
    permute,
    stream,
)


def test_largest_remainder_is_exact_on_decimal_shares() -> None:
    assert largest_remainder(100, [0.29, 0.71]).tolist() == [29, 71]
    assert largest_remainder(200, [0.7, 0.3]).tolist() == [140, 60]
    assert largest_remainder(10, [1 / 3, 1 / 3, 1 / 3]).tolist() == [4, 3, 3]
    assert largest_remainder(7, [0.0, 1.0]).tolist() == [0, 7]


@given(
    total=st.integers(0, 10**7),
    shares=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8).filter(
        lambda s: sum(s) > 0
    ),
)
def test_largest_remainder_sums_and_stays_within_one_of_the_quota(
    total: int, shares: list[float]
) -> None:
    counts = largest_remainder(total, shares)
    assert counts.sum() == total
    quotas = np.array(shares) / sum(shares) * total
    assert np.all(np.abs(counts - quotas) < 1 + 1e-6)


@given(
    counts=st.lists(st.integers(0, 500), min_size=1, max_size=6),
    n_blocks=st.integers(1, 9),
    seed=st.integers(0, 2**32),
)
def test_allocation_keeps_category_and_block_totals(
    counts: list[int], n_blocks: int, seed: int
) -> None:
    total = sum(counts)
    sizes = np.full(n_blocks, total // n_blocks)
    sizes[-1] += total - sizes.sum()
    out = allocate_to_blocks(np.array(counts), sizes, np.random.default_rng(seed))
    assert out.sum(axis=0).tolist() == counts
    assert out.sum(axis=1).tolist() == sizes.tolist()
    assert (out >= 0).all()


def test_block_labels_realize_counts_exactly() -> None:
    labels = block_labels(np.array([3, 0, 5]), np.random.default_rng(1))
    assert np.bincount(labels, minlength=3).tolist() == [3, 0, 5]


@settings(max_examples=50)
@given(domain=st.integers(2, 10**9), key=st.integers(0, 2**63), n=st.integers(1, 2000))
def test_permute_is_a_bijection_into_the_domain(domain: int, key: int, n: int) -> None:
    values = np.arange(min(n, domain), dtype=np.uint64)
    out = permute(values, domain, key)
    assert (out < domain).all()
    assert len(np.unique(out)) == len(values)


def test_permute_whole_small_domain_is_a_permutation() -> None:
    out = permute(np.arange(1000, dtype=np.uint64), 1000, key=7)
    assert sorted(out.tolist()) == list(range(1000))


def test_streams_depend_on_every_part_of_their_key() -> None:
    base = stream(1, "persons", "first_name", 0).integers(0, 2**62, size=4).tolist()
    assert base == stream(1, "persons", "first_name", 0).integers(0, 2**62, size=4).tolist()
    for other in (
        stream(2, "persons", "first_name", 0),
        stream(1, "vehicles", "first_name", 0),
        stream(1, "persons", "last_name", 0),
        stream(1, "persons", "first_name", 1),
    ):
        assert other.integers(0, 2**62, size=4).tolist() != base


def test_id_streams_depend_on_the_snapshot_name_and_the_seed() -> None:
    def draw(generator: np.random.Generator) -> list[int]:
        return [int(x) for x in generator.integers(0, 2**62, size=4)]

    base = draw(id_stream(1, "v0.1", "persons", "person_id", 0))
    assert base == draw(id_stream(1, "v0.1", "persons", "person_id", 0))
    assert base != draw(stream(1, "persons", "person_id", 0))  # not the seed-only stream
    for other in (
        id_stream(2, "v0.1", "persons", "person_id", 0),
        id_stream(1, "v0.1-1a2b3c4d", "persons", "person_id", 0),
        id_stream(1, "v0.1", "vehicles", "person_id", 0),
        id_stream(1, "v0.1", "persons", "vehicle_id", 0),
        id_stream(1, "v0.1", "persons", "person_id", 1),
    ):
        assert draw(other) != base
