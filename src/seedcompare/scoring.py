"""Score every candidate of each seed under every method, and compute the per-seed statistics.

For a seed s and a method m, score_m(s, c) is the cosine between the two vectors of m, computed
in float64 and rounded to 12 decimals (so that duplicate vectors tie exactly). The candidate pool of the local backend is every corpus paper except the seed.
A paper without a usable vector in m has score NaN: it is never ranked or selected, and it is
counted in ``missing_<m>``.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .corpus import MethodVectors
from .stats import (
    STATISTICS,
    Correlation,
    overlap_and_jaccard,
    rank_correlation,
    ranks_of,
    top_k,
)
from .topk import (
    DEFAULT_BLOCK_ROWS,
    _RowSubset,
    block_ranks,
    block_ranks_batch,
    block_top_k,
    exact_cosines,
    round_scores,
    row_norms,
)

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_SEED_MISSING = "seed_missing"
STATUS_FAILED = "failed"
POOL_STATISTICS_OFF = "pool statistics are off (scoring.pool_statistics: false)"


@dataclass
class AlignedMethod:
    """One method's usable vectors mapped onto the corpus rows.

    ``corpus_rows[i]`` is the corpus row of vector i. ``row_of_corpus[j]`` is the vector row of
    corpus row j, or -1 where the paper is missing for the method.
    """

    name: str
    vectors: np.ndarray  # float32 or float16, shape (n_usable, d), possibly memory-mapped
    norms: np.ndarray  # float64, shape (n_usable,)
    corpus_rows: np.ndarray  # int64, shape (n_usable,)
    row_of_corpus: np.ndarray  # int64, shape (n_corpus,)
    ids: np.ndarray  # int64, shape (n_usable,): corpus ids of the vectors


def align_method(name: str, method: MethodVectors, corpus_ids: np.ndarray,
                 block_rows: int = DEFAULT_BLOCK_ROWS) -> AlignedMethod:
    """Map ``method``'s usable vectors onto ``corpus_ids`` (sorted, unique int64).

    Vectors of papers outside the corpus are left out (the S2 backend's corpus is only the
    seeds and their candidates, while a precomputed embedding may list many more papers).
    """
    vectors, ids = method.vectors, method.ids
    in_corpus = np.isin(ids, corpus_ids)
    if not in_corpus.all():
        kept = np.flatnonzero(in_corpus)
        vectors, ids = _RowSubset(vectors, kept), ids[kept]
    corpus_rows = np.searchsorted(corpus_ids, ids).astype(np.int64)
    row_of_corpus = np.full(corpus_ids.size, -1, dtype=np.int64)
    row_of_corpus[corpus_rows] = np.arange(ids.size)
    return AlignedMethod(name, vectors, row_norms(vectors, block_rows), corpus_rows, row_of_corpus, ids)


def cosine_score_matrix(method: AlignedMethod, seed_rows: np.ndarray, n_corpus: int,
                        block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Return float64 cosines of the corpus papers ``seed_rows`` against every corpus paper.

    Returns an array of shape (len(seed_rows), n_corpus), NaN where either paper is missing
    for the method. Memory: 8 x len(seed_rows) x n_corpus bytes.
    """
    scores = np.full((len(seed_rows), n_corpus), np.nan)
    vector_rows = method.row_of_corpus[seed_rows]
    present = np.flatnonzero(vector_rows >= 0)
    if present.size == 0:
        return scores
    seeds = np.asarray(method.vectors[vector_rows[present]], dtype=np.float64)
    seed_norms = method.norms[vector_rows[present]]
    for start in range(0, method.corpus_rows.size, block_rows):
        chunk = np.asarray(method.vectors[start:start + block_rows], dtype=np.float64)
        stop = start + chunk.shape[0]
        cosines = round_scores((seeds @ chunk.T) / np.outer(seed_norms, method.norms[start:stop]))
        scores[np.ix_(present, method.corpus_rows[start:stop])] = cosines
    return scores


