"""Workflow stages of the Semantic Scholar backend: resolve seeds, fetch candidates, fetch papers.

Each function reads its inputs from files and writes its outputs, like :mod:`seedcompare.pipeline`,
so that Snakemake can resume after any of them. Every call goes through one
:class:`seedcompare.s2.S2Client` built from the ``s2`` config section, with its rate limit,
retries and HTTP cache. Run these stages one job at a time: the rate limit is per process.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .seeds import read_seed_strings
from .s2 import (
    SEED_OK,
    S2Client,
    S2Settings,
    fetch_candidates,
    fetch_papers,
    resolve_seed_ids,
    write_candidates,
    write_edges,
    write_embeddings,
    write_papers,
)

log = logging.getLogger(__name__)


def read_seed_id_strings(path: str | Path) -> list[str]:
    """Read a TSV file with a header row and a ``seed`` column of S2 ids of any accepted form."""
    return [value for _, value in read_seed_strings(path)]


def _client(s2_config: dict) -> S2Client:
    return S2Client(S2Settings.from_config(s2_config))


def resolve_stage(s2_config: dict, requested, seeds_file: str | None, out_path) -> None:
    """Resolve the configured seed ids; write input_id, s2_id, paper_id, corpus_id, status, reason."""
    seed_ids = read_seed_id_strings(seeds_file) if seeds_file else list(requested)
    with _client(s2_config) as client:
        table = resolve_seed_ids(client, seed_ids)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out_path, index=False)


def candidates_stage(s2_config: dict, resolved_path, out_candidates, out_edges, out_failures) -> None:
    """Fetch every resolved seed's candidates and the citation edges met on the way."""
    resolved = pd.read_parquet(resolved_path)
    seeds = resolved[resolved["status"] == SEED_OK].drop_duplicates("corpus_id")
    with _client(s2_config) as client:
        result = fetch_candidates(client, seeds)
    write_candidates(result.candidates, out_candidates)
    write_edges(result.edges, out_edges)
    failures = result.failures.astype({"seed": "int64"}) if len(result.failures) else pd.DataFrame(
        {"seed": pd.Series(dtype="int64"), "endpoint": pd.Series(dtype="string"),
         "reason": pd.Series(dtype="string")})
    failures.to_parquet(out_failures, index=False)


def papers_stage(s2_config: dict, resolved_path, candidates_path, failures_path, out_papers,
                 out_vectors_dir) -> None:
    """Fetch metadata and embeddings of every seed and candidate of the run."""
    resolved = pd.read_parquet(resolved_path)
    failed = set(pd.read_parquet(failures_path)["seed"].astype("int64").tolist())
    seeds = [int(c) for c in resolved.loc[resolved["status"] == SEED_OK, "corpus_id"] if int(c) not in failed]
    candidates = pd.read_parquet(candidates_path)
    paper_ids = seeds + [int(c) for c in candidates["corpus_id"]]
    with _client(s2_config) as client:
        result = fetch_papers(client, paper_ids)
    write_papers(result.papers, out_papers)
    if out_vectors_dir is not None:  # None when no method uses the fetched embeddings
        write_embeddings(result, out_vectors_dir)


def seeds_table(resolved_path, failures_path, on_missing_seed: str, shard_size: int) -> pd.DataFrame:
    """Build the seeds table of an S2 run from the resolution and the candidate failures.

    Returns the columns of the local seeds table (seed, input_id, status, reason, shard). Ids the
    API does not find, or that are not valid ids, keep status not_found / invalid_id; seeds whose
    candidate calls failed get status failed with the reason. None of these is scored.

    Raises
    ------
    seedcompare.seeds.SeedError
        With ``on_missing_seed: error``, listing every id not found or invalid.
    """
    from .seeds import SeedError, format_ids

    resolved = pd.read_parquet(resolved_path)
    failures = pd.read_parquet(failures_path)
    table = pd.DataFrame({
        "seed": resolved["corpus_id"].astype("Int64"),
        "input_id": resolved["input_id"].astype("string"),
        "status": resolved["status"].astype("string"),
        "reason": resolved["reason"].fillna("").astype("string"),
    })
    unresolved = table[table["status"].isin(["not_found", "invalid_id"])]
    if len(unresolved):
        message = f"{len(unresolved)} seed id(s) not found or invalid: {format_ids(unresolved['input_id'])}"
        if on_missing_seed == "error":
            raise SeedError(message + ". Remove them, or set on_missing_seed: skip to skip them.")
        log.warning("skipping %s", message)

    reasons = dict(zip(failures["seed"].astype("int64"), failures["reason"]))
    for index in table.index[table["status"] == SEED_OK]:
        corpus_id = int(table.at[index, "seed"])
        if corpus_id in reasons:
            table.at[index, "status"] = "failed"
            table.at[index, "reason"] = f"fetching candidates failed: {reasons[corpus_id]}"

    ok = table["status"] == SEED_OK
    duplicated = ok & table["seed"].duplicated()
    if duplicated.any():
        log.warning("%d seed id(s) resolve to a paper already listed and are dropped: %s",
                    int(duplicated.sum()), format_ids(table.loc[duplicated, "input_id"]))
        table = table[~duplicated].reset_index(drop=True)
        ok = table["status"] == SEED_OK
    shard = pd.array([pd.NA] * len(table), dtype="Int64")
    shard[ok.to_numpy()] = np.arange(int(ok.sum())) // shard_size
    table["shard"] = shard
    if not ok.any():
        raise SeedError("no seed left to score: every seed was not found, invalid or failed")
    return table


def candidate_pools(candidates_path, seeds) -> dict[int, np.ndarray]:
    """Return seed corpus id -> int64 array of its candidate corpus ids (its scoring pool)."""
    candidates = pd.read_parquet(candidates_path, columns=["seed", "corpus_id"])
    wanted = candidates[candidates["seed"].isin(list(seeds))]
    pools = {int(seed): np.unique(group["corpus_id"].to_numpy(np.int64))
             for seed, group in wanted.groupby("seed")}
    return {int(seed): pools.get(int(seed), np.empty(0, dtype=np.int64)) for seed in seeds}
