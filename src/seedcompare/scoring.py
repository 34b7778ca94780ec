"""Score every candidate of each seed under every method, and compute the per-seed statistics.

For a seed s and a method m, score_m(s, c) is the cosine between the two vectors of m, computed
in float64. The candidate pool of the local backend is every corpus paper except the seed.
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
    overlap_and_jaccard,
    rank_correlation,
    ranks_of,
    top_k,
)

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_SEED_MISSING = "seed_missing"
STATUS_FAILED = "failed"


@dataclass
class AlignedMethod:
    """One method's usable vectors mapped onto the corpus rows.

    ``corpus_rows[i]`` is the corpus row of vector i; ``row_of_corpus[j]`` is the vector row of
    corpus row j, or -1 where the paper is missing for the method.
    """

    name: str
    vectors: np.ndarray  # float32, shape (n_usable, d)
    norms: np.ndarray  # float64, shape (n_usable,)
    corpus_rows: np.ndarray  # int64, shape (n_usable,)
    row_of_corpus: np.ndarray  # int64, shape (n_corpus,)


def align_method(name: str, method: MethodVectors, corpus_ids: np.ndarray) -> AlignedMethod:
    """Map ``method``'s usable vectors onto ``corpus_ids`` (sorted, unique int64)."""
    corpus_rows = np.searchsorted(corpus_ids, method.ids)
    if method.ids.size and (corpus_rows.max() >= corpus_ids.size
                            or not np.array_equal(corpus_ids[corpus_rows], method.ids)):
        raise ValueError(f"method {name}: some vector ids are not in the corpus id list")
    row_of_corpus = np.full(corpus_ids.size, -1, dtype=np.int64)
    row_of_corpus[corpus_rows] = np.arange(method.ids.size)
    norms = np.empty(method.ids.size, dtype=np.float64)
    block = 65536
    for start in range(0, method.ids.size, block):
        chunk = np.asarray(method.vectors[start:start + block], dtype=np.float64)
        norms[start:start + block] = np.linalg.norm(chunk, axis=1)
    return AlignedMethod(name, method.vectors, norms, corpus_rows.astype(np.int64), row_of_corpus)


def cosine_scores(method: AlignedMethod, seed_row: int, n_corpus: int) -> np.ndarray:
    """Return float64 cosines of corpus paper ``seed_row`` against every corpus paper.

    Shape (n_corpus,); NaN where either paper is missing for the method.
    """
    scores = np.full(n_corpus, np.nan)
    vector_row = method.row_of_corpus[seed_row]
    if vector_row < 0:
        return scores
    seed_vector = np.asarray(method.vectors[vector_row], dtype=np.float64)
    block = 65536
    for start in range(0, method.corpus_rows.size, block):
        chunk = np.asarray(method.vectors[start:start + block], dtype=np.float64)
        dots = chunk @ seed_vector
        scores[method.corpus_rows[start:start + block]] = (
            dots / (method.norms[start:start + block] * method.norms[vector_row])
        )
    return scores


def _pair_statistics(seed_id, method_a, method_b, scores, tops, corpus_ids, seed_present):
    row = {"seed": seed_id, "method_a": method_a, "method_b": method_b}
    missing_seed = [m for m in (method_a, method_b) if not seed_present[m]]
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

    top_a, top_b = corpus_ids[tops[method_a]], corpus_ids[tops[method_b]]
    overlap, jaccard = overlap_and_jaccard(top_a, top_b)
    union_rows = np.union1d(tops[method_a], tops[method_b])
    union = rank_correlation(scores[method_a][union_rows], scores[method_b][union_rows])
    pool = rank_correlation(scores[method_a], scores[method_b])
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