class SeedMethodScores:
    """One seed's scores under one method: its top-k, and scores and ranks on request.

    With ``full`` scores (shape (n_corpus,), NaN for missing papers and the seed) everything is
    read from that array. Without them (pool statistics off), scores of the requested papers
    are computed exactly in float64 and ranks by a blocked counting pass over the corpus.
    """

    def __init__(self, method: AlignedMethod, seed_row: int, corpus_ids: np.ndarray,
                 top: np.ndarray, full: np.ndarray | None, block_rows: int = DEFAULT_BLOCK_ROWS):
        self.method = method
        self.seed_row = seed_row
        self.corpus_ids = corpus_ids
        self.top = top
        self.full = full
        self.block_rows = block_rows
        self.seed_vector_row = int(method.row_of_corpus[seed_row])
        self.known_ranks: dict[int, float] = {}  # corpus row -> rank, filled by precompute_ranks

    @property
    def seed_present(self) -> bool:
        return self.seed_vector_row >= 0

    def scores_at(self, positions: np.ndarray) -> np.ndarray:
        """Float64 cosines of the corpus rows ``positions``; NaN where missing."""
        if self.full is not None:
            return self.full[positions]
        scores = np.full(len(positions), np.nan)
        rows = self.method.row_of_corpus[positions]
        valid = (rows >= 0) & self.seed_present & (positions != self.seed_row)
        if valid.any():
            seed = self.method.vectors[self.seed_vector_row]
            scores[valid] = exact_cosines(self.method.vectors, self.method.norms, rows[valid], seed,
                                          self.method.norms[self.seed_vector_row])
        return scores

    def ranks_at(self, positions: np.ndarray) -> np.ndarray:
        """1-based ranks of ``positions`` in the pool ordering; NaN where the score is NaN."""
        if self.full is not None:
            return ranks_of(self.full, self.corpus_ids, positions)
        if all(int(p) in self.known_ranks for p in positions):
            return np.array([self.known_ranks[int(p)] for p in positions], dtype=float)
        scores = self.scores_at(positions)
        ranks = np.full(len(positions), np.nan)
        valid = ~np.isnan(scores)
        if valid.any():
            ranks[valid] = block_ranks(
                self.method.vectors, self.method.ids, self.method.norms,
                self.method.vectors[self.seed_vector_row], self.seed_vector_row,
                self.method.row_of_corpus[positions[valid]], scores[valid], self.block_rows)
        return ranks


def precompute_ranks(views: list[SeedMethodScores], positions: list[np.ndarray]) -> None:
    """Fill ``known_ranks`` of one method's views (one per seed) in a single corpus pass.

    Only used without full pool scores; ``positions[i]`` are the corpus rows whose rank seed i
    needs (its table rows). Seeds missing for the method get NaN ranks.
    """
    method = views[0].method
    active = [i for i, view in enumerate(views) if view.seed_present and view.full is None]
    if not active:
        return
    target_rows, target_scores, target_positions = [], [], []
    for i in active:
        scores = views[i].scores_at(positions[i])
        valid = ~np.isnan(scores)
        target_positions.append(positions[i][valid])
        target_rows.append(method.row_of_corpus[positions[i][valid]])
        target_scores.append(scores[valid])
        for position in positions[i][~valid]:
            views[i].known_ranks[int(position)] = np.nan
    seed_rows = np.array([views[i].seed_vector_row for i in active], dtype=np.int64)
    ranks = block_ranks_batch(method.vectors, method.ids, method.norms, method.vectors[seed_rows],
                              seed_rows, target_rows, target_scores, views[0].block_rows)
    for i, found_positions, found_ranks in zip(active, target_positions, ranks):
        views[i].known_ranks.update(zip(found_positions.tolist(), found_ranks.astype(float).tolist()))


