"""Exact cosine top-k for many queries over a large, memory-mapped corpus.

The corpus is read in blocks of ``block_rows`` rows. Each block is multiplied, in float32, by
a block of normalized queries, and a running per-query candidate list is merged with
``np.argpartition``. Memory is bounded by ``block_rows`` x (number of queries), whatever the
corpus size.

Exactness: float32 scores are only used to *select* candidates. The candidates are rescored in
float64 exactly as :func:`seedcompare.scoring.cosine_score_matrix` does (dot / (norm x norm), rounded
to ``SCORE_DECIMALS`` decimals), and the
result is checked against the float32 rounding bound: for unit vectors of dimension d, a float32
dot product is off by at most gamma_d = d u / (1 - d u), u = 2**-24 (the standard rounding
bound of a floating-point inner product, as derived in Higham, "Accuracy and Stability of
Numerical Algorithms"). A row left out of the candidate list
cannot beat the k-th float64 score if that score exceeds the worst kept float32 score by more
than twice the bound. Queries that fail this check (many near-equal scores) are recomputed by a
full float64 pass, so the result always equals the float64 ordering: score descending, smaller
corpus id first on ties.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .stats import top_k as top_k_of_scores

log = logging.getLogger(__name__)

DEFAULT_BLOCK_ROWS = 16384
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
    step = 4096  # float64 copies of this many rows at a time, so the peak stays near one block
    for start in range(0, vectors.shape[0], block_rows):
        block = vectors[start:start + block_rows]
        for offset in range(0, block.shape[0], step):
            chunk = np.asarray(block[offset:offset + step], dtype=np.float64)
            norms[start + offset:start + offset + chunk.shape[0]] = _float64_norms(chunk)
    return norms


def _float64_norms(chunk: np.ndarray) -> np.ndarray:
    # One formula for every path, so that a row's norm has the same bits wherever it is computed.
    return np.sqrt(np.einsum("ij,ij->i", chunk, chunk))


def exact_cosines(vectors, norms: np.ndarray | None, rows: np.ndarray, query: np.ndarray,
                  query_norm: float) -> np.ndarray:
    """Return float64 cosines between ``query`` and the corpus ``rows`` (any order).

    ``norms`` are the :func:`row_norms` of ``vectors``; when None they are computed for
    ``rows`` only.
    """
    chunk = np.asarray(vectors[np.sort(rows)], dtype=np.float64)
    order = np.argsort(np.argsort(rows))
    chunk = chunk[order]
    row_norm = norms[rows] if norms is not None else _float64_norms(chunk)
    dots = chunk @ np.asarray(query, dtype=np.float64)
    return round_scores(dots / (row_norm * query_norm))


def _full_float64_top_k(vectors, norms, ids, query, query_norm, exclude_row, k, block_rows):
    scores = np.empty(vectors.shape[0], dtype=np.float64)
    query64 = np.asarray(query, dtype=np.float64)
    for start in range(0, vectors.shape[0], block_rows):
        chunk = np.asarray(vectors[start:start + block_rows], dtype=np.float64)
        chunk_norms = norms[start:start + chunk.shape[0]] if norms is not None else _float64_norms(chunk)
        scores[start:start + chunk.shape[0]] = round_scores(chunk @ query64 / (chunk_norms * query_norm))
    if exclude_row >= 0:
        scores[exclude_row] = np.nan
    rows = top_k_of_scores(scores, ids, k)
    return rows, scores[rows]


def _merge_all(best_scores, best_rows, scores, start, kept):
    """Merge a whole block into the candidate lists (used until every list is full)."""
    rows = np.broadcast_to(np.arange(start, start + scores.shape[1], dtype=np.int64), scores.shape)
    candidate_scores = np.concatenate([best_scores, scores], axis=1)
    candidate_rows = np.concatenate([best_rows, rows], axis=1)
    if candidate_scores.shape[1] > kept:
        keep = np.argpartition(-candidate_scores, kept - 1, axis=1)[:, :kept]
        candidate_scores = np.take_along_axis(candidate_scores, keep, axis=1)
        candidate_rows = np.take_along_axis(candidate_rows, keep, axis=1)
    return candidate_scores, candidate_rows


def _merge_above_threshold(best_scores, best_rows, scores, start, kept):
    """Merge, in place, only the block entries above each list's current worst score.

    After the first blocks few entries pass the threshold, so this avoids an argpartition over
    every block.
    """
    worst = best_scores.min(axis=1)
    query_index, column = np.nonzero(scores > worst[:, None])
    if query_index.size == 0:
        return
    boundaries = np.flatnonzero(np.diff(query_index)) + 1
    for columns, q in zip(np.split(column, boundaries), query_index[np.r_[0, boundaries]]):
        candidate_scores = np.concatenate([best_scores[q], scores[q, columns]])
        candidate_rows = np.concatenate([best_rows[q], columns.astype(np.int64) + start])
        keep = np.argpartition(-candidate_scores, kept - 1)[:kept]
        best_scores[q] = candidate_scores[keep]
        best_rows[q] = candidate_rows[keep]


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
    norms : float64 array, shape (n,), optional: precomputed :func:`row_norms` of ``vectors``;
        without them the corpus is read once and norms are computed per block.
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
    query_norms = np.linalg.norm(queries, axis=1)
    unit_queries = (queries / query_norms[:, None]).astype(np.float32)
    kept = min(n, k + (extra_candidates if extra_candidates is not None else max(k, 16)))

    best_scores = np.full((n_queries, 0), -np.inf, dtype=np.float32)
    best_rows = np.full((n_queries, 0), -1, dtype=np.int64)
    for start in range(0, n, block_rows):
        block = np.asarray(vectors[start:start + block_rows], dtype=np.float32)
        stop = start + block.shape[0]
        if norms is not None:
            inverse_norms = (1.0 / norms[start:stop]).astype(np.float32)
        else:
            # float32 norms only steer the selection; the error bound covers their rounding.
            inverse_norms = 1.0 / np.sqrt(np.einsum("ij,ij->i", block, block))
        scores = (unit_queries @ block.T) * inverse_norms
        inside = (exclude_rows >= start) & (exclude_rows < stop)
        scores[np.flatnonzero(inside), exclude_rows[inside] - start] = -np.inf
        if best_scores.shape[1] < kept:
            # Fill the lists from the first columns only, then let the threshold filter the
            # rest: an argpartition over a whole block would cost more than the product.
            head = min(scores.shape[1], max(kept, 4096))
            best_scores, best_rows = _merge_all(best_scores, best_rows, scores[:, :head], start, kept)
            if head < scores.shape[1] and best_scores.shape[1] == kept:
                _merge_above_threshold(best_scores, best_rows, scores[:, head:], start + head, kept)
            elif head < scores.shape[1]:
                best_scores, best_rows = _merge_all(best_scores, best_rows, scores[:, head:], start + head, kept)
        else:
            _merge_above_threshold(best_scores, best_rows, scores, start, kept)

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
    return block_ranks_batch(vectors, ids, norms, np.asarray(query)[None, :], np.array([exclude_row]),
                             [np.asarray(target_rows)], [np.asarray(target_scores)], block_rows)[0]


def write_neighbours(embedding_path, seeds: list[int], k: int, out_path, *,
                     block_rows: int = DEFAULT_BLOCK_ROWS, seed_batch: int = 1024) -> int:
    """Write the exact cosine top-k neighbours of each seed to a Parquet file.

    ``embedding_path`` is a folder with ``vectors.npy`` + ``ids.npy`` or a JSALT embedding folder
    (``embedding.f`` ...). Papers with a zero or non-finite vector are never neighbours. Seeds
    without a usable vector are skipped with a warning.

    The file has one row per (seed, neighbour): seed (int64), corpus_id (int64), score (float64
    cosine), rank (int64, 1-based). Returns the number of seeds written.
    """
    import pandas as pd

    from .config import MethodSpec
    from .corpus import InputDataError, open_vector_source, _missing_reasons

    embedding_path = Path(embedding_path)
    if (embedding_path / "embedding.f").exists():
        spec_format = "jsalt_dir"
    elif (embedding_path / "vectors.npy").exists():
        spec_format = "npy"
    else:
        raise InputDataError(
            f"{embedding_path}: not an embedding folder (expected vectors.npy + ids.npy, "
            "or a JSALT folder with embedding.f)")
    spec = MethodSpec("embedding", "Embedding", spec_format, str(embedding_path), (-1,))
    ids, vectors, rows, absent = open_vector_source(spec)
    usable = _missing_reasons(vectors, rows, absent, block_rows) == ""
    ids, rows = ids[usable], rows[usable]
    order = np.argsort(rows, kind="stable")  # read the corpus in file order
    ids, rows = ids[order], rows[order]
    # Rows that are absent or unusable must never be selected, so when the source has such rows
    # the search runs on a view of the usable rows only.
    if np.array_equal(rows, np.arange(vectors.shape[0])):
        corpus = vectors
    else:
        corpus = _RowSubset(vectors, rows)
    seeds = np.asarray(seeds, dtype=np.int64)
    position = {int(corpus_id): i for i, corpus_id in enumerate(ids.tolist())}
    found = np.array([int(s) in position for s in seeds], dtype=bool)
    if (~found).any():
        log.warning("%d seed(s) have no usable vector and are skipped: %s", int((~found).sum()),
                    ", ".join(map(str, seeds[~found][:20].tolist())))
    seed_rows = np.array([position[int(s)] for s in seeds[found]], dtype=np.int64)
    frames = []
    log.info("top-k: %d seeds against %d vectors of dimension %d, k=%d", seed_rows.size, ids.size,
             corpus.shape[1], k)
    for start in range(0, seed_rows.size, seed_batch):
        batch = seed_rows[start:start + seed_batch]
        result = block_top_k(corpus, ids, np.asarray(corpus[batch], dtype=np.float32), k,
                             exclude_rows=batch, block_rows=block_rows)
        valid = result.rows >= 0
        frames.append(pd.DataFrame({
            "seed": np.repeat(ids[batch], valid.sum(axis=1)),
            "corpus_id": ids[result.rows[valid]],
            "score": result.scores[valid],
            "rank": np.tile(np.arange(1, k + 1), (batch.size, 1))[valid],
        }))
        log.info("top-k: %d of %d seeds done", min(start + seed_batch, seed_rows.size), seed_rows.size)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"seed": [], "corpus_id": [], "score": [], "rank": []})
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    table.astype({"seed": "int64", "corpus_id": "int64", "score": "float64", "rank": "int64"}).to_parquet(
        out_path, index=False)
    return int(seed_rows.size)


class _RowSubset:
    """A read-only view of selected rows of a (memory-mapped) matrix, read block by block."""

    def __init__(self, matrix, rows: np.ndarray):
        self.matrix = matrix
        self.rows = rows
        self.shape = (rows.size, matrix.shape[1])
        self.dtype = matrix.dtype

    def __getitem__(self, index):
        return np.asarray(self.matrix[self.rows[index]])


def block_ranks_batch(vectors, ids: np.ndarray, norms: np.ndarray, queries: np.ndarray,
                      exclude_rows: np.ndarray, target_rows: list[np.ndarray],
                      target_scores: list[np.ndarray],
                      block_rows: int = DEFAULT_BLOCK_ROWS) -> list[np.ndarray]:
    """Return :func:`block_ranks` for several queries in one pass over the corpus.

    Parameters
    ----------
    queries : array, shape (q, d): raw query vectors.
    exclude_rows : int array, shape (q,): the row left out of each query's ordering, or -1.
    target_rows, target_scores : per query, the rows whose rank is wanted and their exact
        float64 cosines.

    Returns
    -------
    list of q int64 arrays, the 1-based ranks in the order of ``target_rows``.
    """
    n, dim = vectors.shape
    bound = float32_dot_error_bound(dim)
    queries = np.asarray(queries, dtype=np.float64)
    query_norms = np.linalg.norm(queries, axis=1)
    unit_queries = (queries / query_norms[:, None]).astype(np.float32)
    higher = [np.zeros(len(rows), dtype=np.int64) for rows in target_rows]
    for start in range(0, n, block_rows):
        block = np.asarray(vectors[start:start + block_rows], dtype=np.float32)
        stop = start + block.shape[0]
        scores = (unit_queries @ block.T) * (1.0 / norms[start:stop]).astype(np.float32)
        for q in range(queries.shape[0]):
            if len(target_rows[q]) == 0:
                continue
            row_scores = scores[q]
            if start <= exclude_rows[q] < stop:
                row_scores[exclude_rows[q] - start] = -np.inf
            order = np.argsort(row_scores)
            ordered = row_scores[order]
            targets = target_scores[q]
            above = np.searchsorted(ordered, (targets + bound).astype(np.float32), side="right")
            below = np.searchsorted(ordered, (targets - bound).astype(np.float32), side="left")
            higher[q] += ordered.size - above
            for t in np.flatnonzero(above > below):
                near = order[below[t]:above[t]] + start
                near = near[near != exclude_rows[q]]
                exact = exact_cosines(vectors, norms, near, queries[q], query_norms[q])
                higher[q][t] += np.count_nonzero(
                    (exact > targets[t]) | ((exact == targets[t]) & (ids[near] < ids[target_rows[q][t]])))
    return [counts + 1 for counts in higher]
