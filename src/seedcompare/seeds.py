"""Resolve the configured seeds against the corpus and split them into scoring shards."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .corpus import InputDataError

log = logging.getLogger(__name__)

SEED_OK = "ok"
SEED_SKIPPED = "skipped_not_in_corpus"
MAX_IDS_IN_MESSAGE = 20


class SeedError(ValueError):
    """Seeds that cannot be used; the message lists them."""


def read_seed_strings(path: str | Path) -> list[tuple[int, str]]:
    """Read the ``seed`` column of a TSV file with a header row.

    Returns (line number, stripped value) pairs, blank values left out.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputDataError(f"cannot read seeds file {path}: {error}") from error
    if "seed" not in frame.columns:
        raise InputDataError(f"seeds file {path}: no 'seed' column (found {list(frame.columns)})")
    values = enumerate(frame["seed"].str.strip(), start=2)  # line 1 is the header
    return [(line_number, value) for line_number, value in values if value != ""]


def read_seeds_file(path: str | Path) -> list[int]:
    """Read a TSV file with a header row and a ``seed`` column of integer corpus ids."""
    seeds = []
    for line_number, value in read_seed_strings(path):
        try:
            seeds.append(int(value))
        except ValueError:
            raise InputDataError(
                f"{path}:{line_number}: seed {value!r} is not an integer corpus id") from None
    return seeds


def format_ids(ids) -> str:
    ids = list(ids)
    shown = ", ".join(map(str, ids[:MAX_IDS_IN_MESSAGE]))
    more = len(ids) - MAX_IDS_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


def resolve_seeds(requested, corpus_ids: np.ndarray, usable_in_every_method: np.ndarray,
                  on_missing_seed: str = "error", shard_size: int = 100) -> pd.DataFrame:
    """Deduplicate the requested seeds, check them against the corpus and assign shards.

    Parameters
    ----------
    requested : list of corpus ids, or the string "all" for every paper in
        ``usable_in_every_method``.
    corpus_ids : every corpus id (sorted, unique).
    on_missing_seed : "error" raises :class:`SeedError` listing every seed not in the corpus;
        "skip" keeps them with status "skipped_not_in_corpus" and no shard.
    shard_size : seeds per shard; shards are numbered from 0 in seed order.

    Returns
    -------
    DataFrame with columns seed (Int64), input_id (string), status (ok /
    skipped_not_in_corpus), reason (string, empty when ok) and shard (Int64, NA for skipped
    seeds), in the requested order.
    """
    if isinstance(requested, str):
        if requested != "all":
            raise SeedError(f"seeds: {requested!r} is not allowed; give a list of corpus ids or 'all'")
        seeds = np.sort(np.asarray(usable_in_every_method, dtype=np.int64))
    else:
        seeds = np.asarray(list(requested), dtype=np.int64)
        _, first = np.unique(seeds, return_index=True)
        if first.size < seeds.size:
            duplicated = pd.Series(seeds)[pd.Series(seeds).duplicated()].unique()
            log.warning("removed %d duplicate seed(s): %s", seeds.size - first.size, format_ids(duplicated))
        seeds = seeds[np.sort(first)]

    in_corpus = np.isin(seeds, corpus_ids)
    if not in_corpus.all():
        missing = seeds[~in_corpus]
        message = f"{missing.size} seed(s) not in the corpus: {format_ids(missing)}"
        if on_missing_seed == "error":
            raise SeedError(message + ". Remove them, or set on_missing_seed: skip to skip them.")
        log.warning("skipping %s", message)

    shard = np.full(seeds.size, -1, dtype=np.int64)
    shard[in_corpus] = np.arange(int(in_corpus.sum())) // shard_size
    frame = pd.DataFrame({
        "seed": pd.array(seeds, dtype="Int64"),
        "input_id": pd.array([str(s) for s in seeds], dtype="string"),
        "status": np.where(in_corpus, SEED_OK, SEED_SKIPPED),
        "reason": pd.array(np.where(in_corpus, "", "not in the corpus"), dtype="string"),
        "shard": pd.array(np.where(in_corpus, shard, 0), dtype="Int64"),
    })
    frame.loc[~in_corpus, "shard"] = pd.NA
    frame["status"] = frame["status"].astype("string")
    if (frame["status"] == SEED_OK).sum() == 0:
        raise SeedError("no seed left to score: every requested seed is missing from the corpus")
    log.info("%d seeds in %d shard(s); %d skipped", int(in_corpus.sum()),
             int(frame["shard"].max()) + 1, int((~in_corpus).sum()))
    return frame