def method_scores_for_seeds(method: AlignedMethod, seed_rows: np.ndarray, corpus_ids: np.ndarray,
                            k: int, pool_statistics: bool, block_rows: int = DEFAULT_BLOCK_ROWS,
                            pool_rows: list[np.ndarray] | None = None) -> list[SeedMethodScores]:
    """Score a batch of seeds (corpus rows) under one method.

    With ``pool_statistics`` every pool score is computed in float64 (needed for the pool
    correlations). Without, the top-k come from :func:`seedcompare.topk.block_top_k`, which
    gives the same lists from float32 products in bounded memory. ``pool_rows`` gives each
    seed's candidate corpus rows when the pool is not the whole corpus (then scores are always
    computed in full).
    """
    n_corpus = corpus_ids.size
    results = []
    if pool_statistics or pool_rows is not None:
        matrix = cosine_score_matrix(method, seed_rows, n_corpus, block_rows)
        for i, seed_row in enumerate(seed_rows):
            full = matrix[i]
            if pool_rows is not None:
                outside = np.ones(n_corpus, dtype=bool)
                outside[pool_rows[i]] = False
                full[outside] = np.nan
            full[seed_row] = np.nan  # the seed is not its own candidate
            results.append(SeedMethodScores(method, seed_row, corpus_ids,
                                            top_k(full, corpus_ids, k), full, block_rows))
        return results

    vector_rows = method.row_of_corpus[seed_rows]
    present = np.flatnonzero(vector_rows >= 0)
    tops = {}
    if present.size:
        found = block_top_k(method.vectors, method.ids, method.vectors[vector_rows[present]], k,
                            exclude_rows=vector_rows[present], norms=method.norms,
                            block_rows=block_rows)
        for i, rows in zip(present, found.rows):
            tops[i] = method.corpus_rows[rows[rows >= 0]]
    for i, seed_row in enumerate(seed_rows):
        top = tops.get(i, np.empty(0, dtype=np.int64))
        results.append(SeedMethodScores(method, seed_row, corpus_ids, top, None, block_rows))
    return results


def _pair_statistics(seed_id, view_a: SeedMethodScores, view_b: SeedMethodScores, corpus_ids):
    method_a, method_b = view_a.method.name, view_b.method.name
    row = {"seed": seed_id, "method_a": method_a, "method_b": method_b}
    missing_seed = [view.method.name for view in (view_a, view_b) if not view.seed_present]
    if missing_seed:
        row["status"] = STATUS_SEED_MISSING
        row["status_detail"] = "seed has no usable vector in: " + ", ".join(missing_seed)
        for statistic in STATISTICS:
            row[statistic] = np.nan
        row["n_union"] = 0
        row["n_union_both"] = 0
        row["n_pool_both"] = 0
        row["union_reason"] = row["pool_reason"] = row["status_detail"]
        return row

    overlap, jaccard = overlap_and_jaccard(corpus_ids[view_a.top], corpus_ids[view_b.top])
    union_rows = np.union1d(view_a.top, view_b.top)
    union = rank_correlation(view_a.scores_at(union_rows), view_b.scores_at(union_rows))
    if view_a.full is not None and view_b.full is not None:
        pool = rank_correlation(view_a.full, view_b.full)
    else:
        pool = Correlation(np.nan, np.nan, 0, POOL_STATISTICS_OFF)
    row.update({
        "status": STATUS_OK,
        "status_detail": "",
        "overlap": float(overlap),
        "jaccard": jaccard,
        "n_union": int(union_rows.size),
        "n_union_both": union.n,
        "spearman_union": union.spearman,
        "kendall_union": union.kendall,
        "union_reason": union.reason or "",
        "n_pool_both": pool.n,
        "spearman_pool": pool.spearman,
        "kendall_pool": pool.kendall,
        "pool_reason": pool.reason or "",
    })
    return row


