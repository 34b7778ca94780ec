"""Tests of bad input, each of which must raise an error that names the problem and its place.

Most tests call the library directly. The last ones run the Snakemake workflow on a tiny corpus
and check the exit status and the rule's log file.
"""

from __future__ import annotations

import gzip
import logging
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO_ROOT
from seedcompare.config import ConfigError, MethodSpec, load_config, validate_config
from seedcompare.corpus import (
    InputDataError,
    load_method_vectors,
    read_jsalt_dump,
    read_npy_vectors,
    read_papers,
)
from seedcompare.render import paper_cell, render_seed_table
from seedcompare.seeds import SeedError, read_seeds_file, resolve_seeds

SCRIPT_TITLE = """<script>alert(1)</script> "Quechua" & 'MT' <b>bold</b>"""
NOT_IN_CORPUS = (424242, 535353)


def base_config() -> dict:
    return {
        "seeds": [1, 2],
        "methods": {
            "specter": {"format": "npy", "path": "vectors/specter"},
            "proposed": {"format": "jsalt", "path": "vectors/proposed.vec.gz"},
        },
    }


def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    return str(raised.value)


def input_error(function, *arguments) -> str:
    with pytest.raises(InputDataError) as raised:
        function(*arguments)
    return str(raised.value)


def dump_line(corpus_id: int, row_index: int, values) -> str:
    return f"{corpus_id} {row_index} " + " ".join(str(value) for value in values) + "\n"


# Configuration


def test_config_base_valid():
    assert validate_config(base_config())["on_missing_seed"] == "error"


def test_config_on_missing_seed_value():
    config = base_config() | {"on_missing_seed": "ignore"}
    message = config_error(config)
    assert "on_missing_seed" in message
    assert "'error'" in message
    assert "'skip'" in message


def test_config_method_format():
    config = base_config()
    config["methods"]["specter"]["format"] = "hdf5"
    message = config_error(config)
    assert "methods.specter.format" in message
    assert "'npy'" in message
    assert "'jsalt'" in message


def test_config_k_zero():
    message = config_error(base_config() | {"k": 0})
    assert "'k'" in message
    assert re.search(r"minimum\D*1\b", message)


def test_config_unknown_key():
    message = config_error(base_config() | {"neighbours": 10})
    assert "'neighbours'" in message
    assert "on_missing_seed" in message
    assert "seeds_file" in message


def test_config_seeds_and_seeds_file():
    message = config_error(base_config() | {"seeds_file": "seeds.tsv"})
    assert "'seeds'" in message
    assert "'seeds_file'" in message


def test_config_no_seeds():
    config = base_config()
    del config["seeds"]
    message = config_error(config)
    assert "'seeds'" in message
    assert "'seeds_file'" in message


def test_config_file_unknown_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config() | {"neighbours": 10}), encoding="utf-8")
    with pytest.raises(ConfigError, match="'neighbours'"):
        load_config(path)


def test_config_file_missing(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path)


# Vector dumps and npy folders


def test_dump_malformed_value(tmp_path):
    path = tmp_path / "proposed.vec"
    path.write_text(dump_line(11, 1, [0.1, 0.2, 0.3]) + dump_line(12, 2, [0.1, 0.2, 0.3])
                    + "13 3 0.1 zero 0.3\n", encoding="utf-8")
    assert f"{path}:3" in input_error(read_jsalt_dump, path)


def test_dump_malformed_value_gzip(tmp_path):
    path = tmp_path / "proposed.vec.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(dump_line(11, 1, [0.1, 0.2]) + "12 two 0.1 0.2\n")
    assert f"{path}:2" in input_error(read_jsalt_dump, path)


def test_dump_short_line(tmp_path):
    path = tmp_path / "proposed.vec"
    path.write_text(dump_line(11, 1, [0.1, 0.2]) + "12 2\n", encoding="utf-8")
    assert f"{path}:2" in input_error(read_jsalt_dump, path)


def test_dump_dimension_mismatch(tmp_path):
    path = tmp_path / "proposed.vec"
    lines = [dump_line(10 + i, i, [0.5] * 7) for i in range(3)] + [dump_line(13, 3, [0.5] * 9)]
    path.write_text("".join(lines), encoding="utf-8")
    message = input_error(read_jsalt_dump, path)
    assert f"{path}:4" in message
    rest = message.replace(f"{path}:4", "")
    assert re.search(r"\b7\b", rest)
    assert re.search(r"\b9\b", rest)


