"""Property tests of the guard's sketches: HyperLogLog and count-min."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.guard.sketches import CountMinSketch, HyperLogLog

keys = st.lists(st.text(min_size=1, max_size=12), max_size=300)


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=10**6))
@settings(max_examples=40, deadline=None)
def test_hll_estimate_is_within_five_standard_errors(n: int, offset: int) -> None:
    sketch = HyperLogLog(precision=10)
    for i in range(n):
        sketch.add(f"acct-{offset + i}")
    error = 1.04 / (1 << 5)  # 1.04 / sqrt(1024)
    assert abs(sketch.count() - n) <= max(2, 5 * error * n)


@given(keys)
@settings(max_examples=60, deadline=None)
def test_hll_adding_again_changes_nothing(items: list[str]) -> None:
    once, twice = HyperLogLog(), HyperLogLog()
    for item in items:
        once.add(item)
        twice.add(item)
        twice.add(item)
    assert once.count() == twice.count()


@given(keys, keys)
@settings(max_examples=60, deadline=None)
def test_hll_merge_counts_the_union(left: list[str], right: list[str]) -> None:
    a, b, union = HyperLogLog(), HyperLogLog(), HyperLogLog()
    for item in left:
        a.add(item)
        union.add(item)
    for item in right:
        b.add(item)
        union.add(item)
    assert a.merge(b).count() == union.count()


def test_hll_rejects_bad_precision_and_mixed_merges() -> None:
    with pytest.raises(ValueError):
        HyperLogLog(precision=2)
    with pytest.raises(ValueError):
        HyperLogLog(8).merge(HyperLogLog(10))


@given(st.lists(st.tuples(st.text(min_size=1, max_size=6), st.integers(1, 5)), max_size=400))
@settings(max_examples=60, deadline=None)
def test_count_min_never_undercounts_and_stays_within_its_bound(
    adds: list[tuple[str, int]],
) -> None:
    sketch = CountMinSketch(width=64, depth=4)
    truth: dict[str, int] = {}
    for key, count in adds:
        sketch.add(key, count)
        truth[key] = truth.get(key, 0) + count
    assert sketch.total == sum(truth.values())
    for key, count in truth.items():
        estimate = sketch.estimate(key)
        assert estimate >= count
        assert estimate <= sketch.total


def test_count_min_is_exact_without_collisions_and_refuses_negative_counts() -> None:
    sketch = CountMinSketch(width=4096, depth=4)
    assert sketch.add("wrapper-a") == 1
    assert sketch.add("wrapper-a", 4) == 5
    assert sketch.estimate("wrapper-b") == 0
    with pytest.raises(ValueError):
        sketch.add("wrapper-a", -1)
