"""End-to-end: run the Snakemake workflow on a tiny demo and check every output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from conftest import REPO_ROOT
from seedcompare.demo import generate_demo

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
RULES_WITH_LOGS = ["make_demo", "vectors", "corpus", "seeds", "score_shard", "summary", "tables",
                   "index", "report"]


def run_snakemake(workdir: Path, config: dict, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with ``config`` written to a file there.

    ``extra`` arguments come last, so a later ``--cores`` overrides the default of 2.
    """
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--snakefile", str(REPO_ROOT / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(config_path), *extra],
        capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})},
    )


def tiny_demo_config() -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    config["demo"] = {"n_papers": 300, "n_topics": 5, "n_seeds": 20, "random_seed": 3}
    config["shard_size"] = 8
    config["k"] = 5
    config["bootstrap"] = {"n_resamples": 500, "confidence_level": 0.9, "random_seed": 1}
    return config


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    result = run_snakemake(workdir, tiny_demo_config())
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_scores_read_in_one_call(demo_run):
    scores = pd.read_parquet(demo_run / "results" / "scores")
    expected = ["seed", "corpus_id", "is_seed", "table_row", "paper_id", "title", "year",
                "citation_count", "specter", "proposed", "rank_specter", "rank_proposed",
                "top_specter", "top_proposed", "both"]
    assert list(scores.columns) == expected
    assert len(list((demo_run / "results" / "scores").glob("shard-*.parquet"))) == 3
    assert scores["seed"].nunique() == 20


def test_scores_rows_per_seed(demo_run):
    scores = pd.read_parquet(demo_run / "results" / "scores")
    for seed, rows in scores.groupby("seed"):
        rows = rows.sort_values("table_row")
        assert rows["is_seed"].iloc[0]
        assert rows["corpus_id"].iloc[0] == seed
        assert rows["is_seed"].sum() == 1
        non_seed = rows[~rows["is_seed"]]
        assert (non_seed["top_specter"] | non_seed["top_proposed"]).all()
        assert non_seed["top_specter"].sum() <= 5
        assert non_seed["top_proposed"].sum() <= 5
        assert non_seed["corpus_id"].is_unique


def test_per_seed_summary(demo_run):
    per_seed = pd.read_parquet(demo_run / "results" / "summary" / "per_seed.parquet")
    scores = pd.read_parquet(demo_run / "results" / "scores")
    assert len(per_seed) == 20
    assert set(per_seed["status"]) <= {"ok", "seed_missing"}
    ok = per_seed[per_seed["status"] == "ok"].set_index("seed")
    non_seed = scores[~scores["is_seed"]]
    both_counts = non_seed.groupby("seed")["both"].sum()
    for seed, row in ok.iterrows():
        assert row["overlap"] == both_counts[seed]
        assert row["n_union"] == (non_seed["seed"] == seed).sum()
    assert (per_seed["missing_specter"] >= 0).all()
    assert (per_seed["n_pool"] == 299).all()


def test_seed_missing_in_proposed_is_reported(demo_run):
    per_seed = pd.read_parquet(demo_run / "results" / "summary" / "per_seed.parquet")
    missing = per_seed[per_seed["status"] == "seed_missing"]
    assert len(missing) == 1
    assert "proposed" in missing["status_detail"].iloc[0]


def test_aggregate(demo_run):
    aggregate = pd.read_parquet(demo_run / "results" / "summary" / "aggregate.parquet")
    per_seed = pd.read_parquet(demo_run / "results" / "summary" / "per_seed.parquet")
    ok = per_seed[per_seed["status"] == "ok"]
    assert set(aggregate["statistic"]) == {"overlap", "jaccard", "spearman_union", "kendall_union",
                                          "spearman_pool", "kendall_pool"}
    for row in aggregate.itertuples():
        values = ok[row.statistic].dropna()
        assert row.n == len(values)
        assert row.mean == pytest.approx(values.mean())
        assert row.median == pytest.approx(values.median())
        assert row.ci_low <= row.mean <= row.ci_high
        assert row.confidence_level == 0.9


def _table_rows(path: Path):
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    rows = soup.find_all("tr")
    header = [cell.get_text() for cell in rows[0].find_all("th")]
    return header, [row.find_all("td") for row in rows[1:]]