def test_dump_missing_file(tmp_path):
    path = tmp_path / "absent.vec.gz"
    assert str(path) in input_error(read_jsalt_dump, path)


def test_dump_truncated_gzip(tmp_path):
    path = tmp_path / "proposed.vec.gz"
    text = "".join(dump_line(i, i, np.linspace(-1, 1, 16).round(6)) for i in range(1, 3000))
    compressed = gzip.compress(text.encode("utf-8"))
    path.write_bytes(compressed[: len(compressed) // 2])
    assert str(path) in input_error(read_jsalt_dump, path)


def test_npy_length_mismatch(tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(3, dtype=np.int64))
    np.save(tmp_path / "vectors.npy", np.ones((5, 4), dtype=np.float32))
    message = input_error(read_npy_vectors, tmp_path)
    assert "ids.npy" in message
    assert "vectors.npy" in message
    rest = message.replace(str(tmp_path), "")
    assert re.search(r"\b3\b", rest)
    assert re.search(r"\b5\b", rest)


# Papers table


def test_papers_missing_parquet(tmp_path):
    path = tmp_path / "papers.parquet"
    assert str(path) in input_error(read_papers, path, "parquet")


def test_papers_missing_tsv(tmp_path):
    path = tmp_path / "titles.tsv"
    assert str(path) in input_error(read_papers, path, "tsv", False)


def test_papers_not_parquet(tmp_path):
    path = tmp_path / "papers.parquet"
    path.write_text("corpus_id\ttitle\n1\tA title\n", encoding="utf-8")
    assert str(path) in input_error(read_papers, path, "parquet")


def test_papers_no_corpus_id(tmp_path):
    path = tmp_path / "papers.tsv"
    path.write_text("id\ttitle\n1\tA title\n", encoding="utf-8")
    message = input_error(read_papers, path, "tsv", True)
    assert str(path) in message
    assert "corpus_id" in message


# Seeds

CORPUS_IDS = np.array([3, 5, 7, 9], dtype=np.int64)


def test_seeds_duplicates_removed():
    seeds = resolve_seeds([5, 3, 5, 7, 3], CORPUS_IDS, CORPUS_IDS)
    assert seeds["seed"].tolist() == [5, 3, 7]


def test_seeds_duplicates_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="seedcompare"):
        resolve_seeds([5, 3, 5, 7, 3], CORPUS_IDS, CORPUS_IDS)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    duplicate_warnings = [message for message in warnings if "duplicate" in message]
    assert len(duplicate_warnings) == 1
    assert re.search(r"\b5\b", duplicate_warnings[0])
    assert re.search(r"\b3\b", duplicate_warnings[0])


def test_seeds_no_duplicates_no_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="seedcompare"):
        resolve_seeds([5, 3, 7], CORPUS_IDS, CORPUS_IDS)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_seeds_not_in_corpus_listed():
    with pytest.raises(SeedError) as raised:
        resolve_seeds([3, NOT_IN_CORPUS[0], 5, NOT_IN_CORPUS[1]], CORPUS_IDS, CORPUS_IDS)
    message = str(raised.value)
    assert str(NOT_IN_CORPUS[0]) in message
    assert str(NOT_IN_CORPUS[1]) in message


def test_seeds_not_in_corpus_skipped():
    seeds = resolve_seeds([3, NOT_IN_CORPUS[0], 5], CORPUS_IDS, CORPUS_IDS, on_missing_seed="skip")
    status = dict(zip(seeds["seed"], seeds["status"]))
    assert status == {3: "ok", NOT_IN_CORPUS[0]: "skipped_not_in_corpus", 5: "ok"}


def test_seeds_skipped_have_no_shard():
    seeds = resolve_seeds([3, NOT_IN_CORPUS[0], 5], CORPUS_IDS, CORPUS_IDS, on_missing_seed="skip")
    assert seeds["shard"].isna().tolist() == [False, True, False]


def test_seeds_file_not_integer(tmp_path):
    path = tmp_path / "seeds.tsv"
    path.write_text("seed\n3\n5\nfive\n", encoding="utf-8")
    assert f"{path}:4" in input_error(read_seeds_file, path)


def test_seeds_file_no_seed_column(tmp_path):
    path = tmp_path / "seeds.tsv"
    path.write_text("corpus_id\n3\n", encoding="utf-8")
    message = input_error(read_seeds_file, path)
    assert str(path) in message
    assert "'seed'" in message


