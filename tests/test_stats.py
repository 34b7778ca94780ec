"""Unit tests of top-k, ranks, overlap, correlations and aggregation against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from seedcompare.stats import (
    STATISTICS,
    aggregate_per_seed,
    bootstrap_mean_ci,
    overlap_and_jaccard,
    rank_correlation,
    ranks_of,
    top_k,
)


def _top_k_by_sorting(scores, ids, k):
    valid = [i for i in range(len(scores)) if not np.isnan(scores[i])]
    return sorted(valid, key=lambda i: (-scores[i], ids[i]))[:k]


def test_top_k_orders_by_score():
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    ids = np.array([10, 20, 30, 40])
    assert top_k(scores, ids, 3).tolist() == [1, 3, 2]


def test_top_k_ties_prefer_smaller_id():
    scores = np.array([0.5, 0.5, 0.5, 0.9])
    ids = np.array([30, 10, 20, 40])
    assert top_k(scores, ids, 3).tolist() == [3, 1, 2]


def test_top_k_tie_at_boundary():
    scores = np.array([0.8, 0.5, 0.5, 0.5, 0.1])
    ids = np.array([1, 9, 3, 5, 2])
    assert top_k(scores, ids, 3).tolist() == [0, 2, 3]


def test_top_k_skips_nan():
    scores = np.array([np.nan, 0.2, np.nan, 0.3])
    ids = np.array([1, 2, 3, 4])
    assert top_k(scores, ids, 3).tolist() == [3, 1]


def test_top_k_all_nan():
    assert top_k(np.full(4, np.nan), np.arange(4), 2).size == 0


def test_top_k_matches_full_sort_random():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 60))
        # Few distinct values, so ties are frequent.
        scores = rng.integers(0, 5, size=n).astype(float)
        scores[rng.random(n) < 0.2] = np.nan
        ids = rng.permutation(1000)[:n]
        k = int(rng.integers(1, 15))
        assert top_k(scores, ids, k).tolist() == _top_k_by_sorting(scores, ids, k)


def test_ranks_match_full_sort():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 6, size=50).astype(float)
    scores[[3, 7]] = np.nan
    ids = rng.permutation(500)[:50]
    order = _top_k_by_sorting(scores, ids, 50)
    expected = {position: rank + 1 for rank, position in enumerate(order)}
    positions = np.arange(50)
    ranks = ranks_of(scores, ids, positions)
    for position in positions:
        if np.isnan(scores[position]):
            assert np.isnan(ranks[position])
        else:
            assert ranks[position] == expected[position]


def test_overlap_and_jaccard():
    overlap, jaccard = overlap_and_jaccard([1, 2, 3, 4], [3, 4, 5, 6])
    assert overlap == 2
    assert jaccard == pytest.approx(2 / 6)


def test_jaccard_of_empty_lists_is_nan():
    overlap, jaccard = overlap_and_jaccard([], [])
    assert overlap == 0
    assert np.isnan(jaccard)


def test_rank_correlation_matches_scipy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    x[5] = np.nan
    y[9] = np.nan
    result = rank_correlation(x, y)
    keep = ~np.isnan(x) & ~np.isnan(y)
    assert result.n == 38
    assert result.spearman == pytest.approx(scipy_stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-12)
    assert result.kendall == pytest.approx(scipy_stats.kendalltau(x[keep], y[keep]).statistic, abs=1e-12)
    assert result.reason is None


def test_rank_correlation_with_ties_uses_tau_b():
    x = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 4.0])
    y = np.array([2.0, 1.0, 1.0, 3.0, 4.0, 4.0])
    result = rank_correlation(x, y)
    assert result.kendall == pytest.approx(scipy_stats.kendalltau(x, y, variant="b").statistic)
    assert result.spearman == pytest.approx(scipy_stats.spearmanr(x, y).statistic)


def test_rank_correlation_too_few_rows():
    result = rank_correlation(np.array([1.0, 2.0, np.nan]), np.array([2.0, 1.0, 3.0]))
    assert np.isnan(result.spearman)
    assert np.isnan(result.kendall)
    assert "fewer than 3" in result.reason


def test_rank_correlation_constant_input():
    result = rank_correlation(np.array([1.0, 1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert np.isnan(result.spearman)
    assert "constant" in result.reason


def test_bootstrap_ci_contains_mean():
    values = np.random.default_rng(4).normal(loc=2.0, size=200)
    low, high = bootstrap_mean_ci(values, n_resamples=2000)
    assert low < values.mean() < high
    assert high - low < 0.5


def test_bootstrap_ci_is_deterministic():
    values = np.random.default_rng(5).normal(size=50)
    assert bootstrap_mean_ci(values, 1000, random_seed=3) == bootstrap_mean_ci(values, 1000, random_seed=3)


def test_bootstrap_ci_constant_values():
    assert bootstrap_mean_ci(np.full(10, 3.0)) == (3.0, 3.0)


def test_bootstrap_ci_single_value_is_nan():
    low, high = bootstrap_mean_ci(np.array([1.0]))
    assert np.isnan(low)
    assert np.isnan(high)


def test_aggregate_uses_ok_rows_only():
    per_seed = pd.DataFrame({
        "seed": [1, 2, 3, 4],
        "method_a": ["a"] * 4,
        "method_b": ["b"] * 4,
        "status": ["ok", "ok", "ok", "seed_missing"],
        **{statistic: [1.0, 2.0, 6.0, 100.0] for statistic in STATISTICS},
    })
    aggregate = aggregate_per_seed(per_seed, n_resamples=500)
    overlap = aggregate[aggregate["statistic"] == "overlap"].iloc[0]
    assert overlap["n"] == 3
    assert overlap["mean"] == pytest.approx(3.0)
    assert overlap["median"] == pytest.approx(2.0)
    assert overlap["ci_low"] <= overlap["mean"] <= overlap["ci_high"]
    assert len(aggregate) == len(STATISTICS)


def test_aggregate_ignores_nan_values():
    per_seed = pd.DataFrame({
        "seed": [1, 2, 3],
        "method_a": ["a"] * 3,
        "method_b": ["b"] * 3,
        "status": ["ok"] * 3,
        **{statistic: [0.5, np.nan, 0.7] for statistic in STATISTICS},
    })
    aggregate = aggregate_per_seed(per_seed, n_resamples=500)
    row = aggregate[aggregate["statistic"] == "kendall_pool"].iloc[0]
    assert row["n"] == 2
    assert row["mean"] == pytest.approx(0.6)
