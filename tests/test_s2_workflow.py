"""End-to-end: the workflow with backend s2 against the mock API on 127.0.0.1."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from seedcompare.demo import generate_demo
from seedcompare.s2_mock import MockCorpus, MockFaults, MockS2Server
from test_workflow import run_snakemake

KEY_ENV = "SEEDCOMPARE_TEST_S2_KEY"
SECRET = "sk-test-SECRET-e2e-5c1b"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("s2_e2e_corpus")
    generate_demo(directory, n_papers=500, n_topics=5, n_seeds=12, random_seed=5)
    return directory


@pytest.fixture(scope="module")
def mock_corpus(corpus_dir):
    return MockCorpus(corpus_dir)


def s2_config(corpus_dir, server, cache, seeds, **s2_overrides):
    s2 = {"api_url": server.url, "api_key_env": KEY_ENV, "cache": str(cache),
          "requests_per_second": 500.0, "timeout_s": 2.0, "max_retries": 4, "backoff_s": 0.01,
          "backoff_max_s": 0.05, "max_retry_after_s": 5.0, "recommendations_limit": 20,
          "max_references": 50, "max_citations": 50}
    s2.update(s2_overrides)
    return {
        "backend": "s2",
        "seeds": seeds,
        "on_missing_seed": "skip",
        "k": 5,
        "shard_size": 4,
        "methods": {
            "specter": {"format": "s2", "label": "Specter"},
            "proposed": {"format": "jsalt", "path": str(corpus_dir / "proposed.vec.gz"), "label": "Proposed"},
        },
        "s2": s2,
        "bootstrap": {"n_resamples": 500},
    }


def demo_seeds(corpus_dir, count):
    seeds = pd.read_csv(corpus_dir / "seeds.tsv", sep="\t")["seed"].tolist()[:count]
    return [f"CorpusId:{seed}" for seed in seeds]


def read_vectors(corpus_dir):
    """The fixture's vectors as the mock serves them: specter float32, proposed from the dump."""
    specter = dict(zip(np.load(corpus_dir / "specter" / "ids.npy").tolist(),
                       np.load(corpus_dir / "specter" / "vectors.npy").astype(np.float64)))
    proposed = {}
    with gzip.open(corpus_dir / "proposed.vec.gz", "rt") as handle:
        for line in handle:
            fields = line.split()
            if fields[1] != "-1":
                proposed[int(fields[0])] = np.array(fields[2:], dtype=np.float32).astype(np.float64)
    return specter, proposed


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def clean_run(corpus_dir, mock_corpus, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("s2_clean")
    with MockS2Server(mock_corpus) as server:
        config = s2_config(corpus_dir, server, workdir / "cache.sqlite",
                           demo_seeds(corpus_dir, 8) + ["CorpusId:1"])
        result = run_snakemake(workdir, config, "--cores", "4", env={KEY_ENV: SECRET})
        assert result.returncode == 0, result.stderr[-4000:]
        first_counts = sum(server.counts.values())

        # A rerun from scratch with the same HTTP cache sends no request.
        server.reset()
        rerun = run_snakemake(workdir, config, "--cores", "4", "--forceall", env={KEY_ENV: SECRET})
        assert rerun.returncode == 0, rerun.stderr[-4000:]
        rerun_counts = sum(server.counts.values())
    return workdir, first_counts, rerun_counts


def test_s2_schema_matches_local(clean_run, tmp_path):
    workdir, _, _ = clean_run
    scores = pd.read_parquet(workdir / "results" / "scores")
    per_seed = pd.read_parquet(workdir / "results" / "summary" / "per_seed.parquet")
    local_scores_columns = ["seed", "corpus_id", "is_seed", "table_row", "paper_id", "title", "year",
                            "citation_count", "specter", "proposed", "rank_specter", "rank_proposed",
                            "top_specter", "top_proposed", "both"]
    assert list(scores.columns) == local_scores_columns
    assert str(scores["rank_specter"].dtype) == "Int64"
    assert "spearman_pool" in per_seed.columns
    assert (workdir / "results" / "report.html").exists()
    assert len(list((workdir / "results" / "tables").glob("*.html"))) == 8


def test_s2_scores_match_fixture_vectors(clean_run, corpus_dir):
    workdir, _, _ = clean_run
    specter, proposed = read_vectors(corpus_dir)
    scores = pd.read_parquet(workdir / "results" / "scores")
    candidates = pd.read_parquet(workdir / "results" / "s2" / "candidates.parquet")
    checked = 0
    for row in scores[~scores["is_seed"]].itertuples():
        pool = set(candidates.loc[candidates["seed"] == row.seed, "corpus_id"])
        assert row.corpus_id in pool
        for name, vectors in (("specter", specter), ("proposed", proposed)):
            value = getattr(row, name)
            if row.seed in vectors and row.corpus_id in vectors:
                assert value == pytest.approx(cosine(vectors[row.seed], vectors[row.corpus_id]), abs=1e-9)
                checked += 1
            else:
                assert np.isnan(value)
    assert checked > 50


def test_s2_pool_is_the_candidates(clean_run):
    workdir, _, _ = clean_run
    per_seed = pd.read_parquet(workdir / "results" / "summary" / "per_seed.parquet")
    candidates = pd.read_parquet(workdir / "results" / "s2" / "candidates.parquet")
    sizes = candidates.groupby("seed").size()
    for row in per_seed.itertuples():
        assert row.n_pool == sizes[row.seed]


def test_s2_missing_seed_listed(clean_run):
    workdir, _, _ = clean_run
    seeds = pd.read_parquet(workdir / "results" / "seeds" / "seeds.parquet")
    missing = seeds[seeds["input_id"] == "CorpusId:1"]
    assert missing["status"].tolist() == ["not_found"]
    report = BeautifulSoup((workdir / "results" / "report.html").read_text(), "html.parser").get_text(" ")
    assert "CorpusId:1" in report


def test_s2_rerun_sends_no_request(clean_run):
    _, first_counts, rerun_counts = clean_run
    assert first_counts > 0
    assert rerun_counts == 0


def test_s2_secret_not_written(clean_run):
    workdir, _, _ = clean_run
    for path in workdir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"API key found in {path}"


def test_s2_transient_faults_same_outputs(clean_run, corpus_dir, mock_corpus, tmp_path):
    clean_dir, _, _ = clean_run
    faults = MockFaults(transient_fraction=0.1, random_seed=4)
    with MockS2Server(mock_corpus, faults=faults) as server:
        config = s2_config(corpus_dir, server, tmp_path / "cache.sqlite",
                           demo_seeds(corpus_dir, 8) + ["CorpusId:1"])
        result = run_snakemake(tmp_path, config, "--cores", "4")
        assert result.returncode == 0, result.stderr[-4000:]
        assert any(r.fault for r in server.requests)
    for name in ("scores", "summary/per_seed.parquet"):
        expected = pd.read_parquet(clean_dir / "results" / name)
        actual = pd.read_parquet(tmp_path / "results" / name)
        pd.testing.assert_frame_equal(expected, actual)


def test_s2_permanent_seed_failure_reported(corpus_dir, mock_corpus, tmp_path):
    seeds = demo_seeds(corpus_dir, 6)
    failing = int(seeds[2].split(":")[1])
    faults = MockFaults(fail_corpus_ids={failing})
    with MockS2Server(mock_corpus, faults=faults) as server:
        config = s2_config(corpus_dir, server, tmp_path / "cache.sqlite", seeds, max_retries=1)
        result = run_snakemake(tmp_path, config, "--cores", "4", "--keep-going")
    assert result.returncode == 0, result.stderr[-4000:]
    per_seed = pd.read_parquet(tmp_path / "results" / "summary" / "per_seed.parquet")
    assert failing not in set(per_seed["seed"])
    assert len(per_seed) == 5
    seeds_table = pd.read_parquet(tmp_path / "results" / "seeds" / "seeds.parquet")
    failed = seeds_table[seeds_table["seed"] == failing].iloc[0]
    assert failed["status"] == "failed"
    assert "500" in failed["reason"]
    report = BeautifulSoup((tmp_path / "results" / "report.html").read_text(), "html.parser").get_text(" ")
    assert str(failing) in report
    assert "fetching candidates failed" in report


def test_seed_id_strings_file(tmp_path):
    from seedcompare.s2_stages import read_seed_id_strings

    path = tmp_path / "seeds.tsv"
    path.write_text("seed\tnote\nCorpusId:12\ta\n\t\n DOI:10.1/x \tb\n1234\tc\n")
    assert read_seed_id_strings(path) == ["CorpusId:12", "DOI:10.1/x", "1234"]


def test_s2_prone_from_fetched_edges(corpus_dir, mock_corpus, tmp_path):
    with MockS2Server(mock_corpus) as server:
        config = s2_config(corpus_dir, server, tmp_path / "cache.sqlite", demo_seeds(corpus_dir, 4))
        config["methods"]["proposed"] = {"format": "prone", "edges": "s2", "label": "Proposed",
                                         "prone": {"dim": 16}}
        result = run_snakemake(tmp_path, config, "--cores", "4")
    assert result.returncode == 0, result.stderr[-4000:]
    edges = pd.read_parquet(tmp_path / "results" / "s2" / "edges.parquet")
    ids = np.load(tmp_path / "results" / "prone" / "proposed" / "ids.npy")
    assert set(ids.tolist()) == set(edges["citing"]) | set(edges["cited"])
    scores = pd.read_parquet(tmp_path / "results" / "scores")
    assert scores.loc[~scores["is_seed"], "proposed"].notna().any()
