"""Top-k selection, ranks, overlap and rank-correlation statistics, and their aggregation.

Conventions shared by every function here:

* Scores are float64 cosines; NaN marks a paper that is missing for the method. NaN scores are
  never ranked and never selected.
* Ties are broken by the smaller corpus id first, so every ordering is total and reproducible.
* Ranks are 1-based positions in that ordering over the whole candidate pool.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

MIN_CORRELATION_ROWS = 3
# Resamples (and jackknife samples) evaluated per vectorized call of scipy.stats.bootstrap, so
# memory stays near BOOTSTRAP_BATCH x seeds values instead of n_resamples x seeds + seeds^2.
BOOTSTRAP_BATCH = 500

STATISTICS = ("overlap", "jaccard", "spearman_union", "kendall_union", "spearman_pool", "kendall_pool")


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the k highest scores, best first.

    Parameters
    ----------
    scores : float array, shape (n,); NaN entries are never selected.
    ids : int64 array, shape (n,); the tie-break key (smaller id first).
    k : number of positions to return; fewer when fewer than k scores are finite.

    Returns
    -------
    int64 array of positions into ``scores``, ordered by (score descending, id ascending).

    Notes
    -----
    Runs in O(n + k log k): ``np.partition`` finds the k-th largest score t, every score above
    t is taken, and the remaining places go to the scores equal to t with the smallest ids.
    """
    valid = np.flatnonzero(~np.isnan(scores))
    if k <= 0 or valid.size == 0:
        return np.empty(0, dtype=np.int64)
    if valid.size > k:
        valid_scores = scores[valid]
        threshold = np.partition(valid_scores, valid.size - k)[valid.size - k]
        above = valid[valid_scores > threshold]
        tied = valid[valid_scores == threshold]
        tied = tied[np.argsort(ids[tied], kind="stable")][: k - above.size]
        valid = np.concatenate([above, tied])
    order = np.lexsort((ids[valid], -scores[valid]))
    return valid[order].astype(np.int64)


def ranks_of(scores: np.ndarray, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the 1-based rank of each position in the full (score desc, id asc) ordering.

    Parameters
    ----------
    scores, ids : arrays of shape (n,) as in :func:`top_k`.
    positions : int array of positions whose rank is wanted.

    Returns
    -------
    float array, shape (len(positions),): the rank, or NaN where the score is NaN.
    """
    finite = ~np.isnan(scores)
    descending = np.sort(-scores[finite])
    ranks = np.full(len(positions), np.nan)
    for i, position in enumerate(positions):
        score = scores[position]
        if np.isnan(score):
            continue
        higher = np.searchsorted(descending, -score, side="left")
        equal = np.searchsorted(descending, -score, side="right") - higher
        tied_before = 0
        if equal > 1:
            tied_before = np.count_nonzero(finite & (scores == score) & (ids < ids[position]))
        ranks[i] = higher + tied_before + 1
    return ranks


def overlap_and_jaccard(top_a, top_b) -> tuple[int, float]:
    """Return |A ∩ B| and |A ∩ B| / |A ∪ B| for two collections of corpus ids.

    The Jaccard index is NaN when both collections are empty.
    """
    a, b = set(np.asarray(top_a).tolist()), set(np.asarray(top_b).tolist())
    union = len(a | b)
    overlap = len(a & b)
    return overlap, (overlap / union if union else float("nan"))


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho and Kendall's tau-b of paired scores, or NaN with the reason."""

    spearman: float
    kendall: float
    n: int
    reason: str | None


def rank_correlation(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Compute Spearman's rho and Kendall's tau-b between two score vectors.

    Parameters
    ----------
    x, y : float arrays of equal shape (n,). Rows where either value is NaN are dropped.

    Returns
    -------
    Correlation
        ``n`` is the number of rows with both scores. With fewer than 3 such rows, or when
        either side is constant (the correlation is undefined), both coefficients are NaN and
        ``reason`` gives the cause; otherwise ``reason`` is None. Ties get average ranks (Spearman)
        and the tau-b correction (Kendall), as in scipy.stats.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[both], y[both]
    n = int(x.size)
    if n < MIN_CORRELATION_ROWS:
        return Correlation(np.nan, np.nan, n, f"fewer than {MIN_CORRELATION_ROWS} rows with both scores (n={n})")
    if np.all(x == x[0]) or np.all(y == y[0]):
        return Correlation(np.nan, np.nan, n, f"constant scores over the {n} rows")
    spearman = scipy_stats.spearmanr(x, y).statistic
    kendall = scipy_stats.kendalltau(x, y, variant="b").statistic
    return Correlation(float(spearman), float(kendall), n, None)


def bootstrap_mean_ci(values, n_resamples: int = 9999, confidence_level: float = 0.95,
                      random_seed: int = 0) -> tuple[float, float]:
    """Return a bootstrap confidence interval of the mean (BCa, scipy.stats.bootstrap).

    NaN values are dropped first. With fewer than 2 values the interval is (NaN, NaN). When
    every value is equal, BCa is undefined because the bootstrap distribution is degenerate,
    so the interval is that value on both ends.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        # BCa warns and returns NaN on near-degenerate resamples; fall back to percentile then.
        warnings.simplefilter("ignore", category=scipy_stats.DegenerateDataWarning)
        result = scipy_stats.bootstrap(
            (values,), np.mean, n_resamples=n_resamples, confidence_level=confidence_level,
            method="BCa", rng=np.random.default_rng(random_seed), batch=BOOTSTRAP_BATCH,
        )
        low, high = result.confidence_interval
        if np.isnan(low) or np.isnan(high):
            result = scipy_stats.bootstrap(
                (values,), np.mean, n_resamples=n_resamples, confidence_level=confidence_level,
                method="percentile", rng=np.random.default_rng(random_seed), batch=BOOTSTRAP_BATCH,
            )
            low, high = result.confidence_interval
    return float(low), float(high)


def aggregate_per_seed(per_seed: pd.DataFrame, n_resamples: int = 9999,
                       confidence_level: float = 0.95, random_seed: int = 0) -> pd.DataFrame:
    """Aggregate per-seed statistics over seeds, for every method pair.

    Parameters
    ----------
    per_seed : one row per (seed, method pair) with the columns method_a, method_b, status and
        the columns named in ``STATISTICS``. Only rows with status "ok" are aggregated.

    Returns
    -------
    DataFrame with one row per (method_a, method_b, statistic) and the columns n (seeds with a
    non-NaN value), mean, median, ci_low, ci_high (bootstrap CI of the mean at
    ``confidence_level``) and confidence_level.
    """
    rows = []
    usable = per_seed[per_seed["status"] == "ok"]
    pairs = per_seed[["method_a", "method_b"]].drop_duplicates().itertuples(index=False)
    for method_a, method_b in pairs:
        pair_rows = usable[(usable["method_a"] == method_a) & (usable["method_b"] == method_b)]
        for statistic in STATISTICS:
            values = pair_rows[statistic].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            low, high = bootstrap_mean_ci(values, n_resamples, confidence_level, random_seed)
            rows.append({
                "method_a": method_a,
                "method_b": method_b,
                "statistic": statistic,
                "n": int(values.size),
                "mean": float(values.mean()) if values.size else np.nan,
                "median": float(np.median(values)) if values.size else np.nan,
                "ci_low": low,
                "ci_high": high,
                "confidence_level": confidence_level,
            })
    return pd.DataFrame(rows)
