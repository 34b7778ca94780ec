"""Tests of cosine scoring, missing vectors, display order and per-seed statistics."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from seedcompare.config import MethodSpec
from seedcompare.corpus import empty_papers, load_method_vectors
from seedcompare.scoring import align_method, score_seeds


def _write_dump(path, ids, vectors, row_indexes):
    with gzip.open(path, "wt") as handle:
        for corpus_id, row_index, vector in zip(ids, row_indexes, vectors):
            handle.write(f"{corpus_id} {row_index} " + " ".join(f"{v:.6f}" for v in vector) + "\n")


@pytest.fixture
def small_corpus(tmp_path):
    """Forty papers, two methods; some papers are missing in one method for each reason."""
    rng = np.random.default_rng(11)
    ids = np.arange(1000, 1040, dtype=np.int64) * 7
    text = rng.normal(size=(40, 8)).astype(np.float32)
    graph = (text[:, :5] + 0.5 * rng.normal(size=(40, 5))).astype(np.float32)
    text[3] = 0.0  # zero vector
    text[4, 2] = np.nan  # NaN component
    graph_rows = np.arange(1, 41)
    graph_rows[5] = -1  # absent
    graph_rows[6] = 0  # absent by the configured placeholder index
    (tmp_path / "text").mkdir()
    np.save(tmp_path / "text" / "vectors.npy", text)
    np.save(tmp_path / "text" / "ids.npy", ids)
    _write_dump(tmp_path / "graph.vec.gz", ids, graph, graph_rows)
    text_method = load_method_vectors(MethodSpec("text", "Text", "npy", str(tmp_path / "text"), (-1,)))
    graph_method = load_method_vectors(MethodSpec("graph", "Graph", "jsalt", str(tmp_path / "graph.vec.gz"), (-1, 0)))
    return ids, text, graph, text_method, graph_method


def _cosines(vectors, seed_row):
    """Cosines in float64; rows with a zero or NaN vector come out NaN."""
    vectors = vectors.astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return vectors @ vectors[seed_row] / (norms * norms[seed_row])


def test_missing_vectors_are_reported(small_corpus):
    _, _, _, text_method, graph_method = small_corpus
    assert sorted(text_method.missing["reason"]) == ["nonfinite_vector", "zero_vector"]
    assert sorted(graph_method.missing["reason"]) == ["absent", "absent"]
    assert text_method.ids.size == 38
    assert graph_method.ids.size == 38


def test_scores_match_direct_cosines(small_corpus):
    ids, text, graph, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    scores, per_seed = score_seeds([ids[0]], ids, methods, empty_papers(), k=5)

    expected_text = _cosines(text, 0)
    expected_graph = _cosines(graph, 0)
    rows = scores[~scores["is_seed"]].set_index("corpus_id")
    for corpus_id, row in rows.iterrows():
        position = int(np.flatnonzero(ids == corpus_id)[0])
        if position in (3, 4):
            assert np.isnan(row["text"])
        else:
            assert row["text"] == pytest.approx(expected_text[position], abs=1e-6)
        if position in (5, 6):
            assert np.isnan(row["graph"])
        else:
            assert row["graph"] == pytest.approx(expected_graph[position], abs=1e-5)


def test_top_k_and_flags(small_corpus):
    ids, text, graph, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    scores, per_seed = score_seeds([ids[0]], ids, methods, empty_papers(), k=5)

    text_scores = _cosines(text, 0)
    text_scores[[0, 3, 4]] = np.nan
    expected_top = ids[np.argsort(-np.nan_to_num(text_scores, nan=-9))[:5]]
    top_rows = scores[scores["top_text"]].sort_values("rank_text")
    assert top_rows["corpus_id"].tolist() == expected_top.tolist()
    assert top_rows["rank_text"].tolist() == [1, 2, 3, 4, 5]

    non_seed = scores[~scores["is_seed"]]
    assert (non_seed["both"] == (non_seed["top_text"] & non_seed["top_graph"])).all()
    overlap = int(non_seed["both"].sum())
    assert per_seed.iloc[0]["overlap"] == overlap
    assert per_seed.iloc[0]["jaccard"] == pytest.approx(overlap / len(non_seed))


def test_display_order(small_corpus):
    ids, _, _, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    scores, _ = score_seeds([ids[1]], ids, methods, empty_papers(), k=6)
    scores = scores.sort_values("table_row")
    assert scores["is_seed"].iloc[0]
    assert scores["text"].iloc[0] == 1.0
    first_block = scores.iloc[1:7]
    assert first_block["top_text"].all()
    assert first_block["text"].is_monotonic_decreasing
    rest = scores.iloc[7:]
    assert not rest["top_text"].any()
    assert rest["top_graph"].all()
    assert rest["graph"].is_monotonic_decreasing


def test_pool_correlation_matches_scipy(small_corpus):
    ids, text, graph, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    _, per_seed = score_seeds([ids[2]], ids, methods, empty_papers(), k=5)
    x, y = _cosines(text, 2), _cosines(graph, 2)
    keep = np.ones(40, dtype=bool)
    keep[[2, 3, 4, 5, 6]] = False
    row = per_seed.iloc[0]
    assert row["n_pool_both"] == 35
    assert row["spearman_pool"] == pytest.approx(scipy_stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-5)
    assert row["kendall_pool"] == pytest.approx(scipy_stats.kendalltau(x[keep], y[keep]).statistic, abs=1e-5)
    assert row["missing_text"] == 2
    assert row["missing_graph"] == 2
    assert row["n_pool"] == 39


def test_seed_missing_in_a_method(small_corpus):
    ids, _, _, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    scores, per_seed = score_seeds([ids[5]], ids, methods, empty_papers(), k=5)
    row = per_seed.iloc[0]
    assert row["status"] == "seed_missing"
    assert "graph" in row["status_detail"]
    assert np.isnan(row["overlap"])
    seed_row = scores[scores["is_seed"]].iloc[0]
    assert seed_row["text"] == 1.0
    assert np.isnan(seed_row["graph"])
    assert not seed_row["both"]
    assert scores["top_text"].sum() == 5
    assert row["missing_graph"] == 1


def test_failed_seed_keeps_other_seeds(small_corpus):
    ids, _, _, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    scores, per_seed = score_seeds([12345, ids[0]], ids, methods, empty_papers(), k=5)
    statuses = dict(zip(per_seed["seed"], per_seed["status"]))
    assert statuses[12345] == "failed"
    assert statuses[int(ids[0])] == "ok"
    assert set(scores["seed"]) == {int(ids[0])}


def test_metadata_joined(small_corpus):
    ids, _, _, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids)]
    papers = pd.DataFrame({"corpus_id": ids[:1], "paper_id": ["a" * 40], "title": ["Seed title"],
                           "year": [2020], "citation_count": [7]})
    papers = papers.astype({"paper_id": "string", "title": "string", "year": "Int64", "citation_count": "Int64"})
    scores, _ = score_seeds([ids[0]], ids, methods, papers, k=5)
    seed_row = scores[scores["is_seed"]].iloc[0]
    assert seed_row["title"] == "Seed title"
    assert seed_row["citation_count"] == 7
    assert scores[~scores["is_seed"]]["title"].isna().all()


def test_three_methods_give_every_pair(small_corpus):
    ids, _, _, text_method, graph_method = small_corpus
    methods = [align_method("text", text_method, ids), align_method("graph", graph_method, ids),
               align_method("again", text_method, ids)]
    scores, per_seed = score_seeds([ids[0]], ids, methods, empty_papers(), k=5)
    pairs = set(zip(per_seed["method_a"], per_seed["method_b"]))
    assert pairs == {("text", "graph"), ("text", "again"), ("graph", "again")}
    identical = per_seed[(per_seed["method_a"] == "text") & (per_seed["method_b"] == "again")].iloc[0]
    assert identical["overlap"] == 5
    assert identical["spearman_pool"] == pytest.approx(1.0)
    assert "again" in scores.columns