def score_seed(seed_id: int, seed_row: int, methods: list[AlignedMethod],
               corpus_ids: np.ndarray, k: int):
    """Score one seed.

    Returns
    -------
    rows : DataFrame, one row per table row (the seed, then the union of the top-k lists in
        display order) with corpus_id, is_seed, table_row and per method the score, the rank in
        the pool and the top-k flag; ``both`` is true when the paper is in every method's top-k
        (for the seed row: when the seed has a vector in every method, as the tables show it).
    pair_rows : list of dicts, the statistics of each method pair (see :func:`_pair_statistics`).
    missing : dict method -> number of pool papers missing for it.
    """
    n_corpus = corpus_ids.size
    names = [m.name for m in methods]
    scores, tops, seed_present, missing = {}, {}, {}, {}
    for method in methods:
        method_scores = cosine_scores(method, seed_row, n_corpus)
        method_scores[seed_row] = np.nan  # the seed is not its own candidate
        seed_present[method.name] = method.row_of_corpus[seed_row] >= 0
        # Pool papers without a usable vector; the seed itself is not in the pool.
        missing[method.name] = int((method.row_of_corpus < 0).sum()) - int(not seed_present[method.name])
        scores[method.name] = method_scores
        tops[method.name] = top_k(method_scores, corpus_ids, k)

    # Display order: each method's top-k in its own order, skipping rows already shown.
    display = []
    shown = set()
    for name in names:
        for position in tops[name].tolist():
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
    for name in names:
        seed_score = 1.0 if seed_present[name] else np.nan
        rows[name] = np.concatenate([[seed_score], scores[name][display]])
        rows[f"rank_{name}"] = np.concatenate([[np.nan], ranks_of(scores[name], corpus_ids, display)])
        in_top = np.isin(display, tops[name])
        rows[f"top_{name}"] = np.r_[False, in_top]
        both &= in_top
    rows["both"] = np.r_[all(seed_present.values()), both]
    frame = pd.DataFrame(rows)
    for name in names:
        frame[f"rank_{name}"] = frame[f"rank_{name}"].astype("Int64")

    pair_rows = [
        _pair_statistics(seed_id, a, b, scores, tops, corpus_ids, seed_present)
        for a, b in itertools.combinations(names, 2)
    ]
    return frame, pair_rows, missing


def score_seeds(seed_ids, corpus_ids: np.ndarray, methods: list[AlignedMethod],
                papers: pd.DataFrame, k: int):
    """Score a list of seeds (all in ``corpus_ids``) and attach paper metadata.

    Returns
    -------
    scores : DataFrame in the results/scores schema (docs/outputs.md).
    per_seed : DataFrame, one row per (seed, method pair), in the per_seed schema.

    A seed whose scoring raises is logged and gets status "failed" with the error message;
    the other seeds go on.
    """
    names = [m.name for m in methods]
    frames, stat_rows = [], []
    progress_step = max(1, len(seed_ids) // 10)  # about ten progress lines per call
    for done, seed_id in enumerate(seed_ids):
        if done and done % progress_step == 0:
            log.info("scored %d of %d seeds", done, len(seed_ids))
        seed_id = int(seed_id)
        seed_row = int(np.searchsorted(corpus_ids, seed_id))
        try:
            if seed_row >= corpus_ids.size or corpus_ids[seed_row] != seed_id:
                raise KeyError(f"seed {seed_id} is not in the corpus")
            frame, pair_rows, missing = score_seed(seed_id, seed_row, methods, corpus_ids, k)
        except Exception as error:  # one bad seed must not stop the shard
            log.exception("seed %s: scoring failed", seed_id)
            pair_rows = [
                {"seed": seed_id, "method_a": a, "method_b": b, "status": STATUS_FAILED,
                 "status_detail": f"{type(error).__name__}: {error}"}
                for a, b in itertools.combinations(names, 2)
            ]
            stat_rows.extend(pair_rows)
            continue
        for row in pair_rows:
            row["n_pool"] = int(corpus_ids.size - 1)
            for name in names:
                row[f"missing_{name}"] = missing[name]
        frames.append(frame)
        stat_rows.extend(pair_rows)

    scores = pd.concat(frames, ignore_index=True) if frames else empty_scores(names)
    metadata = papers[["corpus_id", "paper_id", "title", "year", "citation_count"]]
    scores = scores.merge(metadata, on="corpus_id", how="left")
    scores = scores[score_columns(names)]
    per_seed = pd.DataFrame(stat_rows).reindex(columns=per_seed_columns(names))
    return scores, normalize_per_seed_types(per_seed, names)


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