def score_seed(seed_id: int, views: list[SeedMethodScores], corpus_ids: np.ndarray,
               pool_rows: np.ndarray | None = None):
    """Build one seed's table rows and pair statistics from its per-method scores.

    Returns
    -------
    rows : DataFrame, one row per table row (the seed, then the union of the top-k lists in
        display order) with corpus_id, is_seed, table_row and per method the score, the rank in
        the pool and the top-k flag. ``both`` is true when the paper is in every method's top-k,
        and on the seed row when the seed has a vector in every method (as the tables show it).
    pair_rows : list of dicts, the statistics of each method pair (see :func:`_pair_statistics`).
    missing : dict method -> number of pool papers missing for it.
    n_pool : number of candidates (``pool_rows``, or every corpus paper but the seed).
    """
    if pool_rows is not None:
        missing = {view.method.name: int((view.method.row_of_corpus[pool_rows] < 0).sum()) for view in views}
        n_pool = int(pool_rows.size)
    else:
        missing = {
            # Pool papers without a usable vector; the seed itself is not in the pool.
            view.method.name: int((view.method.row_of_corpus < 0).sum()) - int(not view.seed_present)
            for view in views
        }
        n_pool = int(corpus_ids.size - 1)

    # Display order: each method's top-k in its own order, skipping rows already shown.
    display = []
    shown = set()
    for view in views:
        for position in view.top.tolist():
            if position not in shown:
                shown.add(position)
                display.append(position)
    display = np.asarray(display, dtype=np.int64)

    rows = {
        "seed": np.full(display.size + 1, seed_id, dtype=np.int64),
        "corpus_id": np.concatenate([[seed_id], corpus_ids[display]]).astype(np.int64),
        "is_seed": np.r_[True, np.zeros(display.size, dtype=bool)],
        "table_row": np.arange(display.size + 1, dtype=np.int64),
    }
    both = np.ones(display.size, dtype=bool)
    for view in views:
        name = view.method.name
        seed_score = 1.0 if view.seed_present else np.nan
        rows[name] = np.concatenate([[seed_score], view.scores_at(display)])
        rows[f"rank_{name}"] = np.concatenate([[np.nan], view.ranks_at(display)])
        in_top = np.isin(display, view.top)
        rows[f"top_{name}"] = np.r_[False, in_top]
        both &= in_top
    rows["both"] = np.r_[all(view.seed_present for view in views), both]
    frame = pd.DataFrame(rows)
    for view in views:
        frame[f"rank_{view.method.name}"] = frame[f"rank_{view.method.name}"].astype("Int64")

    pair_rows = [_pair_statistics(seed_id, a, b, corpus_ids) for a, b in itertools.combinations(views, 2)]
    return frame, pair_rows, missing, n_pool


def score_seeds(seed_ids, corpus_ids: np.ndarray, methods: list[AlignedMethod],
                papers: pd.DataFrame, k: int, *, pool_statistics: bool = True,
                seed_batch: int = 32, block_rows: int = DEFAULT_BLOCK_ROWS,
                pools: dict[int, np.ndarray] | None = None):
    """Score a list of seeds and attach paper metadata.

    Seeds are scored in batches of ``seed_batch`` (one matrix product per corpus block and
    method). With ``pool_statistics`` memory is about 8 x seed_batch x n_corpus bytes per
    method; without, it is bounded by ``block_rows`` and the pool correlations are NaN.

    Returns
    -------
    scores : DataFrame in the results/scores schema (docs/outputs.md).
    per_seed : DataFrame, one row per (seed, method pair), in the per_seed schema.

    ``pools`` maps each seed corpus id to its candidate corpus ids (the S2 backend); without
    it every corpus paper except the seed is a candidate.

    A seed that is not in the corpus, or whose scoring raises, is logged and gets status
    "failed" with the error message; the other seeds go on.
    """
    names = [m.name for m in methods]
    seed_ids = np.asarray(seed_ids, dtype=np.int64)
    frames, stat_rows = [], []

    def fail(seed_id, error):
        stat_rows.extend(
            {"seed": int(seed_id), "method_a": a, "method_b": b, "status": STATUS_FAILED,
             "status_detail": f"{type(error).__name__}: {error}"}
            for a, b in itertools.combinations(names, 2))

    seed_rows = np.searchsorted(corpus_ids, seed_ids)
    in_corpus = (seed_rows < corpus_ids.size) & (corpus_ids[np.minimum(seed_rows, corpus_ids.size - 1)] == seed_ids)
    for seed_id in seed_ids[~in_corpus]:
        log.error("seed %s: scoring failed: not in the corpus", seed_id)
        fail(seed_id, KeyError(f"seed {seed_id} is not in the corpus"))
    scored_ids, scored_rows = seed_ids[in_corpus], seed_rows[in_corpus]

    done = 0
    for start in range(0, scored_ids.size, seed_batch):
        batch_ids = scored_ids[start:start + seed_batch]
        batch_rows = scored_rows[start:start + seed_batch]
        batch_pools = None
        if pools is not None:
            batch_pools = []
            for seed_id, seed_row in zip(batch_ids.tolist(), batch_rows.tolist()):
                pool_ids = np.asarray(pools.get(seed_id, []), dtype=np.int64)
                rows = np.searchsorted(corpus_ids, pool_ids[np.isin(pool_ids, corpus_ids)])
                batch_pools.append(rows[rows != seed_row])
        per_method = [method_scores_for_seeds(m, batch_rows, corpus_ids, k, pool_statistics, block_rows,
                                              batch_pools) for m in methods]
        if not pool_statistics and batch_pools is None:
            # Every table row needs its rank under every method: one corpus pass per method.
            table_rows = [np.unique(np.concatenate([views[i].top for views in per_method]))
                          for i in range(batch_ids.size)]
            for views in per_method:
                precompute_ranks(views, table_rows)
        for i, seed_id in enumerate(batch_ids.tolist()):
            try:
                frame, pair_rows, missing, n_pool = score_seed(
                    seed_id, [views[i] for views in per_method], corpus_ids,
                    None if batch_pools is None else batch_pools[i])
            except Exception as error:  # one bad seed must not stop the shard
                log.exception("seed %s: scoring failed", seed_id)
                fail(seed_id, error)
                continue
            for row in pair_rows:
                row["n_pool"] = n_pool
                for name in names:
                    row[f"missing_{name}"] = missing[name]
            frames.append(frame)
            stat_rows.extend(pair_rows)
        done += batch_ids.size
        log.info("scored %d of %d seeds", done, scored_ids.size)

    scores = pd.concat(frames, ignore_index=True) if frames else empty_scores(names)
    metadata = papers[["corpus_id", "paper_id", "title", "year", "citation_count"]]
    scores = scores.merge(metadata, on="corpus_id", how="left")
    scores = scores[score_columns(names)]
    per_seed = pd.DataFrame(stat_rows).reindex(columns=per_seed_columns(names))
    order = {seed: i for i, seed in enumerate(seed_ids.tolist())}
    per_seed = per_seed.sort_values("seed", key=lambda column: column.map(order), kind="stable")
    return scores, normalize_per_seed_types(per_seed.reset_index(drop=True), names)


