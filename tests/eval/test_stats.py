from __future__ import annotations

import math

import numpy as np
import pytest

from eval import stats


def test_overlap_of_identical_samples_is_one() -> None:
    x = np.random.default_rng(0).normal(0, 1, 300)
    assert stats.overlap_area(x, x) == pytest.approx(1.0, abs=0.01)


def test_overlap_of_disjoint_samples_is_zero() -> None:
    rng = np.random.default_rng(1)
    assert stats.overlap_area(rng.normal(0, 1, 200), rng.normal(50, 1, 200)) < 0.01


def test_overlap_of_constant_samples() -> None:
    assert stats.overlap_area([3.0] * 20, [3.0] * 30) == pytest.approx(1.0, abs=0.01)
    assert stats.overlap_area([0.0] * 20, [1.0] * 20) < 0.01


def test_overlap_of_shifted_normals_matches_theory() -> None:
    # Two unit normals one sd apart overlap by 2 * Phi(-0.5) = 0.617.
    rng = np.random.default_rng(2)
    oa = stats.overlap_area(rng.normal(0, 1, 3000), rng.normal(1, 1, 3000))
    assert oa == pytest.approx(2 * 0.5 * math.erfc(0.5 / math.sqrt(2)), abs=0.04)


def test_overlap_ignores_nan_and_needs_values() -> None:
    assert stats.overlap_area([1.0, 2.0, float("nan")], [1.0, 2.0]) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError):
        stats.overlap_area([], [1.0])


def test_yang_lerch_overlap_high_for_same_distribution_low_for_far() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, 200)
    assert stats.yang_lerch_overlap(ref, rng.normal(0, 1, 100)) > 0.85
    assert stats.yang_lerch_overlap(ref, rng.normal(10, 1, 100)) < 0.05


def test_kl_divergence_zero_for_same_positive_for_different() -> None:
    x = np.random.default_rng(4).normal(0, 1, 200)
    assert stats.kl_divergence(x, x) == pytest.approx(0.0, abs=1e-6)
    assert stats.kl_divergence(x, x + 2) > 0.5


def test_distances_are_pairwise_absolute_differences() -> None:
    assert sorted(stats.intra_set_distances([0.0, 1.0, 3.0]).tolist()) == [1.0, 2.0, 3.0]
    assert sorted(stats.inter_set_distances([0.0, 1.0], [2.0]).tolist()) == [1.0, 2.0]


def test_ranks_average_ties() -> None:
    assert stats.ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_monotone_and_reversed_and_constant() -> None:
    rho, p = stats.spearman([1, 2, 3, 4, 5], [2, 4, 8, 16, 32])
    assert rho == pytest.approx(1.0)
    rho, _ = stats.spearman([1, 2, 3, 4, 5], [5, 3, 2, 1, 0])
    assert rho == pytest.approx(-1.0)
    rho, p = stats.spearman([1, 2, 3, 4], [7, 7, 7, 7])
    assert math.isnan(rho) and p is None


def test_spearman_p_value_small_for_strong_large_for_noise() -> None:
    rng = np.random.default_rng(5)
    x = np.arange(40)
    _, p_strong = stats.spearman(x, x + rng.normal(0, 3, 40))
    _, p_noise = stats.spearman(x, rng.normal(0, 1, 40))
    assert p_strong is not None and p_strong < 1e-6
    assert p_noise is not None and p_noise > 0.01


def test_jensen_shannon_bounds() -> None:
    assert stats.jensen_shannon([1, 0], [1, 0]) == pytest.approx(0.0)
    assert stats.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert 0 < stats.jensen_shannon([0.5, 0.5], [0.9, 0.1]) < 1


def test_mean_pairwise_and_histogram() -> None:
    assert stats.mean_pairwise([[1, 0], [1, 0], [1, 0]]) == pytest.approx(0.0)
    assert stats.mean_pairwise([[1, 0], [0, 1]]) == pytest.approx(1.0)
    assert math.isnan(stats.mean_pairwise([[1, 0]]))
    h = stats.normalised_histogram([0.1, 0.2, 0.9], [0, 0.5, 1])
    assert h.tolist() == pytest.approx([2 / 3, 1 / 3])


def test_summary() -> None:
    s = stats.summary([1.0, 2.0, 3.0])
    assert s["mean"] == pytest.approx(2.0) and s["median"] == pytest.approx(2.0)
    assert math.isnan(stats.summary([])["mean"])