def test_tables_match_scores(demo_run):
    scores = pd.read_parquet(demo_run / "results" / "scores")
    tables = sorted((demo_run / "results" / "tables").glob("*.html"))
    assert len(tables) == 20
    for path in tables:
        seed = int(path.stem)
        header, cells = _table_rows(path)
        assert header == ["Both", "Specter", "Proposed", "Paper"]
        expected = scores[scores["seed"] == seed].sort_values("table_row")
        assert len(cells) == len(expected)
        for row_cells, row in zip(cells, expected.itertuples()):
            both, specter, proposed, paper = (cell.get_text() for cell in row_cells)
            assert both == ("1" if row.both else "0")
            assert specter == ("NA" if np.isnan(row.specter) else f"{row.specter:.6f}")
            assert proposed == ("NA" if np.isnan(row.proposed) else f"{row.proposed:.6f}")
            link = row_cells[3].find("a")
            if pd.isna(row.title):
                assert paper == f"NA:{row.corpus_id}"
                assert link is None
                continue
            prefix = "" if pd.isna(row.citation_count) else f"{row.citation_count}: "
            assert paper == prefix + row.title
            if pd.isna(row.paper_id):
                assert link["href"] == f"https://api.semanticscholar.org/CorpusID:{row.corpus_id}"
            else:
                assert link["href"] == f"https://www.semanticscholar.org/paper/{row.paper_id}"


def test_seed_row_first_in_tables(demo_run):
    for path in (demo_run / "results" / "tables").glob("*.html"):
        _, cells = _table_rows(path)
        first = [cell.get_text() for cell in cells[0]]
        assert first[1] in ("1.000000", "NA")
        assert first[2] in ("1.000000", "NA")


def test_index_links_every_table(demo_run):
    soup = BeautifulSoup((demo_run / "results" / "index.html").read_text(), "html.parser")
    links = {a["href"] for a in soup.find_all("a") if a["href"].startswith("tables/")}
    tables = {f"tables/{p.name}" for p in (demo_run / "results" / "tables").glob("*.html")}
    assert links == tables
    assert "Synthetic demo data" in soup.get_text()


def test_report_sections(demo_run):
    soup = BeautifulSoup((demo_run / "results" / "report.html").read_text(), "html.parser")
    text = soup.get_text(" ")
    assert "Synthetic demo data" in text
    assert "Specter vs Proposed" in text
    assert "selection" in text
    assert len(soup.find_all("img")) == 2
    problems = soup.find_all("h2")[-1].find_next("table")
    assert problems is not None
    assert "seed_missing" in problems.get_text()


def test_every_rule_has_a_log(demo_run):
    for rule in RULES_WITH_LOGS:
        logs = list((demo_run / "logs" / rule).glob("*.log"))
        assert logs, f"no log for rule {rule}"
        assert all("finished" in log.read_text() for log in logs)


def test_rerun_has_nothing_to_do(demo_run):
    result = run_snakemake(demo_run, tiny_demo_config(), "--dry-run")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_skipped_seed_listed_in_report(tmp_path):
    demo_config = tiny_demo_config()
    generate_demo(tmp_path / "preview", **demo_config["demo"])
    real_seeds = pd.read_csv(tmp_path / "preview" / "seeds.tsv", sep="\t")["seed"].tolist()[:3]
    config = tiny_demo_config()
    del config["seeds_file"]
    config["seeds"] = real_seeds + [1, real_seeds[0]]
    config["on_missing_seed"] = "skip"
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    seeds = pd.read_parquet(tmp_path / "results" / "seeds" / "seeds.parquet")
    assert seeds["seed"].tolist() == real_seeds + [1]
    assert seeds["status"].tolist() == ["ok", "ok", "ok", "skipped_not_in_corpus"]
    soup = BeautifulSoup((tmp_path / "results" / "report.html").read_text(), "html.parser")
    problems = soup.find_all("h2")[-1].find_next("table").get_text(" ")
    assert "skipped_not_in_corpus" in problems
    assert "duplicate" in (tmp_path / "logs" / "seeds" / "seeds.log").read_text()


def test_all_seeds_missing_fails(tmp_path):
    config = tiny_demo_config()
    del config["seeds_file"]
    config["seeds"] = [1, 2]
    config["on_missing_seed"] = "skip"
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    assert "no seed left to score" in (tmp_path / "logs" / "seeds" / "seeds.log").read_text()


def test_missing_seed_error_lists_ids(tmp_path):
    config = tiny_demo_config()
    del config["seeds_file"]
    config["seeds"] = [1, 2]
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "seeds" / "seeds.log").read_text()
    assert "2 seed(s) not in the corpus: 1, 2" in log
    assert "on_missing_seed: skip" in log


def test_lint_is_clean(tmp_path):
    result = subprocess.run([SNAKEMAKE, "--lint", "--snakefile", str(REPO_ROOT / "Snakefile")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