def score_columns(names: list[str]) -> list[str]:
    """Return the column order of the scores table for the given method names."""
    columns = ["seed", "corpus_id", "is_seed", "table_row", "paper_id", "title", "year",
               "citation_count"]
    columns += names
    columns += [f"rank_{name}" for name in names]
    columns += [f"top_{name}" for name in names]
    return columns + ["both"]


def empty_scores(names: list[str]) -> pd.DataFrame:
    """Return a scores table without rows (so an all-failed shard still has the schema)."""
    frame = pd.DataFrame({
        "seed": pd.Series(dtype="int64"), "corpus_id": pd.Series(dtype="int64"),
        "is_seed": pd.Series(dtype=bool), "table_row": pd.Series(dtype="int64"),
        "both": pd.Series(dtype=bool),
    })
    for name in names:
        frame[name] = pd.Series(dtype="float64")
        frame[f"rank_{name}"] = pd.Series(dtype="Int64")
        frame[f"top_{name}"] = pd.Series(dtype=bool)
    return frame


def per_seed_columns(names: list[str]) -> list[str]:
    """Return the column order of the per-seed statistics table."""
    return (["seed", "method_a", "method_b", "status", "status_detail", "n_pool"]
            + [f"missing_{name}" for name in names]
            + ["overlap", "jaccard", "n_union", "n_union_both", "spearman_union",
               "kendall_union", "union_reason", "n_pool_both", "spearman_pool",
               "kendall_pool", "pool_reason"])


def normalize_per_seed_types(per_seed: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Give the per-seed table fixed dtypes whatever rows it has."""
    per_seed = per_seed.copy()
    per_seed["seed"] = per_seed["seed"].astype("int64")
    for column in ["n_pool", "n_union", "n_union_both", "n_pool_both"] + [f"missing_{n}" for n in names]:
        per_seed[column] = per_seed[column].astype("Int64")
    for column in STATISTICS:
        per_seed[column] = per_seed[column].astype("float64")
    for column in ["method_a", "method_b", "status", "status_detail", "union_reason", "pool_reason"]:
        per_seed[column] = per_seed[column].fillna("").astype("string")
    return per_seed
