"""One function per workflow stage: read the stage's input files, write its output files.

The Snakemake rule scripts and the ``seedcompare`` command call these functions; nothing here
depends on Snakemake. Output schemas are described in docs/outputs.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .config import MethodSpec
from .corpus import (
    empty_papers,
    prepare_method_vectors,
    read_papers,
    read_prepared_vectors,
)
from .scoring import align_method, score_seeds
from .seeds import SEED_OK, read_seeds_file, resolve_seeds
from .stats import aggregate_per_seed

log = logging.getLogger(__name__)

USABLE = "ok"


def prepare_vectors(spec: MethodSpec, out_dir: str | Path, vector_dtype: str = "float32",
                    block_rows: int = 65536) -> None:
    """Vectors stage: read one method's source and write vectors.npy, ids.npy, missing.parquet."""
    log.info("vectors %s: reading %s (%s)", spec.name, spec.path, spec.format)
    prepare_method_vectors(spec, out_dir, vector_dtype, block_rows)
    log.info("vectors %s: written to %s", spec.name, out_dir)


def build_corpus(vector_dirs: dict[str, str], papers_source: dict | None,
                 out_corpus: str | Path, out_papers: str | Path,
                 corpus_ids: np.ndarray | None = None) -> None:
    """Corpus stage: by default the corpus is every paper listed by at least one method's source.

    With ``corpus_ids`` (the S2 backend: seeds and their candidates) the corpus is exactly those
    papers, and a paper no method lists is "absent" for every method. Writes ``out_corpus``
    (corpus_id, and per method ``status_<method>``: "ok" or why the paper is missing) and
    ``out_papers`` (the papers table, normalized).
    """
    statuses = {}
    for name, directory in vector_dirs.items():
        method = read_prepared_vectors(directory)
        statuses[name] = pd.concat([
            pd.Series(USABLE, index=method.ids),
            pd.Series(method.missing["reason"].to_numpy(), index=method.missing["corpus_id"].to_numpy()),
        ])
    if corpus_ids is None:
        corpus_ids = np.concatenate([s.index.to_numpy(dtype=np.int64) for s in statuses.values()])
    corpus_ids = np.unique(np.asarray(corpus_ids, dtype=np.int64))
    corpus = pd.DataFrame({"corpus_id": corpus_ids})
    for name, status in statuses.items():
        corpus[f"status_{name}"] = status.reindex(corpus_ids).fillna("absent").astype("string").to_numpy()
    Path(out_corpus).parent.mkdir(parents=True, exist_ok=True)
    corpus.to_parquet(out_corpus, index=False)

    if papers_source:
        papers = read_papers(papers_source["path"], papers_source.get("format", "parquet"),
                             papers_source.get("header_row", True))
    else:
        papers = empty_papers()
    papers.to_parquet(out_papers, index=False)
    with_metadata = int(np.isin(corpus_ids, papers["corpus_id"].to_numpy()).sum())
    log.info("corpus: %d papers, %d with metadata", corpus_ids.size, with_metadata)


def s2_corpus_ids(resolved_path, candidates_path) -> np.ndarray:
    """Return the corpus of an S2 run: the resolved seeds and all their candidates."""
    resolved = pd.read_parquet(resolved_path)
    seeds = resolved.loc[resolved["status"] == "ok", "corpus_id"].astype("int64").to_numpy()
    candidates = pd.read_parquet(candidates_path, columns=["corpus_id"])["corpus_id"].to_numpy(np.int64)
    return np.unique(np.concatenate([seeds, candidates]))


def select_seeds(requested, seeds_file: str | None, corpus_path: str | Path, on_missing_seed: str,
                 shard_size: int, out_path: str | Path) -> pd.DataFrame:
    """Seeds stage: resolve the configured seeds and write the seeds table."""
    corpus = pd.read_parquet(corpus_path)
    if seeds_file is not None:
        requested = read_seeds_file(seeds_file)
    status_columns = [c for c in corpus.columns if c.startswith("status_")]
    usable_everywhere = corpus.loc[(corpus[status_columns] == USABLE).all(axis=1), "corpus_id"]
    seeds = resolve_seeds(requested, corpus["corpus_id"].to_numpy(), usable_everywhere.to_numpy(),
                          on_missing_seed, shard_size)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    seeds.to_parquet(out_path, index=False)
    return seeds


def shard_ids(seeds_path: str | Path) -> list[int]:
    """Return the shard numbers present in the seeds table."""
    seeds = pd.read_parquet(seeds_path)
    return sorted(int(s) for s in seeds["shard"].dropna().unique())