# Missing vectors


@pytest.fixture
def jsalt_with_missing(tmp_path) -> MethodSpec:
    path = tmp_path / "proposed.vec"
    path.write_text(
        dump_line(1, 5, [0.1, 0.2, 0.3])
        + dump_line(2, -1, [0.4, 0.5, 0.6])
        + dump_line(3, 6, [0.0, 0.0, 0.0])
        + dump_line(4, 7, [0.1, "nan", 0.3])
        + dump_line(5, 0, [0.7, 0.8, 0.9])
        + dump_line(6, 8, [0.1, "inf", 0.3])
        + dump_line(7, 9, [0.3, 0.2, 0.1]),
        encoding="utf-8",
    )
    return MethodSpec("proposed", "Proposed", "jsalt", str(path), (-1, 0))


def test_vectors_jsalt_usable_ids(jsalt_with_missing):
    assert load_method_vectors(jsalt_with_missing).ids.tolist() == [1, 7]


def test_vectors_jsalt_usable_rows(jsalt_with_missing):
    vectors = load_method_vectors(jsalt_with_missing).vectors
    np.testing.assert_allclose(vectors, [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], rtol=1e-6)


def test_vectors_jsalt_missing_reasons(jsalt_with_missing):
    missing = load_method_vectors(jsalt_with_missing).missing
    assert dict(zip(missing["corpus_id"], missing["reason"])) == {
        2: "absent", 3: "zero_vector", 4: "nonfinite_vector", 5: "absent", 6: "nonfinite_vector"}


def test_dump_absent_flags(jsalt_with_missing):
    _, _, absent = read_jsalt_dump(jsalt_with_missing.path, jsalt_with_missing.absent_row_indexes)
    assert absent.tolist() == [False, True, False, False, True, False, False]


def test_vectors_npy_missing_reasons(tmp_path):
    vectors = np.array([[0.1, 0.2], [0.0, 0.0], [np.nan, 0.5], [0.3, 0.4]], dtype=np.float32)
    np.save(tmp_path / "vectors.npy", vectors)
    np.save(tmp_path / "ids.npy", np.array([10, 20, 30, 40], dtype=np.int64))
    method = load_method_vectors(MethodSpec("specter", "Specter", "npy", str(tmp_path), (-1,)))
    assert method.ids.tolist() == [10, 40]
    assert dict(zip(method.missing["corpus_id"], method.missing["reason"])) == {
        20: "zero_vector", 30: "nonfinite_vector"}


# HTML escaping


