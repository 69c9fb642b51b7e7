from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from shared_core.volume_files.stream.leases import assignment


def test_round_robin_over_sorted_workers() -> None:
    assert assignment(8, ["w-b", "w-a", "w-c"]) == {
        "w-a": {0, 3, 6},
        "w-b": {1, 4, 7},
        "w-c": {2, 5},
    }


def test_one_worker_owns_everything() -> None:
    assert assignment(8, ["solo"]) == {"solo": set(range(8))}


def test_more_workers_than_partitions_leaves_some_idle() -> None:
    out = assignment(2, ["a", "b", "c", "d"])
    assert out == {"a": {0}, "b": {1}, "c": set(), "d": set()}


def test_no_workers_and_no_partitions() -> None:
    assert assignment(8, []) == {}
    assert assignment(0, ["a", "b"]) == {"a": set(), "b": set()}


def test_duplicate_members_count_once() -> None:
    assert assignment(4, ["a", "b", "a"]) == {"a": {0, 2}, "b": {1, 3}}


workers = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=12)


@given(st.integers(1, 64), workers)
def test_every_partition_once_and_balanced_within_one(partitions: int, live: list[str]) -> None:
    out = assignment(partitions, live)
    assert set(out) == set(live)
    owned = [p for parts in out.values() for p in parts]
    assert sorted(owned) == list(range(partitions))  # each exactly once
    sizes = [len(parts) for parts in out.values()]
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == partitions


@given(st.integers(0, 64), workers, st.randoms(use_true_random=False))
def test_deterministic_whatever_the_order(
    partitions: int, live: list[str], rnd: random.Random
) -> None:
    shuffled = list(live)
    rnd.shuffle(shuffled)
    assert assignment(partitions, shuffled) == assignment(partitions, live)
