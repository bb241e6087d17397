"""MMD statistic and tests: identical samples give no signal, shifted ones do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detectors.semantic import mmd
from distillguard.detectors.semantic.mmd import (
    NullTable,
    Reference,
    _distinct_rows,
    kernel,
    kernels,
    median_bandwidth,
    mmd2,
    permutation_pvalue,
    split_masks,
)


def _unit(
    rng: np.random.Generator, n: int, dim: int, centre: np.ndarray | None = None
) -> np.ndarray:
    points = rng.normal(size=(n, dim))
    if centre is not None:
        points = points * 0.3 + centre
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    dim=st.integers(2, 16),
    sigma=st.floats(0.1, 3.0),
)
def test_identical_samples_give_no_signal(seed: int, n: int, dim: int, sigma: float) -> None:
    x = _unit(np.random.default_rng(seed), n, dim)
    assert mmd2(x, x, sigma) <= 1e-9


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(8, 30))
def test_identical_samples_are_not_significant(seed: int, n: int) -> None:
    x = _unit(np.random.default_rng(seed), n, 8)
    _, pvalue = permutation_pvalue(x, x.copy(), median_bandwidth(x), permutations=50, seed=seed)
    assert pvalue > 0.2


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 30), m=st.integers(3, 30))
def test_symmetric(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = _unit(rng, n, 6), _unit(rng, m, 6)
    assert abs(mmd2(x, y, 1.0) - mmd2(y, x, 1.0)) < 1e-9


def test_shifted_distribution_is_significant_and_same_one_is_not() -> None:
    rng = np.random.default_rng(7)
    centre = np.zeros(16)
    centre[0] = 1.0
    reference = _unit(rng, 200, 16)
    same = _unit(rng, 40, 16)
    shifted = _unit(rng, 40, 16, centre=centre)
    sigma = median_bandwidth(reference)
    _, p_shifted = permutation_pvalue(shifted, reference, sigma, permutations=200)
    _, p_same = permutation_pvalue(same, reference, sigma, permutations=200)
    assert p_shifted <= 1 / 201 + 1e-12
    assert p_same > 0.01


def test_null_table_threshold_holds_its_false_positive_rate() -> None:
    """Random subsets of the reference distribution exceed the 1 - alpha quantile rarely."""
    rng = np.random.default_rng(11)
    reference = _unit(rng, 300, 12)
    sigma = median_bandwidth(reference)
    null = NullTable(reference, sigma, alpha=0.05, draws=200, seed=3)
    _, _, threshold = null.row(16)
    fresh = [mmd2(_unit(rng, 16, 12), reference, sigma) for _ in range(200)]
    assert np.mean(np.array(fresh) > threshold) < 0.15
    shifted_centre = np.zeros(12)
    shifted_centre[3] = 1.0
    assert mmd2(_unit(rng, 16, 12, centre=shifted_centre), reference, sigma) > threshold
    assert NullTable.bucket(16) == 16 and NullTable.bucket(17) == 32


def test_mmd_from_row_affinities_equals_the_direct_statistic() -> None:
    rng = np.random.default_rng(5)
    reference = _unit(rng, 300, 16)
    vectors = _unit(rng, 500, 16, centre=np.full(16, 0.3))
    fixed = Reference(reference, median_bandwidth(reference))
    affinity = fixed.affinity(vectors, chunk=128)
    for rows in (np.arange(0, 48), np.arange(100, 103), rng.choice(500, 40, replace=False)):
        direct = fixed.mmd2(vectors[rows])
        assert abs(fixed.mmd2_with(vectors[rows], affinity[rows]) - direct) < 1e-12


def test_reference_shortcuts_give_the_same_values_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    reference = _unit(rng, 120, 16)
    distinct = _unit(rng, 30, 16, centre=np.full(16, 0.3))
    vectors = distinct[rng.integers(0, 30, 200)]  # repeated rows, as in the frame
    fixed = Reference(reference, median_bandwidth(reference))
    # Each repeated row is computed once and copied: the same value as computing it alone.
    chunked = fixed.affinity(vectors, chunk=7)
    for row in range(0, 200, 17):
        assert chunked[row] == kernel(vectors[row : row + 1], reference, fixed.sigma).mean()
    x = vectors[:40]
    assert fixed.permutation_pvalue(x, permutations=60, seed=2) == permutation_pvalue(
        x, reference, fixed.sigma, permutations=60, seed=2
    )
    shared = NullTable.of(fixed, alpha=0.05, draws=50)
    own = NullTable(reference, fixed.sigma, alpha=0.05, draws=50)
    assert shared.row(16) == own.row(16)


def test_an_early_stop_never_changes_whether_a_test_reaches_alpha() -> None:
    rng = np.random.default_rng(11)
    reference = _unit(rng, 300, 8)
    fixed = Reference(reference, median_bandwidth(reference))
    centre = np.ones(8) / np.sqrt(8)
    alpha = 0.003
    for subject in (_unit(rng, 40, 8, centre), _unit(rng, 40, 8), reference[:40].copy()):
        full = fixed.permutation_pvalue(subject, permutations=400)
        early = fixed.permutation_pvalue(subject, permutations=400, stop_above=alpha)
        assert (full[1] <= alpha) == (early[1] <= alpha)
        assert early[0] == full[0]  # the statistic itself is never cut short
        if full[1] <= alpha:
            assert early == full  # a significant test counts every shuffle
        else:
            assert alpha < early[1] <= full[1]  # stopped: a lower bound above alpha


def test_split_masks_draw_what_one_permutation_per_split_draws() -> None:
    for total, n, width in ((856, 256, 400), (25, 5, 7), (3, 1, 2)):
        rng, expected = np.random.default_rng(4), np.zeros((total, width))
        for column in range(width):
            expected[rng.permutation(total)[:n], column] = 1.0
        after = rng.integers(0, 2**40, 3)
        shared = np.random.default_rng(4)
        assert np.array_equal(split_masks(shared, total, n, width), expected)
        assert np.array_equal(shared.integers(0, 2**40, 3), after)  # the same stream after


def test_batched_account_statistics_are_those_of_one_account_bit_for_bit() -> None:
    rng = np.random.default_rng(8)
    reference = _unit(rng, 200, 16)
    fixed = Reference(reference, median_bandwidth(reference))
    vectors = _unit(rng, 300, 16, centre=np.full(16, 0.2))
    affinity = fixed.affinity(vectors)
    for size in (2, 16, 48):
        rows = rng.integers(0, 300, (9, size))
        batched = fixed.mmd2_many(vectors[rows], affinity[rows])
        for index, sample_rows in enumerate(rows):
            one = fixed.mmd2_with(vectors[sample_rows], affinity[sample_rows])
            assert batched[index] == one
        assert np.array_equal(
            kernels(vectors[rows], 0.7)[3], kernel(vectors[rows[3]], vectors[rows[3]], 0.7)
        )


def test_batched_fleet_tests_give_the_same_statistics_and_pvalues() -> None:
    rng = np.random.default_rng(13)
    reference = _unit(rng, 150, 8)
    fixed = Reference(reference, median_bandwidth(reference))
    centre = np.ones(8) / np.sqrt(8)
    samples = [
        _unit(rng, 24, 8, centre),
        _unit(rng, 24, 8),
        reference[:24].copy(),
        _unit(rng, 40, 8, centre),
        _unit(rng, 5, 8),
        _unit(rng, 24, 8, centre * 0.5),
    ]
    for stop_above in (None, 0.003, 0.2):
        one_by_one = [
            fixed.permutation_pvalue(x, permutations=120, seed=3, stop_above=stop_above)
            for x in samples
        ]
        batched = fixed.permutation_pvalues(
            samples, permutations=120, seed=3, stop_above=stop_above, chunk_rows=50
        )
        assert batched == one_by_one


def test_distinct_rows_group_equal_rows_whatever_the_hash_says() -> None:
    rng = np.random.default_rng(3)
    distinct = _unit(rng, 50, 16)
    vectors = distinct[rng.integers(0, 50, 400)]
    first, where = _distinct_rows(vectors)
    assert len(first) == len(np.unique(vectors, axis=0))
    assert np.array_equal(vectors[first][where], vectors)
    odd = _unit(rng, 40, 3)[rng.integers(0, 40, 100)]  # 12-byte rows: no 8-byte words
    first, where = _distinct_rows(odd)
    assert np.array_equal(odd[first][where], odd) and len(first) == len(np.unique(odd, axis=0))


def test_distinct_rows_in_passes_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing and checking a few rows at a time groups the rows as one pass does."""
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 30, 16)[rng.integers(0, 30, 500)]
    whole = _distinct_rows(vectors)
    monkeypatch.setattr(mmd, "ROWS_PER_PASS", 7)
    in_passes = _distinct_rows(vectors)
    assert all(np.array_equal(a, b) for a, b in zip(whole, in_passes, strict=True))