class TableParser(HTMLParser):
    """HTML parser that collects the start tags, the links (href, text) and the cell texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.start_tags: list[str] = []
        self.links: list[tuple[str | None, str]] = []
        self.cells: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] | None = None
        self._cell_text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.start_tags.append(tag)
        if tag == "a":
            self._href, self._link_text = dict(attrs).get("href"), []
        elif tag == "td":
            self._cell_text = []

    def handle_endtag(self, tag):
        if tag == "a" and self._link_text is not None:
            self.links.append((self._href, "".join(self._link_text)))
            self._link_text = None
        elif tag == "td" and self._cell_text is not None:
            self.cells.append("".join(self._cell_text))
            self._cell_text = None

    def handle_data(self, data):
        if self._link_text is not None:
            self._link_text.append(data)
        if self._cell_text is not None:
            self._cell_text.append(data)


def parse_html(html: str) -> TableParser:
    parser = TableParser()
    parser.feed(html)
    parser.close()
    return parser


def seed_rows(title_of_seed, title_of_neighbour) -> pd.DataFrame:
    return pd.DataFrame({
        "seed": [101, 101],
        "corpus_id": [101, 202],
        "is_seed": [True, False],
        "table_row": [0, 1],
        "paper_id": pd.array(["0123456789abcdef0123456789abcdef01234567", pd.NA], dtype="string"),
        "title": pd.array([title_of_seed, title_of_neighbour], dtype="string"),
        "year": pd.array([2020, pd.NA], dtype="Int64"),
        "citation_count": pd.array([12, pd.NA], dtype="Int64"),
        "specter": [1.0, 0.5],
        "proposed": [1.0, np.nan],
        "rank_specter": pd.array([pd.NA, 1], dtype="Int64"),
        "rank_proposed": pd.array([pd.NA, pd.NA], dtype="Int64"),
        "top_specter": [False, True],
        "top_proposed": [False, False],
        "both": [True, False],
    })


def test_table_title_no_script_element():
    html = render_seed_table(seed_rows(SCRIPT_TITLE, "Plain"), ["specter", "proposed"],
                             ["Specter", "Proposed"])
    assert "script" not in parse_html(html).start_tags


def test_table_title_round_trip():
    html = render_seed_table(seed_rows(SCRIPT_TITLE, "Plain"), ["specter", "proposed"],
                             ["Specter", "Proposed"])
    texts = [text for _, text in parse_html(html).links]
    assert texts == [f"12: {SCRIPT_TITLE}", "Plain"]


def test_table_label_escaped():
    label = '<script>alert(1)</script> "Specter"'
    html = render_seed_table(seed_rows("Plain", "Other"), ["specter", "proposed"], [label, "Proposed"])
    assert "script" not in parse_html(html).start_tags


def test_table_missing_title_plain_text():
    html = render_seed_table(seed_rows(SCRIPT_TITLE, pd.NA), ["specter", "proposed"],
                             ["Specter", "Proposed"])
    parsed = parse_html(html)
    assert "NA:202" in parsed.cells
    assert [text for _, text in parsed.links] == [f"12: {SCRIPT_TITLE}"]


def test_table_missing_score_na():
    html = render_seed_table(seed_rows("Plain", "Other"), ["specter", "proposed"],
                             ["Specter", "Proposed"])
    assert parse_html(html).cells[-3:] == ["0.500000", "NA", "Other"]


def test_paper_cell_keeps_title():
    href, text = paper_cell(101, None, SCRIPT_TITLE, 7)
    assert text == f"7: {SCRIPT_TITLE}"
    assert href.endswith("101")


def test_paper_cell_no_title():
    assert paper_cell(202, None, pd.NA, 7) == (None, "NA:202")


# Through the workflow

TINY_SEEDS = [1, 2, 3]


def write_tiny_corpus(directory: Path) -> dict:
    """Write a 9-paper corpus and return a config for it.

    specter (npy) lists papers 1-8: 7 has a zero vector, 8 a NaN vector.
    proposed (jsalt) lists papers 1-9: 6 has rowIndex 0 and 9 has rowIndex -1 (both absent).
    """
    rng = np.random.default_rng(11)
    specter_dir = directory / "specter"
    specter_dir.mkdir()
    specter = rng.normal(size=(8, 4)).astype(np.float32)
    specter[6] = 0.0
    specter[7, 1] = np.nan
    np.save(specter_dir / "vectors.npy", specter)
    np.save(specter_dir / "ids.npy", np.arange(1, 9, dtype=np.int64))

    proposed = directory / "proposed.vec.gz"
    row_index = {6: 0, 9: -1}
    with gzip.open(proposed, "wt", encoding="utf-8") as handle:
        for corpus_id in range(1, 10):
            values = [f"{value:.6f}" for value in rng.normal(size=3)]
            handle.write(dump_line(corpus_id, row_index.get(corpus_id, corpus_id), values))

    titles = directory / "titles.tsv"
    titles.write_text(f"1\t{SCRIPT_TITLE}\n"
                      + "".join(f"{i}\tPaper number {i}\n" for i in range(2, 10)), encoding="utf-8")
    return {
        "results_dir": str(directory / "results"),
        "logs_dir": str(directory / "logs"),
        "seeds": TINY_SEEDS + [NOT_IN_CORPUS[0]],
        "on_missing_seed": "skip",
        "k": 10,
        "shard_size": 2,
        "papers": {"path": str(titles), "format": "tsv", "header_row": False},
        "methods": {
            "specter": {"format": "npy", "path": str(specter_dir)},
            "proposed": {"format": "jsalt", "path": str(proposed), "absent_row_indexes": [-1, 0]},
        },
        "bootstrap": {"n_resamples": 1000},
    }


def run_workflow(directory: Path, config: dict) -> subprocess.CompletedProcess:
    config_path = directory / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    snakemake = Path(sys.executable).parent / "snakemake"
    return subprocess.run(
        [str(snakemake), "--cores", "2", "-s", str(REPO_ROOT / "Snakefile"),
         "--directory", str(directory), "--configfile", str(config_path)],
        cwd=directory, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny")
    completed = run_workflow(directory, write_tiny_corpus(directory))
    if completed.returncode != 0:
        pytest.fail(f"snakemake exited with {completed.returncode}:\n{completed.stderr[-4000:]}")
    return directory / "results"


def test_workflow_skipped_seed_status(tiny_run):
    seeds = pd.read_parquet(tiny_run / "seeds" / "seeds.parquet")
    assert dict(zip(seeds["seed"], seeds["status"])) == {
        1: "ok", 2: "ok", 3: "ok", NOT_IN_CORPUS[0]: "skipped_not_in_corpus"}


def test_workflow_skipped_seed_not_scored(tiny_run):
    per_seed = pd.read_parquet(tiny_run / "summary" / "per_seed.parquet")
    assert sorted(per_seed["seed"].tolist()) == TINY_SEEDS


def test_workflow_missing_reasons(tiny_run):
    corpus = pd.read_parquet(tiny_run / "corpus" / "corpus.parquet").set_index("corpus_id")
    reasons = {(method, int(corpus_id)): status
               for method in ("specter", "proposed")
               for corpus_id, status in corpus[f"status_{method}"].items() if status != "ok"}
    assert reasons == {
        ("specter", 7): "zero_vector", ("specter", 8): "nonfinite_vector", ("specter", 9): "absent",
        ("proposed", 6): "absent", ("proposed", 9): "absent",
    }


@pytest.mark.parametrize("method, missing_ids", [("specter", [7, 8, 9]), ("proposed", [6, 9])])
def test_workflow_missing_never_scored(tiny_run, method, missing_ids):
    scores = pd.read_parquet(tiny_run / "scores")
    rows = scores[scores["corpus_id"].isin(missing_ids)]
    assert rows[method].isna().all()
    assert not rows[f"top_{method}"].any()


@pytest.mark.parametrize("method, missing_ids", [("specter", [7, 8, 9]), ("proposed", [6, 9])])
def test_workflow_missing_not_ranked(tiny_run, method, missing_ids):
    scores = pd.read_parquet(tiny_run / "scores")
    assert scores.loc[scores["corpus_id"].isin(missing_ids), f"rank_{method}"].isna().all()


def test_workflow_missing_in_both_not_shown(tiny_run):
    scores = pd.read_parquet(tiny_run / "scores")
    assert 9 not in scores["corpus_id"].tolist()


@pytest.mark.parametrize("column, count", [("missing_specter", 3), ("missing_proposed", 2)])
def test_workflow_missing_counts(tiny_run, column, count):
    per_seed = pd.read_parquet(tiny_run / "summary" / "per_seed.parquet")
    assert per_seed[column].tolist() == [count] * len(TINY_SEEDS)


@pytest.mark.parametrize("page", ["tables/1.html", "tables/2.html", "index.html", "report.html"])
def test_workflow_pages_no_script(tiny_run, page):
    html = (tiny_run / page).read_text(encoding="utf-8")
    assert "script" not in parse_html(html).start_tags


def test_workflow_seed_table_title(tiny_run):
    html = (tiny_run / "tables" / "1.html").read_text(encoding="utf-8")
    assert SCRIPT_TITLE in [text for _, text in parse_html(html).links]


def test_workflow_malformed_dump(tmp_path):
    config = write_tiny_corpus(tmp_path)
    path = Path(config["methods"]["proposed"]["path"])
    with gzip.open(path, "at", encoding="utf-8") as handle:
        handle.write("10 10 0.1 x 0.3\n")
    completed = run_workflow(tmp_path, config)
    assert completed.returncode != 0
    log = (tmp_path / "logs" / "vectors" / "proposed.log").read_text(encoding="utf-8")
    assert f"{path}:10" in log


def test_workflow_seed_not_in_corpus(tmp_path):
    config = write_tiny_corpus(tmp_path) | {"on_missing_seed": "error", "seeds": [1, *NOT_IN_CORPUS]}
    completed = run_workflow(tmp_path, config)
    assert completed.returncode != 0
    log = (tmp_path / "logs" / "seeds" / "seeds.log").read_text(encoding="utf-8")
    assert str(NOT_IN_CORPUS[0]) in log
    assert str(NOT_IN_CORPUS[1]) in log


def test_workflow_bad_config(tmp_path):
    config = write_tiny_corpus(tmp_path) | {"on_missing_seed": "ignore"}
    completed = run_workflow(tmp_path, config)
    assert completed.returncode != 0
    assert "on_missing_seed" in completed.stderr
    assert "'skip'" in completed.stderr
