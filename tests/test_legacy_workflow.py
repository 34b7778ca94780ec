"""End-to-end: the workflow in import mode (legacy_tables) on a copy of real tables."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from conftest import shared_path
from test_workflow import run_snakemake

AUTHORS = ["Omer-Levy", "Ping-Li"]


@pytest.fixture(scope="module")
def legacy_run(tmp_path_factory):
    source = shared_path("data", "legacy_tables")
    workdir = tmp_path_factory.mktemp("legacy_run")
    for author in AUTHORS:
        shutil.copytree(source / author, workdir / "tables_in" / author)
    config = {"legacy_tables": str(workdir / "tables_in"), "bootstrap": {"n_resamples": 500}}
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_legacy_per_seed_and_groups(legacy_run):
    per_seed = pd.read_parquet(legacy_run / "results" / "summary" / "per_seed.parquet")
    files = sorted(p for author in AUTHORS for p in (legacy_run / "tables_in" / author / "both").glob("*.md"))
    assert len(per_seed) == len(files)
    assert set(per_seed["group"]) == set(AUTHORS)
    by_group = pd.read_parquet(legacy_run / "results" / "summary" / "aggregate_by_group.parquet")
    assert set(by_group["group"]) == set(AUTHORS) | {"all"}


def test_legacy_scores_read_in_one_call(legacy_run):
    scores = pd.read_parquet(legacy_run / "results" / "scores")
    assert {"seed", "corpus_id", "paper_id", "title", "specter", "proposed", "both", "group"} <= set(scores.columns)


def test_legacy_tables_rendered_and_indexed(legacy_run):
    # A table that failed to import has no rows, so it is not rendered again.
    seeds = pd.read_parquet(legacy_run / "results" / "scores")["seed"].unique()
    tables = {p.stem for p in (legacy_run / "results" / "tables").glob("*.html")}
    assert tables == {str(seed) for seed in seeds}
    soup = BeautifulSoup((legacy_run / "results" / "index.html").read_text(), "html.parser")
    links = {a["href"] for a in soup.find_all("a") if a["href"].startswith("tables/")}
    assert links == {f"tables/{name}.html" for name in tables}


def test_legacy_report_shows_groups(legacy_run):
    soup = BeautifulSoup((legacy_run / "results" / "report.html").read_text(), "html.parser")
    text = soup.get_text(" ")
    assert "By group" in text
    for author in AUTHORS:
        assert author in text
    assert "existing per-seed tables" in text
    assert "Synthetic demo data" not in text
