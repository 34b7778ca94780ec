"""Exact cosine top-k for many queries over a large, memory-mapped corpus.

The corpus is read in blocks of ``block_rows`` rows. Each block is multiplied, in float32, by
a block of normalized queries, and a running per-query candidate list is merged with
``np.argpartition``. Memory is bounded by ``block_rows`` x (number of queries), whatever the
corpus size.

Exactness: float32 scores are only used to *select* candidates. The candidates are rescored in
float64 exactly as :func:`seedcompare.scoring.cosine_scores` does (dot / (norm x norm), rounded
to ``SCORE_DECIMALS`` decimals), and the
result is checked against the float32 rounding bound: for unit vectors of dimension d, a float32
dot product is off by at most gamma_d = d u / (1 - d u), u = 2**-24 (Higham, "Accuracy and
Stability of Numerical Algorithms", 2nd ed., section 3.1). A row left out of the candidate list
cannot beat the k-th float64 score if that score exceeds the worst kept float32 score by more
than twice the bound. Queries that fail this check (many near-equal scores) are recomputed by a
full float64 pass, so the result always equals the float64 ordering: score descending, smaller
corpus id first on ties.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .stats import top_k as top_k_of_scores

log = logging.getLogger(__name__)

DEFAULT_BLOCK_ROWS = 65536
# Cosines are rounded to this many decimals. Two BLAS kernels can give the same dot product
# different last bits (by row position or batch size), so without rounding duplicate vectors
# would not tie exactly and the smaller-id tie-break would depend on how a score was computed.
SCORE_DECIMALS = 12


def round_scores(scores):
    """Round float64 cosines to ``SCORE_DECIMALS`` decimals (NaN stays NaN)."""
    return np.round(scores, SCORE_DECIMALS)


def float32_dot_error_bound(dim: int) -> float:
    """Return a bound on |float32 cosine - exact cosine| for two unit vectors of length ``dim``.

    Twice gamma_d covers the dot product and the normalization of both vectors; a small
    absolute term covers the final rounding of values near 1.
    """
    unit_roundoff = 2.0 ** -24
    gamma = dim * unit_roundoff / (1.0 - dim * unit_roundoff)
    return 2.0 * gamma + 1e-6 + 10.0 ** -SCORE_DECIMALS


@dataclass
class TopKResult:
    """Top-k lists of several queries.

    rows : int64 array, shape (n_queries, k): corpus row positions, best first; -1 pads a list
        when fewer than k candidates exist.
    scores : float64 array, shape (n_queries, k): exact float64 cosines; NaN where padded.
    n_fallback : number of queries recomputed by a full float64 pass.
    """

    rows: np.ndarray
    scores: np.ndarray
    n_fallback: int


def row_norms(vectors, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Return the float64 L2 norm of every row of ``vectors`` (any float dtype, memmap ok)."""
    norms = np.empty(vectors.shape[0], dtype=np.float64)
    for start in range(0, vectors.shape[0], block_rows):
        chunk = np.asarray(vectors[start:start + block_rows], dtype=np.float64)
        norms[start:start + block_rows] = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))
    return norms


def exact_cosines(vectors, norms: np.ndarray, rows: np.ndarray, query: np.ndarray,
                  query_norm: float) -> np.ndarray:
    """Return float64 cosines between ``query`` and the corpus ``rows`` (any order)."""
    chunk = np.asarray(vectors[np.sort(rows)], dtype=np.float64)
    order = np.argsort(np.argsort(rows))
    dots = chunk[order] @ np.asarray(query, dtype=np.float64)
    return round_scores(dots / (norms[rows] * query_norm))


def _full_float64_top_k(vectors, norms, ids, query, query_norm, exclude_row, k, block_rows):
    scores = np.empty(vectors.shape[0], dtype=np.float64)
    query64 = np.asarray(query, dtype=np.float64)
    for start in range(0, vectors.shape[0], block_rows):
        chunk = np.asarray(vectors[start:start + block_rows], dtype=np.float64)
        scores[start:start + chunk.shape[0]] = round_scores(
            chunk @ query64 / (norms[start:start + chunk.shape[0]] * query_norm))
    if exclude_row >= 0:
        scores[exclude_row] = np.nan
    rows = top_k_of_scores(scores, ids, k)
    return rows, scores[rows]


