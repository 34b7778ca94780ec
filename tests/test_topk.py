"""Blocked float32 top-k and ranks against the direct float64 computation, ties included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedcompare.config import MethodSpec
from seedcompare.corpus import InputDataError, MethodVectors, load_method_vectors, read_jsalt_embedding_dir
from seedcompare.scoring import align_method, score_seeds
from seedcompare.stats import ranks_of, top_k
from seedcompare.topk import block_ranks, block_top_k, round_scores, row_norms


def _direct(vectors, ids, query_row, k):
    """Float64 cosines of one query row against all rows, the query excluded."""
    data = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(data, axis=1)
    scores = round_scores(data @ data[query_row] / (norms * norms[query_row]))
    scores[query_row] = np.nan
    rows = top_k(scores, ids, k)
    return rows, scores


def _random_corpus(rng, n, dim, duplicates=0, dtype=np.float32):
    vectors = rng.normal(size=(n, dim)).astype(dtype)
    for i in range(duplicates):
        vectors[n - 1 - i] = vectors[i]  # exact duplicates give exactly tied scores
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    return vectors, ids


@pytest.mark.parametrize("block_rows", [7, 64, 10_000])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_block_top_k_matches_direct(block_rows, k):
    rng = np.random.default_rng(block_rows + k)
    vectors, ids = _random_corpus(rng, 500, 24)
    queries = np.arange(0, 500, 37)
    result = block_top_k(vectors, ids, vectors[queries], k, exclude_rows=queries, block_rows=block_rows)
    for q, query_row in enumerate(queries):
        expected_rows, scores = _direct(vectors, ids, query_row, k)
        assert result.rows[q].tolist() == expected_rows.tolist()
        assert np.allclose(result.scores[q], scores[expected_rows], rtol=0, atol=1e-12)


def test_block_top_k_ties_use_smaller_id():
    rng = np.random.default_rng(3)
    vectors, ids = _random_corpus(rng, 300, 16, duplicates=40)
    # Several copies of the same vector: the query's neighbours tie exactly.
    vectors[100:110] = vectors[5]
    queries = np.array([5, 0, 1, 299])
    result = block_top_k(vectors, ids, vectors[queries], 8, exclude_rows=queries, block_rows=50)
    for q, query_row in enumerate(queries):
        expected_rows, _ = _direct(vectors, ids, query_row, 8)
        assert result.rows[q].tolist() == expected_rows.tolist()


def test_block_top_k_float16_storage():
    rng = np.random.default_rng(4)
    vectors, ids = _random_corpus(rng, 400, 32, dtype=np.float16)
    queries = np.array([0, 17, 399])
    result = block_top_k(vectors, ids, vectors[queries], 10, exclude_rows=queries, block_rows=64)
    for q, query_row in enumerate(queries):
        expected_rows, _ = _direct(vectors, ids, query_row, 10)
        assert result.rows[q].tolist() == expected_rows.tolist()


def test_block_top_k_small_corpus_pads():
    vectors = np.eye(3, dtype=np.float32) + 0.1
    ids = np.array([3, 1, 2])
    result = block_top_k(vectors, ids, vectors[[0]], 5, exclude_rows=np.array([0]))
    # Rows 1 and 2 tie exactly, so the smaller corpus id (row 1, id 1) comes first.
    assert result.rows[0, :2].tolist() == [1, 2]
    assert (result.rows[0, 2:] == -1).all()
    assert np.isnan(result.scores[0, 2:]).all()


def test_block_ranks_match_direct():
    rng = np.random.default_rng(5)
    vectors, ids = _random_corpus(rng, 600, 20, duplicates=30)
    norms = row_norms(vectors)
    query_row = 3
    _, scores = _direct(vectors, ids, query_row, 10)
    targets = np.array([0, 7, 100, 599, 570, 42])
    ranks = block_ranks(vectors, ids, norms, vectors[query_row], query_row, targets, scores[targets],
                        block_rows=33)
    expected = ranks_of(scores, ids, targets)
    assert ranks.tolist() == expected.astype(int).tolist()


def test_fast_path_equals_pool_path():
    rng = np.random.default_rng(6)
    corpus_ids = np.sort(rng.permutation(5000)[:300]).astype(np.int64)
    text = rng.normal(size=(300, 12)).astype(np.float32)
    graph = rng.normal(size=(280, 6)).astype(np.float32)
    graph[50:60] = graph[0]  # exact ties in the second method
    methods = [
        align_method("text", MethodVectors(corpus_ids, text, pd.DataFrame()), corpus_ids),
        align_method("graph", MethodVectors(corpus_ids[:280], graph, pd.DataFrame()), corpus_ids),
    ]
    papers = pd.DataFrame({"corpus_id": pd.Series(dtype="int64"), "paper_id": pd.Series(dtype="string"),
                           "title": pd.Series(dtype="string"), "year": pd.Series(dtype="Int64"),
                           "citation_count": pd.Series(dtype="Int64")})
    seeds = corpus_ids[[0, 1, 2, 290, 299, 55]]
    full_scores, full_stats = score_seeds(seeds, corpus_ids, methods, papers, 7, seed_batch=4)
    fast_scores, fast_stats = score_seeds(seeds, corpus_ids, methods, papers, 7, pool_statistics=False,
                                          seed_batch=4, block_rows=37)
    pd.testing.assert_frame_equal(full_scores.drop(columns=["text", "graph"]),
                                  fast_scores.drop(columns=["text", "graph"]))
    assert np.allclose(full_scores[["text", "graph"]].to_numpy(float),
                       fast_scores[["text", "graph"]].to_numpy(float), rtol=0, atol=1e-12, equal_nan=True)
    for column in ["overlap", "jaccard", "spearman_union", "kendall_union", "status"]:
        assert full_stats[column].equals(fast_stats[column]), column
    assert fast_stats.loc[fast_stats["status"] == "ok", "spearman_pool"].isna().all()
    assert fast_stats.loc[fast_stats["status"] == "ok", "pool_reason"].str.contains("pool statistics").all()


def _write_jsalt_dir(directory, vectors, id_to_row, map_size):
    directory.mkdir()
    np.asarray(vectors, dtype=np.float32).tofile(directory / "embedding.f")
    (directory / "record_size").write_text(f"{vectors.shape[1]}\n")
    old_to_new = np.full(map_size, -1, dtype=np.int32)
    new_to_old = np.full(vectors.shape[0], -1, dtype=np.int32)
    for corpus_id, row in id_to_row.items():
        old_to_new[corpus_id] = row
        if 0 < row < vectors.shape[0]:
            new_to_old[row] = corpus_id
    old_to_new.tofile(directory / "map.old_to_new.i")
    new_to_old.tofile(directory / "map.new_to_old.i")


def test_jsalt_dir_reader(tmp_path):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(6, 4)).astype(np.float32)
    # Corpus id 3 maps to row 0 and id 8 to -1: both mean "absent".
    _write_jsalt_dir(tmp_path / "emb", vectors, {2: 1, 3: 0, 5: 5, 9: 2, 8: -1}, map_size=10)
    ids, mapped_vectors, rows = read_jsalt_embedding_dir(tmp_path / "emb")
    assert ids.tolist() == [2, 5, 9]
    assert rows.tolist() == [1, 5, 2]
    assert np.array_equal(np.asarray(mapped_vectors[rows]), vectors[[1, 5, 2]])


def test_jsalt_dir_method_vectors(tmp_path):
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(5, 3)).astype(np.float32)
    vectors[4] = 0.0
    _write_jsalt_dir(tmp_path / "emb", vectors, {11: 1, 12: 4, 13: 3}, map_size=20)
    method = load_method_vectors(MethodSpec("p", "P", "jsalt_dir", str(tmp_path / "emb"), (-1,)))
    assert method.ids.tolist() == [11, 13]
    assert np.array_equal(method.vectors, vectors[[1, 3]])
    assert method.missing.to_dict("list") == {"corpus_id": [12], "reason": ["zero_vector"]}


def test_jsalt_dir_size_mismatch(tmp_path):
    _write_jsalt_dir(tmp_path / "emb", np.ones((3, 4), dtype=np.float32), {1: 1}, map_size=4)
    (tmp_path / "emb" / "record_size").write_text("5\n")
    with pytest.raises(InputDataError, match="dimension mismatch.*48 bytes.*4 x 5"):
        read_jsalt_embedding_dir(tmp_path / "emb")


def test_jsalt_dir_row_beyond_embedding(tmp_path):
    _write_jsalt_dir(tmp_path / "emb", np.ones((3, 4), dtype=np.float32), {1: 7}, map_size=4)
    with pytest.raises(InputDataError, match="beyond the 3 rows"):
        read_jsalt_embedding_dir(tmp_path / "emb")


def test_jsalt_dir_missing_file(tmp_path):
    _write_jsalt_dir(tmp_path / "emb", np.ones((3, 4), dtype=np.float32), {1: 1}, map_size=4)
    (tmp_path / "emb" / "map.new_to_old.i").unlink()
    with pytest.raises(InputDataError, match="missing file map.new_to_old.i"):
        read_jsalt_embedding_dir(tmp_path / "emb")


def test_topk_command_matches_direct(tmp_path):
    from seedcompare.cli import main

    rng = np.random.default_rng(9)
    vectors, ids = _random_corpus(rng, 250, 10, duplicates=5)
    vectors[7] = 0.0  # a zero vector is never a neighbour and cannot be a seed
    (tmp_path / "emb").mkdir()
    np.save(tmp_path / "emb" / "vectors.npy", vectors)
    np.save(tmp_path / "emb" / "ids.npy", ids)
    seeds = [int(ids[0]), int(ids[3]), int(ids[7])]
    pd.DataFrame({"seed": seeds}).to_csv(tmp_path / "seeds.tsv", sep="\t", index=False)
    code = main(["topk", "--embedding", str(tmp_path / "emb"), "--seeds", str(tmp_path / "seeds.tsv"),
                 "-k", "6", "--out", str(tmp_path / "out.parquet"), "--block-rows", "40"])
    assert code == 0
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert sorted(table["seed"].unique().tolist()) == sorted(seeds[:2])

    usable_rows = np.delete(np.arange(250), 7)
    for seed_row in (0, 3):
        query = int(np.searchsorted(usable_rows, seed_row))
        expected_rows, scores = _direct(vectors[usable_rows], ids[usable_rows], query, 6)
        rows = table[table["seed"] == ids[seed_row]].sort_values("rank")
        assert rows["corpus_id"].tolist() == ids[usable_rows][expected_rows].tolist()
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5, 6]
        assert np.allclose(rows["score"], scores[expected_rows], rtol=0, atol=1e-12)


def test_npy_row_reader_matches_array(tmp_path):
    from seedcompare.corpus import NpyRowReader

    matrix = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "m.npy", matrix)
    reader = NpyRowReader(tmp_path / "m.npy")
    assert reader.shape == (20, 3)
    assert np.array_equal(reader[3:9], matrix[3:9])
    assert np.array_equal(reader[::4], matrix[::4])
    assert np.array_equal(reader[7], matrix[7])
    assert np.array_equal(reader[-1], matrix[-1])
    for rows in ([5, 1, 2, 3, 19, 1], [0], [18, 19], []):
        assert np.array_equal(reader[np.array(rows, dtype=np.int64)], matrix[np.array(rows, dtype=np.int64)])
    mask = np.zeros(20, dtype=bool)
    mask[[2, 3, 11]] = True
    assert np.array_equal(reader[mask], matrix[mask])
    with pytest.raises(IndexError):
        reader[np.array([20])]


def test_block_ranks_batch_matches_direct():
    from seedcompare.topk import block_ranks_batch

    rng = np.random.default_rng(12)
    vectors, ids = _random_corpus(rng, 400, 12, duplicates=25)
    norms = row_norms(vectors)
    queries = np.array([3, 10, 399])
    targets = [np.array([0, 5, 390, 375]), np.array([]), np.array([1, 2, 398])]
    target_scores = []
    for query_row, rows in zip(queries, targets):
        _, scores = _direct(vectors, ids, query_row, 10)
        target_scores.append(scores[rows.astype(int)])
    ranks = block_ranks_batch(vectors, ids, norms, vectors[queries], queries,
                              [t.astype(np.int64) for t in targets], target_scores, block_rows=37)
    for query_row, rows, found in zip(queries, targets, ranks):
        _, scores = _direct(vectors, ids, query_row, 10)
        assert found.tolist() == ranks_of(scores, ids, rows.astype(int)).astype(int).tolist()
