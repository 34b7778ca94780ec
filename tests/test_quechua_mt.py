"""End-to-end run of the workflow on the Quechua / machine translation corpus.

The workflow runs once with the settings of config/examples/quechua_mt.yaml. Its outputs are
compared with scores and statistics recomputed here from the vector dumps without the
seedcompare library, using gzip + numpy parsing, float64 cosines and scipy rank correlations.
"""

from __future__ import annotations

import gzip
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from conftest import REPO_ROOT, shared_path

DATA_DIR = ("data", "jsalt", "quechua_mt")
METHODS = ("specter", "proposed")
ABSENT_ROW_INDEXES = {"specter": {-1}, "proposed": {-1, 0}}
K = 10
EXPECTED_SEEDS = 333
CORRELATION_TOLERANCE = 1e-9
SCORE_TOLERANCE = 1e-9
CORRELATIONS = ("spearman_union", "kendall_union", "spearman_pool", "kendall_pool")
STATISTICS = ("overlap", "jaccard") + CORRELATIONS


def read_dump(path: Path, absent_row_indexes: set[int]) -> tuple[list[int], dict[int, np.ndarray]]:
    """Return every corpus id of a dump and the usable vectors by corpus id.

    A line is unusable when its rowIndex is in ``absent_row_indexes`` or its vector is all
    zeros or has a non-finite value. Values are rounded to float32, the precision in which the
    workflow stores vectors, and then widened to float64.
    """
    ids, vectors = [], {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if not fields:
                continue
            corpus_id, row_index = int(fields[0]), int(fields[1])
            ids.append(corpus_id)
            if row_index in absent_row_indexes:
                continue
            vector = np.array(fields[2:], dtype=np.float32).astype(np.float64)
            if not np.isfinite(vector).all() or not vector.any():
                continue
            vectors[corpus_id] = vector
    return ids, vectors


def cosine_matrix(corpus_ids: np.ndarray, vectors: dict[int, np.ndarray]) -> np.ndarray:
    """Return all-pairs cosines over the corpus, NaN in rows and columns of missing papers."""
    dim = len(next(iter(vectors.values())))
    matrix = np.zeros((corpus_ids.size, dim))
    present = np.zeros(corpus_ids.size, dtype=bool)
    for row, corpus_id in enumerate(corpus_ids.tolist()):
        if corpus_id in vectors:
            matrix[row] = vectors[corpus_id]
            present[row] = True
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        cosines = (matrix @ matrix.T) / np.outer(norms, norms)
    cosines[~present, :] = np.nan
    cosines[:, ~present] = np.nan
    return cosines


def ordering(scores: np.ndarray, corpus_ids: np.ndarray) -> list[int]:
    """Return the rows with a score, by score descending and then by smaller corpus id."""
    rows = [row for row in range(scores.size) if not math.isnan(scores[row])]
    return sorted(rows, key=lambda row: (-scores[row], int(corpus_ids[row])))


def correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return Spearman's rho and Kendall's tau-b over the rows where both scores exist."""
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 3:
        return math.nan, math.nan
    return (float(stats.spearmanr(x[both], y[both]).statistic),
            float(stats.kendalltau(x[both], y[both]).statistic))


@dataclass
class SeedResult:
    """What the workflow must report for one seed."""

    row: int
    scores: dict[str, np.ndarray]
    tops: dict[str, list[int]]
    ranks: dict[str, dict[int, int]]
    statistics: dict[str, float]


@dataclass
class Expected:
    corpus_ids: np.ndarray
    seeds: list[int]
    results: dict[int, SeedResult]


@pytest.fixture(scope="module")
def data_paths() -> dict[str, Path]:
    return {
        "specter": shared_path(*DATA_DIR, "specter.vec.gz"),
        "proposed": shared_path(*DATA_DIR, "proposed.vec.gz"),
        "titles": shared_path(*DATA_DIR, "titles.tsv"),
    }


@pytest.fixture(scope="module")
def expected(data_paths) -> Expected:
    listed, usable = {}, {}
    for method in METHODS:
        listed[method], usable[method] = read_dump(data_paths[method], ABSENT_ROW_INDEXES[method])
    corpus_ids = np.array(sorted(set(listed["specter"]) | set(listed["proposed"])), dtype=np.int64)
    cosines = {method: cosine_matrix(corpus_ids, usable[method]) for method in METHODS}
    seeds = sorted(set(usable["specter"]) & set(usable["proposed"]))

    results = {}
    for seed in seeds:
        row = int(np.searchsorted(corpus_ids, seed))
        scores, tops, ranks = {}, {}, {}
        for method in METHODS:
            method_scores = cosines[method][row].copy()
            method_scores[row] = np.nan
            order = ordering(method_scores, corpus_ids)
            scores[method] = method_scores
            tops[method] = order[:K]
            ranks[method] = {candidate: rank for rank, candidate in enumerate(order, start=1)}
        top_a, top_b = set(tops["specter"]), set(tops["proposed"])
        union = sorted(top_a | top_b)
        spearman_union, kendall_union = correlations(
            scores["specter"][union], scores["proposed"][union])
        spearman_pool, kendall_pool = correlations(scores["specter"], scores["proposed"])
        results[seed] = SeedResult(row, scores, tops, ranks, {
            "overlap": len(top_a & top_b),
            "jaccard": len(top_a & top_b) / len(top_a | top_b),
            "spearman_union": spearman_union,
            "kendall_union": kendall_union,
            "spearman_pool": spearman_pool,
            "kendall_pool": kendall_pool,
            "missing_specter": int(corpus_ids.size - 1 - (~np.isnan(scores["specter"])).sum()),
            "missing_proposed": int(corpus_ids.size - 1 - (~np.isnan(scores["proposed"])).sum()),
            "n_pool": int(corpus_ids.size - 1),
        })
    return Expected(corpus_ids, seeds, results)


@pytest.fixture(scope="module")
def results_dir(data_paths, tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("quechua_mt")
    config = {
        "results_dir": str(work_dir / "results"),
        "logs_dir": str(work_dir / "logs"),
        "seeds": "all",
        "k": K,
        "shard_size": 100,
        "papers": {"path": str(data_paths["titles"]), "format": "tsv", "header_row": False},
        "methods": {
            "specter": {"format": "jsalt", "path": str(data_paths["specter"]), "label": "Specter"},
            "proposed": {"format": "jsalt", "path": str(data_paths["proposed"]), "label": "Proposed",
                         "absent_row_indexes": [-1, 0]},
        },
    }
    config_path = work_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    snakemake = Path(sys.executable).parent / "snakemake"
    completed = subprocess.run(
        [str(snakemake), "--cores", "2", "-s", str(REPO_ROOT / "Snakefile"),
         "--directory", str(work_dir), "--configfile", str(config_path)],
        cwd=work_dir, capture_output=True, text=True, timeout=900,
    )
    if completed.returncode != 0:
        pytest.fail(f"snakemake exited with {completed.returncode}:\n{completed.stderr[-4000:]}")
    return work_dir / "results"


@pytest.fixture(scope="module")
def per_seed(results_dir) -> pd.DataFrame:
    return pd.read_parquet(results_dir / "summary" / "per_seed.parquet")


@pytest.fixture(scope="module")
def scores(results_dir) -> pd.DataFrame:
    return pd.read_parquet(results_dir / "scores")


@pytest.fixture(scope="module")
def aggregate(results_dir) -> pd.DataFrame:
    return pd.read_parquet(results_dir / "summary" / "aggregate.parquet")


def expected_column(expected: Expected, per_seed: pd.DataFrame, column: str) -> np.ndarray:
    """Return the recomputed ``column`` in the row order of ``per_seed``."""
    return np.array([expected.results[int(seed)].statistics[column] for seed in per_seed["seed"]])


def test_recomputation_seed_count(expected):
    assert len(expected.seeds) == EXPECTED_SEEDS


def test_per_seed_one_row_per_seed(expected, per_seed):
    assert sorted(per_seed["seed"].tolist()) == expected.seeds


def test_per_seed_method_pair(per_seed):
    pairs = set(zip(per_seed["method_a"], per_seed["method_b"]))
    assert pairs == {("specter", "proposed")}


def test_per_seed_status_ok(per_seed):
    assert (per_seed["status"] == "ok").all()


def test_per_seed_overlap(expected, per_seed):
    assert per_seed["overlap"].tolist() == expected_column(expected, per_seed, "overlap").tolist()


def test_per_seed_jaccard(expected, per_seed):
    np.testing.assert_allclose(per_seed["jaccard"].to_numpy(float),
                               expected_column(expected, per_seed, "jaccard"), rtol=0, atol=1e-12)


@pytest.mark.parametrize("statistic", CORRELATIONS)
def test_per_seed_correlation(expected, per_seed, statistic):
    np.testing.assert_allclose(per_seed[statistic].to_numpy(float),
                               expected_column(expected, per_seed, statistic),
                               rtol=0, atol=CORRELATION_TOLERANCE)


@pytest.mark.parametrize("column", ["missing_specter", "missing_proposed", "n_pool"])
def test_per_seed_counts(expected, per_seed, column):
    assert per_seed[column].astype(int).tolist() == expected_column(expected, per_seed, column).tolist()


def test_scores_seeds(expected, scores):
    assert sorted(scores["seed"].unique().tolist()) == expected.seeds


def test_scores_seed_row_first(scores):
    first_rows = scores.groupby("seed", sort=False).head(1)
    assert first_rows["is_seed"].all()
    assert (first_rows["corpus_id"] == first_rows["seed"]).all()


def test_scores_one_seed_row_per_seed(scores):
    assert scores.groupby("seed")["is_seed"].sum().eq(1).all()


def test_scores_table_row_order(scores):
    wrong = [seed for seed, rows in scores.groupby("seed", sort=False)
             if rows["table_row"].tolist() != list(range(len(rows)))]
    assert wrong == []


def test_scores_rows_are_union(expected, scores):
    wrong = []
    for seed, rows in scores.groupby("seed", sort=False):
        result = expected.results[int(seed)]
        union = set(expected.corpus_ids[result.tops["specter"] + result.tops["proposed"]].tolist())
        candidates = rows["corpus_id"].tolist()[1:]
        if len(candidates) != len(union) or set(candidates) != union:
            wrong.append(int(seed))
    assert wrong == []


def test_scores_display_order(expected, scores):
    wrong = []
    for seed, rows in scores.groupby("seed", sort=False):
        result = expected.results[int(seed)]
        display = list(result.tops["specter"])
        display += [row for row in result.tops["proposed"] if row not in display]
        if rows["corpus_id"].tolist()[1:] != expected.corpus_ids[display].tolist():
            wrong.append(int(seed))
    assert wrong == []


@pytest.mark.parametrize("method", METHODS)
def test_scores_cosines(expected, scores, method):
    candidates = scores[~scores["is_seed"]]
    rows = np.searchsorted(expected.corpus_ids, candidates["corpus_id"].to_numpy())
    expected_scores = np.array([expected.results[int(seed)].scores[method][row]
                                for seed, row in zip(candidates["seed"], rows)])
    np.testing.assert_allclose(candidates[method].to_numpy(float), expected_scores,
                               rtol=0, atol=SCORE_TOLERANCE)


@pytest.mark.parametrize("method", METHODS)
def test_scores_seed_row_score(scores, method):
    seed_rows = scores[scores["is_seed"]]
    np.testing.assert_allclose(seed_rows[method].to_numpy(float), 1.0, rtol=0, atol=SCORE_TOLERANCE)


@pytest.mark.parametrize("method", METHODS)
def test_scores_top_flags(expected, scores, method):
    expected_flags = []
    for seed, corpus_id, is_seed in zip(scores["seed"], scores["corpus_id"], scores["is_seed"]):
        top = expected.corpus_ids[expected.results[int(seed)].tops[method]]
        expected_flags.append(not is_seed and corpus_id in top)
    assert scores[f"top_{method}"].tolist() == expected_flags


def test_scores_both_flag(expected, scores):
    expected_flags = []
    for seed, corpus_id, is_seed in zip(scores["seed"], scores["corpus_id"], scores["is_seed"]):
        tops = expected.results[int(seed)].tops
        in_every_top = all(corpus_id in expected.corpus_ids[tops[m]] for m in METHODS)
        expected_flags.append(bool(is_seed) or in_every_top)
    assert scores["both"].tolist() == expected_flags


@pytest.mark.parametrize("method", METHODS)
def test_scores_ranks(expected, scores, method):
    checked = expected.seeds[:: len(expected.seeds) // 6][:6]
    rows = scores[scores["seed"].isin(checked) & ~scores["is_seed"]]
    expected_ranks = []
    for seed, corpus_id in zip(rows["seed"], rows["corpus_id"]):
        row = int(np.searchsorted(expected.corpus_ids, corpus_id))
        expected_ranks.append(expected.results[int(seed)].ranks[method].get(row, pd.NA))
    actual = rows[f"rank_{method}"].astype("Int64")
    assert actual.tolist() == pd.array(expected_ranks, dtype="Int64").tolist()


@pytest.mark.parametrize("method", METHODS)
def test_scores_seed_row_rank_empty(scores, method):
    assert scores.loc[scores["is_seed"], f"rank_{method}"].isna().all()


def test_tables_one_per_seed(expected, results_dir):
    tables = sorted(int(path.stem) for path in (results_dir / "tables").glob("*.html"))
    assert tables == expected.seeds


def test_report_written(results_dir):
    assert (results_dir / "report.html").stat().st_size > 0


def aggregate_row(aggregate: pd.DataFrame, statistic: str) -> pd.Series:
    rows = aggregate[(aggregate["method_a"] == "specter") & (aggregate["method_b"] == "proposed")
                     & (aggregate["statistic"] == statistic)]
    assert len(rows) == 1
    return rows.iloc[0]


def expected_values(expected: Expected, statistic: str) -> np.ndarray:
    values = np.array([expected.results[seed].statistics[statistic] for seed in expected.seeds])
    return values[~np.isnan(values)]


@pytest.mark.parametrize("statistic", STATISTICS)
def test_aggregate_n(expected, aggregate, statistic):
    assert int(aggregate_row(aggregate, statistic)["n"]) == expected_values(expected, statistic).size


@pytest.mark.parametrize("statistic", STATISTICS)
def test_aggregate_mean(expected, aggregate, statistic):
    assert aggregate_row(aggregate, statistic)["mean"] == pytest.approx(
        expected_values(expected, statistic).mean(), rel=0, abs=1e-9)


@pytest.mark.parametrize("statistic", STATISTICS)
def test_aggregate_median(expected, aggregate, statistic):
    assert aggregate_row(aggregate, statistic)["median"] == pytest.approx(
        float(np.median(expected_values(expected, statistic))), rel=0, abs=1e-9)


@pytest.mark.parametrize("statistic", STATISTICS)
def test_aggregate_interval_contains_mean(aggregate, statistic):
    row = aggregate_row(aggregate, statistic)
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