def block_top_k(vectors, ids: np.ndarray, queries: np.ndarray, k: int, *,
                exclude_rows: np.ndarray | None = None, norms: np.ndarray | None = None,
                block_rows: int = DEFAULT_BLOCK_ROWS, extra_candidates: int | None = None) -> TopKResult:
    """Find the exact cosine top-k corpus rows of every query.

    Parameters
    ----------
    vectors : array, shape (n, d), float32 or float16 (a memmap is read block by block).
        Rows must be usable vectors: finite and non-zero.
    ids : int64 array, shape (n,): corpus ids, the tie-break key (smaller first).
    queries : array, shape (q, d): raw query vectors (normalized here), finite and non-zero.
    k : list length.
    exclude_rows : int array, shape (q,), optional: a corpus row to leave out per query (the
        seed itself), or -1.
    norms : float64 array, shape (n,), optional: precomputed :func:`row_norms` of ``vectors``.
    block_rows : corpus rows per block; memory is about block_rows x q x 4 bytes per block.
    extra_candidates : candidates kept beyond k during the float32 pass (default max(k, 16)).

    Returns
    -------
    TopKResult
    """
    n, dim = vectors.shape
    queries = np.asarray(queries, dtype=np.float64)
    n_queries = queries.shape[0]
    if exclude_rows is None:
        exclude_rows = np.full(n_queries, -1, dtype=np.int64)
    if norms is None:
        norms = row_norms(vectors, block_rows)
    query_norms = np.linalg.norm(queries, axis=1)
    unit_queries = (queries / query_norms[:, None]).astype(np.float32)
    kept = min(n, k + (extra_candidates if extra_candidates is not None else max(k, 16)))

    best_scores = np.full((n_queries, 0), -np.inf, dtype=np.float32)
    best_rows = np.full((n_queries, 0), -1, dtype=np.int64)
    inverse_norms = (1.0 / norms).astype(np.float32)
    for start in range(0, n, block_rows):
        block = np.asarray(vectors[start:start + block_rows], dtype=np.float32)
        stop = start + block.shape[0]
        scores = (unit_queries @ block.T) * inverse_norms[start:stop]
        inside = (exclude_rows >= start) & (exclude_rows < stop)
        scores[np.flatnonzero(inside), exclude_rows[inside] - start] = -np.inf
        candidate_scores = np.concatenate([best_scores, scores], axis=1)
        candidate_rows = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(start, stop, dtype=np.int64), scores.shape)], axis=1)
        if candidate_scores.shape[1] > kept:
            keep = np.argpartition(-candidate_scores, kept - 1, axis=1)[:, :kept]
            candidate_scores = np.take_along_axis(candidate_scores, keep, axis=1)
            candidate_rows = np.take_along_axis(candidate_rows, keep, axis=1)
        best_scores, best_rows = candidate_scores, candidate_rows

    bound = float32_dot_error_bound(dim)
    result_rows = np.full((n_queries, k), -1, dtype=np.int64)
    result_scores = np.full((n_queries, k), np.nan)
    n_fallback = 0
    for q in range(n_queries):
        finite = np.isfinite(best_scores[q])
        rows = best_rows[q][finite]
        exact = exact_cosines(vectors, norms, rows, queries[q], query_norms[q])
        order = np.lexsort((ids[rows], -exact))[:k]
        chosen_rows, chosen_scores = rows[order], exact[order]
        pool_size = n - (1 if exclude_rows[q] >= 0 else 0)
        complete = rows.size == pool_size  # every candidate was kept, nothing can be missed
        worst_kept = float(best_scores[q][finite].min()) if rows.size else -np.inf
        safe = chosen_scores.size == k and chosen_scores[-1] > worst_kept + bound
        if not (complete or safe):
            n_fallback += 1
            chosen_rows, chosen_scores = _full_float64_top_k(
                vectors, norms, ids, queries[q], query_norms[q], exclude_rows[q], k, block_rows)
        result_rows[q, :chosen_rows.size] = chosen_rows
        result_scores[q, :chosen_scores.size] = chosen_scores
    if n_fallback:
        log.info("top-k: %d of %d queries needed a full float64 pass (near-equal scores)", n_fallback, n_queries)
    return TopKResult(result_rows, result_scores, n_fallback)


def block_ranks(vectors, ids: np.ndarray, norms: np.ndarray, query: np.ndarray, exclude_row: int,
                target_rows: np.ndarray, target_scores: np.ndarray,
                block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Return the 1-based rank of each target row in the query's full float64 ordering.

    The rank counts corpus rows (other than ``exclude_row``) whose float64 cosine is higher, or
    equal with a smaller corpus id. Float32 scores decide every row farther than the error
    bound from a target score; rows within the bound are rescored in float64.

    Parameters
    ----------
    target_rows : int array, shape (t,): corpus rows whose rank is wanted.
    target_scores : float64 array, shape (t,): their exact cosines (from :func:`exact_cosines`).

    Returns
    -------
    int64 array, shape (t,).
    """
    n, dim = vectors.shape
    bound = float32_dot_error_bound(dim)
    query = np.asarray(query, dtype=np.float64)
    query_norm = float(np.linalg.norm(query))
    unit_query = (query / query_norm).astype(np.float32)
    inverse_norms = (1.0 / norms).astype(np.float32)
    higher = np.zeros(target_rows.size, dtype=np.int64)
    for start in range(0, n, block_rows):
        block = np.asarray(vectors[start:start + block_rows], dtype=np.float32)
        stop = start + block.shape[0]
        scores = (block @ unit_query) * inverse_norms[start:stop]
        if start <= exclude_row < stop:
            scores[exclude_row - start] = -np.inf
        for t, target_score in enumerate(target_scores):
            higher[t] += np.count_nonzero(scores > target_score + bound)
            near = np.flatnonzero(np.abs(scores - target_score) <= bound) + start
            near = near[near != exclude_row]
            if near.size:
                exact = exact_cosines(vectors, norms, near, query, query_norm)
                higher[t] += np.count_nonzero(
                    (exact > target_score) | ((exact == target_score) & (ids[near] < ids[target_rows[t]])))
    return higher + 1