def score_shard(seeds_path, shard: int, corpus_path, papers_path, vector_dirs: dict[str, str],
                k: int, out_scores, out_per_seed, pool_statistics: bool = True, seed_batch: int = 32,
                block_rows: int = 65536, threads: int = 1, candidates_path=None) -> None:
    """Scores stage: score the seeds of one shard under every method, on ``threads`` BLAS threads.

    With ``candidates_path`` (the S2 backend) each seed's pool is its fetched candidates;
    otherwise it is every corpus paper except the seed.
    """
    seeds = pd.read_parquet(seeds_path)
    chosen = (seeds["status"] == SEED_OK) & (seeds["shard"] == shard)
    seed_ids = seeds.loc[chosen.fillna(False).astype(bool), "seed"].astype("int64").to_numpy()
    corpus_ids = pd.read_parquet(corpus_path, columns=["corpus_id"])["corpus_id"].to_numpy(np.int64)
    papers = pd.read_parquet(papers_path)
    methods = [align_method(name, read_prepared_vectors(d), corpus_ids, block_rows)
               for name, d in vector_dirs.items()]
    log.info("shard %d: scoring %d seeds over %d papers, k=%d, pool statistics %s",
             shard, seed_ids.size, corpus_ids.size, k, "on" if pool_statistics else "off")
    pools = None
    if candidates_path is not None:
        from .s2_stages import candidate_pools

        pools = candidate_pools(candidates_path, seed_ids)
    with threadpool_limits(limits=threads):
        scores, per_seed = score_seeds(seed_ids, corpus_ids, methods, papers, k,
                                       pool_statistics=pool_statistics, seed_batch=seed_batch,
                                       block_rows=block_rows, pools=pools)
    for path in (out_scores, out_per_seed):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out_scores, index=False)
    per_seed.to_parquet(out_per_seed, index=False)
    failed = int((per_seed["status"] == "failed").sum())
    log.info("shard %d: done, %d score rows, %d failed seed-pair rows", shard, len(scores), failed)


def summarize(per_seed_paths: list[str], out_per_seed, out_aggregate, n_resamples: int = 9999,
              confidence_level: float = 0.95, random_seed: int = 0) -> None:
    """Summary stage: concatenate per-shard statistics and aggregate them over seeds."""
    per_seed = pd.concat([pd.read_parquet(p) for p in per_seed_paths], ignore_index=True)
    Path(out_per_seed).parent.mkdir(parents=True, exist_ok=True)
    per_seed.to_parquet(out_per_seed, index=False)
    aggregate = aggregate_per_seed(per_seed, n_resamples, confidence_level, random_seed)
    aggregate.to_parquet(out_aggregate, index=False)
    log.info("summary: %d seed-pair rows, %d ok", len(per_seed), int((per_seed["status"] == "ok").sum()))


def import_legacy(directory, results_dir, out_seeds, n_resamples: int = 9999,
                  confidence_level: float = 0.95, random_seed: int = 0) -> None:
    """Import stage: parse existing per-seed tables into the scores and summary files.

    Writes what :func:`seedcompare.legacy.write_import` writes under ``results_dir`` and a seeds
    table (seed, input_id = the table file, status, reason, shard NA) at ``out_seeds``.
    """
    from .legacy import first_per_seed, import_tables, write_import

    result = import_tables(directory)
    log.info("%s", result.summary.line)
    write_import(result, results_dir, n_resamples, confidence_level, random_seed)
    first = first_per_seed(result.per_seed)
    seeds = pd.DataFrame({
        "seed": first["seed"].astype("Int64").to_numpy(),
        "input_id": first["source"].astype("string").to_numpy(),
        "status": first["status"].astype("string").to_numpy(),
        "reason": first["status_detail"].fillna("").astype("string").to_numpy(),
        "shard": pd.array([pd.NA] * len(first), dtype="Int64"),
    })
    Path(out_seeds).parent.mkdir(parents=True, exist_ok=True)
    seeds.to_parquet(out_seeds, index=False)


def legacy_table_rows(scores_path, per_seed_path) -> pd.DataFrame:
    """Return the scores rows of each seed's first table (a seed may have tables in several groups)."""
    from .legacy import first_per_seed

    scores = pd.read_parquet(scores_path)
    first = first_per_seed(pd.read_parquet(per_seed_path))[["seed", "group"]]
    return scores.merge(first, on=["seed", "group"], how="inner")
