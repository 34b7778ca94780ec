"""Tests of the legacy table import: real tables against an independent reading, messy cases on
small synthetic files, and the round trip through render_seed_table."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from conftest import shared_path
from seedcompare.cli import main
from seedcompare.legacy import (
    ALL_GROUPS,
    POOL_REASON,
    SKIP_NAME,
    SKIP_NO_TABLE,
    SKIP_NOT_PER_SEED,
    SKIP_SUFFIX,
    aggregate_by_group,
    import_tables,
    parse_table,
    split_count_and_title,
    table_statistics,
    write_import,
)
from seedcompare.render import render_seed_table
from seedcompare.scoring import per_seed_columns, score_columns

HEADER = ("Both", "Specter", "Proposed", "Paper")
PAPER_URL = "https://www.semanticscholar.org/paper/"
HEX_A = "a" * 40
HEX_B = "b" * 39 + "1"


# ---------------------------------------------------------------------------------------------
# An independent reader of the tables (the standard library's html.parser, no BeautifulSoup).


class TableReader(HTMLParser):
    """Collect every table as a list of rows; a row is a list of cells {tag, text, hrefs}."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[dict]]] = []
        self.outside_text = ""
        self._row = None
        self._cell = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self._depth += 1
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "text": "", "hrefs": []}
            self._row.append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell["hrefs"].append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._depth -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        elif self._depth == 0:
            self.outside_text += data


def read_expected(path: Path) -> dict:
    """Read a legacy table the way the import is specified, without the library's code."""
    reader = TableReader()
    reader.feed(path.read_text(encoding="utf-8"))
    reader.close()
    table = reader.tables[0]
    rows = []
    for cells in table[1:]:
        if not cells or cells[0]["tag"] != "td":
            continue
        scores = []
        for cell in cells[1:3]:
            value = float(cell["text"])
            scores.append(math.nan if value == -1.0 else value)
        paper = cells[3]
        row = {"both": cells[0]["text"].strip() == "1", "specter": scores[0], "proposed": scores[1],
               "paper_id": None, "corpus_id": None, "title": None, "citation_count": None}
        if paper["hrefs"]:
            href = paper["hrefs"][0]
            if href.startswith(PAPER_URL):
                row["paper_id"] = href[len(PAPER_URL):]
            text = paper["text"]
            head, _, tail = text.partition(": ")
            if tail and head.isdigit():
                row["citation_count"], row["title"] = int(head), tail
            else:
                row["title"] = text
        elif paper["text"].strip().startswith("NA:"):
            row["corpus_id"] = int(paper["text"].strip()[3:])
        rows.append(row)
    seed_row = None
    for i, row in enumerate(rows):
        present = [s for s in (row["specter"], row["proposed"]) if not math.isnan(s)]
        if present and all(abs(s - 1.0) <= 1e-6 for s in present):
            seed_row = i
            break
    return {"rows": rows, "seed_row": seed_row, "n_tables": len(reader.tables),
            "outside_text": reader.outside_text.strip()}


def expected_statistics(expected: dict) -> dict:
    """Overlap, Jaccard and the union correlations computed directly with scipy."""
    candidates = [r for i, r in enumerate(expected["rows"]) if i != expected["seed_row"]]
    overlap = sum(r["both"] for r in candidates)
    a = np.array([r["specter"] for r in candidates])
    b = np.array([r["proposed"] for r in candidates])
    keep = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[keep], b[keep]
    spearman = kendall = math.nan
    if a.size >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
        spearman = scipy_stats.spearmanr(a, b).statistic
        kendall = scipy_stats.kendalltau(a, b).statistic
    return {"overlap": overlap, "jaccard": overlap / len(candidates), "n_union": len(candidates),
            "n_union_both": int(a.size), "spearman_union": spearman, "kendall_union": kendall}


def same_value(actual, expected, tolerance=0.0) -> bool:
    if expected is None:
        return actual is None or actual is pd.NA or (isinstance(actual, float) and math.isnan(actual))
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, float):
        return abs(actual - expected) <= tolerance
    return actual == expected


# ---------------------------------------------------------------------------------------------
# Real tables


@pytest.fixture(scope="module")
def legacy_dir() -> Path:
    return shared_path("data", "legacy_tables")


@pytest.fixture(scope="module")
def imported(legacy_dir):
    return import_tables(legacy_dir)


@pytest.fixture(scope="module")
def expected_tables(legacy_dir):
    return {path: read_expected(path) for path in sorted(legacy_dir.glob("*/both/*.md"))}


def test_real_tables_all_import(imported, legacy_dir, expected_tables):
    table_files = sorted(legacy_dir.glob("*/both/*.md"))
    table_set = set(table_files)
    other_files = [p for p in legacy_dir.rglob("*") if p.is_file() and p not in table_set]
    summary = imported.summary
    assert len(table_files) == 1750
    assert summary.files_read == 1750
    assert len(imported.per_seed) == 1750
    assert summary.files_seen == len(table_files) + len(other_files)
    assert sum(summary.files_skipped.values()) == len(other_files)
    index_pages = [p for p in other_files if p.name == "index.md"]
    assert summary.files_skipped[SKIP_NAME] == len(index_pages)
    assert summary.files_skipped[SKIP_SUFFIX] == len(other_files) - len(index_pages)

    n_rows = sum(len(e["rows"]) for e in expected_tables.values())
    failed_rows = sum(len(e["rows"]) for e in expected_tables.values() if e["outside_text"])
    assert summary.rows_read == n_rows
    assert summary.rows_imported == n_rows - failed_rows
    assert len(imported.scores) == n_rows - failed_rows
    assert list(imported.scores.columns) == score_columns(["specter", "proposed"]) + ["group"]
    assert list(imported.per_seed.columns) == per_seed_columns(["specter", "proposed"]) + ["group", "source"]


def test_real_tables_anomaly_counts(imported, expected_tables):
    anomalies = imported.summary.anomalies
    stray = sum(bool(e["outside_text"]) for e in expected_tables.values())
    doubled = sum(e["n_tables"] > 1 for e in expected_tables.values())
    minus_one = sum(math.isnan(r[m]) for e in expected_tables.values() for r in e["rows"]
                    for m in ("specter", "proposed"))
    na_cells = sum(r["corpus_id"] is not None for e in expected_tables.values() for r in e["rows"])
    no_seed = sum(e["seed_row"] is None for e in expected_tables.values())
    late_seed = sum((e["seed_row"] or 0) > 0 for e in expected_tables.values())
    assert anomalies["text_outside_table"] == stray
    assert imported.summary.tables_by_status["failed"] == stray
    assert anomalies["duplicate_table"] == doubled
    assert anomalies["conflicting_extra_table"] == 0
    assert anomalies["score_missing_sentinel"] == minus_one
    assert anomalies["na_corpus_id_cell"] == na_cells
    assert anomalies["no_seed_row"] == no_seed
    assert anomalies["seed_row_not_first"] == late_seed


def test_real_tables_cells_match(imported, legacy_dir, expected_tables):
    by_table = {key: rows for key, rows in imported.scores.groupby(["group", "seed"], sort=False)}
    status = dict(zip(imported.per_seed["source"], imported.per_seed["status"]))
    for path, expected in expected_tables.items():
        relative = path.relative_to(legacy_dir).as_posix()
        if status[relative] == "failed":
            continue
        rows = by_table[(relative.split("/")[0], int(path.stem))]
        assert len(rows) == len(expected["rows"]), relative
        for actual, expected_row in zip(rows.to_dict("records"), expected["rows"]):
            is_seed = actual["table_row"] == expected["seed_row"]
            assert actual["is_seed"] == is_seed, relative
            assert actual["both"] == expected_row["both"], relative
            for name in ("specter", "proposed"):
                assert same_value(actual[name], expected_row[name]), (relative, name)
            for name in ("paper_id", "title", "citation_count"):
                assert same_value(actual[name], expected_row[name]), (relative, name)
            expected_corpus_id = expected_row["corpus_id"]
            if is_seed and expected_corpus_id is None:
                expected_corpus_id = int(path.stem)
            assert same_value(actual["corpus_id"], expected_corpus_id), relative


def test_real_tables_statistics_match_scipy(imported, legacy_dir, expected_tables):
    per_seed = imported.per_seed.set_index("source")
    checked = 0
    for path, expected in expected_tables.items():
        row = per_seed.loc[path.relative_to(legacy_dir).as_posix()]
        assert row["pool_reason"] == POOL_REASON
        assert math.isnan(row["spearman_pool"])
        if row["status"] != "ok":
            assert math.isnan(row["overlap"])
            continue
        checked += 1
        reference = expected_statistics(expected)
        assert row["overlap"] == reference["overlap"]
        assert row["n_union"] == reference["n_union"]
        assert row["n_union_both"] == reference["n_union_both"]
        assert same_value(row["jaccard"], reference["jaccard"], 1e-12)
        assert same_value(row["spearman_union"], reference["spearman_union"], 1e-12)
        assert same_value(row["kendall_union"], reference["kendall_union"], 1e-12)
    assert checked == imported.summary.tables_by_status["ok"]


# ---------------------------------------------------------------------------------------------
# Synthetic tables


def paper(count, title, paper_id=HEX_A) -> str:
    return f'<a href="{PAPER_URL}{paper_id}">{count}: {title}</a>'


def table_html(rows, header=HEADER, before="", after="") -> str:
    """Return a legacy-style table; each row is a list of raw cell contents, or None for a
    repeated header row."""
    header_row = ["<tr>"] + [f"<th>{label}</th>" for label in header] + ["</tr>"]
    lines = [before + "<html><table>"] + header_row
    for cells in rows:
        if cells is None:
            lines += header_row
        else:
            lines += ["<tr>"] + [f"<td>{cell}</td>" for cell in cells] + ["</tr>"]
    return "\n".join(lines + ["</table></html>" + after]) + "\n"


def standard_rows(n=6) -> list[list[str]]:
    """A seed row and n - 1 candidates with distinct, non-constant scores."""
    rows = [["1", "1.000000", "1.000000", paper(10, "Seed paper")]]
    for i in range(1, n):
        rows.append(["0", f"0.{90 - i:02d}0000", f"0.{50 + 7 * i % 40:02d}0000",
                     paper(i, f"Candidate {i}", f"{i:040x}")])
    return rows


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_repeated_header_row_skipped(tmp_path):
    rows = standard_rows()
    rows.insert(3, None)
    table = parse_table(write(tmp_path, "5.md", table_html(rows)))
    assert table.anomalies["repeated_header_row"] == 1
    assert table.rows_skipped["repeated header row"] == 1
    assert len(table.records) == 6
    assert table.status == "ok"


def test_ten_row_table_single_block(tmp_path):
    rows = [["1", "1.000000", "1.000000", paper(3, "Seed")]]
    for i in range(1, 10):
        rows.append(["0", f"0.{80 - i}0000", f"0.{30 + 3 * i}1000", paper(i, f"T{i}", f"{i:040x}")])
    table = parse_table(write(tmp_path, "42.md", table_html(rows)))
    stats = table_statistics(table)
    assert table.status == "ok"
    assert stats["n_union"] == 9
    assert stats["overlap"] == 0
    assert stats["spearman_union"] == pytest.approx(-1.0)


def test_seed_without_specter_is_seed_missing(tmp_path):
    rows = [["0", "-1.000000", "1.000000", paper(3, "Seed")]]
    rows += [["0", "-1.000000", f"0.9{9 - i}0000", paper(i, f"T{i}", f"{i:040x}")] for i in range(1, 10)]
    result = import_tables(write(tmp_path, "g/42.md", table_html(rows)).parent.parent)
    row = result.per_seed.iloc[0]
    assert row["status"] == "seed_missing"
    assert row["status_detail"] == "seed has no usable vector in: specter"
    assert math.isnan(row["overlap"])
    assert result.scores["is_seed"].tolist()[0]
    assert result.scores["specter"].isna().all()
    assert result.summary.anomalies["score_missing_sentinel"] == 10


def test_minus_one_kept_when_asked(tmp_path):
    rows = standard_rows()
    rows[2][1] = "-1.000000"
    path = write(tmp_path, "7.md", table_html(rows))
    assert math.isnan(parse_table(path).records[2]["specter"])
    assert parse_table(path, missing_sentinel=None).records[2]["specter"] == -1.0


def test_empty_paper_cell(tmp_path):
    rows = standard_rows()
    rows[2][3] = ""
    table = parse_table(write(tmp_path, "8.md", table_html(rows)))
    record = table.records[2]
    assert table.anomalies["empty_paper_cell"] == 1
    assert record["title"] is None
    assert record["paper_id"] is None
    assert record["corpus_id"] is None
    assert record["specter"] == pytest.approx(0.88)


def test_na_cell_and_corpus_id_link(tmp_path):
    rows = standard_rows()
    rows[1][3] = "NA:232312493"
    rows[2][3] = '<a href="https://api.semanticscholar.org/CorpusID:99">4: Only a corpus id</a>'
    table = parse_table(write(tmp_path, "9.md", table_html(rows)))
    assert table.records[1]["corpus_id"] == 232312493
    assert table.records[1]["title"] is None
    assert table.records[2]["corpus_id"] == 99
    assert table.records[2]["paper_id"] is None
    assert table.records[2]["title"] == "Only a corpus id"
    assert table.anomalies["na_corpus_id_cell"] == 1
    assert table.anomalies["corpus_id_link"] == 1


def test_entities_and_non_ascii_titles(tmp_path):
    rows = standard_rows()
    rows[1][3] = paper(5, "Q&amp;A for &eacute;t&eacute; &#8217;n &lt;tags&gt;")
    rows[2][3] = paper(6, "Müller’s naïve café — 東京")
    rows[3][3] = paper(7, "AT&T at TREC-7")  # a bare "&", as older writers left it
    table = parse_table(write(tmp_path, "10.md", table_html(rows)))
    assert table.records[1]["title"] == "Q&A for été ’n <tags>"
    assert table.records[2]["title"] == "Müller’s naïve café — 東京"
    assert table.records[3]["title"] == "AT&T at TREC-7"
    assert table.anomalies["title_non_ascii"] == 2


@pytest.mark.parametrize("text, count, title", [
    ("12: A: B: C", 12, "A: B: C"),
    ("Foo: bar", None, "Foo: bar"),
    ("0: Zero", 0, "Zero"),
    ("12:no space", None, "12:no space"),
    ("-3: Negative", None, "-3: Negative"),
    ("²: superscript", None, "²: superscript"),
    ("Plain title", None, "Plain title"),
])
def test_split_count_and_title(text, count, title):
    assert split_count_and_title(text) == (count, title)


def test_titles_with_colons_in_table(tmp_path):
    rows = standard_rows()
    rows[1][3] = paper(390, "Are Heads: Really Better: Than One?")
    rows[2][3] = f'<a href="{PAPER_URL}{HEX_B}">Deep Learning: A Survey</a>'
    table = parse_table(write(tmp_path, "11.md", table_html(rows)))
    assert table.records[1]["citation_count"] == 390
    assert table.records[1]["title"] == "Are Heads: Really Better: Than One?"
    assert table.records[2]["citation_count"] is None
    assert table.records[2]["title"] == "Deep Learning: A Survey"
    assert table.records[2]["paper_id"] == HEX_B
    assert table.anomalies["no_citation_count"] == 1


def test_score_not_a_number(tmp_path):
    rows = standard_rows()
    rows[1][1] = "abc"
    rows[2][2] = ""
    rows[3][1] = "NA"
    table = parse_table(write(tmp_path, "12.md", table_html(rows)))
    assert math.isnan(table.records[1]["specter"])
    assert math.isnan(table.records[2]["proposed"])
    assert math.isnan(table.records[3]["specter"])
    assert table.anomalies["score_not_a_number"] == 2
    assert table.anomalies["score_na_marker"] == 1
    assert table.status == "ok"


def test_wrong_cell_count_row_skipped(tmp_path):
    rows = standard_rows()
    rows[2] = rows[2][:3]
    table = parse_table(write(tmp_path, "13.md", table_html(rows)))
    assert table.rows_skipped["wrong number of cells"] == 1
    assert len(table.records) == 5
    assert table.n_rows_read == 6


def test_constant_score_column(tmp_path):
    rows = standard_rows()
    for row in rows[1:]:
        row[2] = "0.500000"
    result = import_tables(write(tmp_path, "g/14.md", table_html(rows)).parent.parent)
    row = result.per_seed.iloc[0]
    assert row["status"] == "ok"
    assert math.isnan(row["spearman_union"])
    assert math.isnan(row["kendall_union"])
    assert row["union_reason"] == "constant scores over the 5 rows"
    assert result.summary.anomalies["union_correlation_constant"] == 1


def test_non_table_files_skipped(tmp_path):
    write(tmp_path, "a/both/1.md", table_html(standard_rows()))
    write(tmp_path, "a/both/ids.txt", "1\n")
    index_header = ("Both", "Specter", "Proposed", "Query")
    write(tmp_path, "a/index.md", table_html([["both", paper(1, "x")]], header=index_header))
    write(tmp_path, "a/both/2.md", "# notes\njust text\n")
    write(tmp_path, "a/both/3.html", table_html([["1", "2"]], header=("x", "y")))
    write(tmp_path, "authors.txt", "someone\n")
    result = import_tables(tmp_path)
    assert result.summary.files_read == 1
    assert dict(result.summary.files_skipped) == {SKIP_SUFFIX: 2, SKIP_NAME: 1, SKIP_NO_TABLE: 1,
                                                  SKIP_NOT_PER_SEED: 1}
    skipped = result.files[result.files["outcome"] == "skipped"]
    assert sorted(skipped["path"]) == ["a/both/2.md", "a/both/3.html", "a/both/ids.txt",
                                       "a/index.md", "authors.txt"]
    with pytest.raises(ValueError, match="no HTML table"):
        parse_table(tmp_path / "a/both/2.md")


def test_text_outside_table_fails(tmp_path):
    text = table_html(standard_rows(), before="warning, node = 15; N = 9\nfatal: confusion in map_node\n")
    result = import_tables(write(tmp_path, "g/15.md", text).parent.parent)
    row = result.per_seed.iloc[0]
    assert row["status"] == "failed"
    assert "warning, node = 15" in row["status_detail"]
    assert math.isnan(row["overlap"])
    assert result.scores.empty
    assert result.summary.rows_skipped["table failed"] == 6


def test_rendered_head_is_not_outside_text(tmp_path):
    head = "<html><head><title>Seed 16</title></head><body><h1>Seed</h1>"
    text = table_html(standard_rows()).replace("<html>", head)
    assert parse_table(write(tmp_path, "16.md", text)).status == "ok"


def test_duplicate_and_conflicting_tables(tmp_path):
    single = table_html(standard_rows())
    duplicate = parse_table(write(tmp_path, "17.md", single + single))
    assert duplicate.anomalies["duplicate_table"] == 1
    assert duplicate.status == "ok"
    changed = standard_rows()
    changed[2][1] = "0.123456"
    conflicting = parse_table(write(tmp_path, "18.md", single + table_html(changed)))
    assert conflicting.anomalies["conflicting_extra_table"] == 1
    assert conflicting.status == "failed"


def test_seed_row_not_first(tmp_path):
    rows = standard_rows()
    rows[0][2] = "0.494588"  # a near-duplicate of the seed heads the table
    rows.insert(3, ["0", "1.000000", "1.000000", paper(1629, "The real seed", HEX_B)])
    table = parse_table(write(tmp_path, "19.md", table_html(rows)))
    assert table.seed_row == 3
    assert table.anomalies["seed_row_not_first"] == 1
    assert table.records[3]["corpus_id"] == 19


def test_table_without_seed_row(tmp_path):
    rows = standard_rows()[1:]
    result = import_tables(write(tmp_path, "g/20.md", table_html(rows)).parent.parent)
    assert not result.scores["is_seed"].any()
    assert result.per_seed.iloc[0]["n_union"] == 5
    assert result.summary.anomalies["no_seed_row"] == 1


def test_invalid_utf8_replaced(tmp_path):
    path = tmp_path / "21.md"
    path.write_bytes(table_html(standard_rows()).replace("Candidate 2", "Caf\xe9").encode("latin-1"))
    table = parse_table(path)
    assert table.anomalies["invalid_utf8"] == 1
    assert table.records[2]["title"] == "Caf\ufffd"


def test_seed_in_two_groups_counted_once(tmp_path):
    write(tmp_path, "a/both/30.md", table_html(standard_rows()))
    write(tmp_path, "b/both/30.md", table_html(standard_rows()))
    rows = standard_rows()
    rows[1][0] = "1"
    write(tmp_path, "b/both/31.md", table_html(rows))
    result = import_tables(tmp_path)
    assert result.summary.anomalies["seed_in_several_files"] == 1
    assert result.summary.anomalies["seed_tables_differ"] == 0
    aggregate = aggregate_by_group(result.per_seed, n_resamples=99)
    overlap = aggregate[aggregate["statistic"] == "overlap"].set_index("group")
    assert list(overlap.index) == ["a", "b", ALL_GROUPS]
    assert overlap.at["a", "n"] == 1
    assert overlap.at["b", "n"] == 2
    assert overlap.at[ALL_GROUPS, "n"] == 2
    assert overlap.at[ALL_GROUPS, "mean"] == pytest.approx(0.5)


def test_top_flags_from_both_and_missing(tmp_path):
    rows = standard_rows()
    rows[1][0] = "1"
    rows[2][1] = "-1.000000"
    result = import_tables(write(tmp_path, "g/22.md", table_html(rows)).parent.parent)
    scores = result.scores
    assert scores["top_specter"].tolist()[:3] == [False, True, False]
    assert scores["top_proposed"].tolist()[:3] == [False, True, True]
    assert scores["top_specter"].isna().sum() == 3
    assert scores["rank_specter"].isna().all()
    assert scores["year"].isna().all()


def test_write_import_outputs(tmp_path):
    write(tmp_path / "in", "a/both/40.md", table_html(standard_rows()))
    write(tmp_path / "in", "b/41.md", table_html(standard_rows(8)))
    result = import_tables(tmp_path / "in")
    paths = write_import(result, tmp_path / "out", n_resamples=99)
    assert paths["scores"] == tmp_path / "out" / "scores" / "legacy.parquet"
    scores = pd.read_parquet(paths["scores"])
    assert len(scores) == 6 + 8
    assert str(scores["corpus_id"].dtype) == "Int64"
    assert str(scores["top_specter"].dtype) == "boolean"
    per_seed = pd.read_parquet(paths["per_seed"])
    assert per_seed["group"].tolist() == ["a", "b"]
    aggregate = pd.read_parquet(paths["aggregate"])
    assert set(aggregate["statistic"]) == {"overlap", "jaccard", "spearman_union", "kendall_union",
                                           "spearman_pool", "kendall_pool"}
    by_group = pd.read_parquet(paths["aggregate_by_group"])
    assert sorted(set(by_group["group"])) == ["a", ALL_GROUPS, "b"]
    report = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert report["files_read"] == 2
    assert report["rows_imported"] == 14
    assert report["summary"] == result.summary.line
    assert len(pd.read_parquet(paths["files"])) == 2


def test_cli_import_tables(tmp_path, capsys):
    write(tmp_path / "in", "a/both/50.md", table_html(standard_rows()))
    code = main(["import-tables", str(tmp_path / "in"), str(tmp_path / "out"),
                 "--bootstrap-resamples", "99"])
    assert code == 0
    assert "imported 1 table(s) (1 ok)" in capsys.readouterr().out
    assert (tmp_path / "out" / "summary" / "import_report.json").exists()


def test_cli_import_tables_missing_folder(tmp_path, capsys):
    assert main(["import-tables", str(tmp_path / "absent"), str(tmp_path / "out")]) == 2
    assert "folder not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Round trip through the renderer


def rendered_scores(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    titles = ['<script>alert("x")</script> & \'quotes\'', "Müller’s naïve café — 東京",
              "A: B: C", "5 reasons: why", None, "Plain", "Zero cites"]
    paper_ids = [HEX_B, None, "c" * 40, "d" * 40, None, None, "e" * 40]
    counts = [3, 17, None, None, 9, 4, 0]
    n = len(titles) + 1
    frame = pd.DataFrame({
        "seed": np.full(n, seed, dtype=np.int64),
        "corpus_id": np.arange(n, dtype=np.int64) + 1000,
        "is_seed": np.arange(n) == 0,
        "table_row": np.arange(n, dtype=np.int64),
        "paper_id": pd.array([HEX_A] + paper_ids, dtype="string"),
        "title": pd.array(["The seed: itself"] + titles, dtype="string"),
        "year": pd.array([2020] * n, dtype="Int64"),
        "citation_count": pd.array([120] + counts, dtype="Int64"),
        "specter": np.r_[1.0, rng.uniform(-0.2, 0.99, n - 1)],
        "proposed": np.r_[1.0, rng.uniform(-0.2, 0.99, n - 1)],
        "both": [True, True, False, False, False, False, False, False],
    })
    frame.loc[0, "corpus_id"] = seed
    frame.loc[3, "proposed"] = np.nan
    return frame


def test_render_round_trip(tmp_path):
    seed = 77
    original = rendered_scores(seed)
    html = render_seed_table(original, ["specter", "proposed"], ["Specter", "Proposed"])
    table = parse_table(write(tmp_path, f"{seed}.html", html))
    assert table.methods == ["specter", "proposed"]
    assert table.labels == ["Specter", "Proposed"]
    assert table.seed_row == 0
    assert table.status == "ok"
    assert len(table.records) == len(original)
    for record, row in zip(table.records, original.to_dict("records")):
        for name in ("specter", "proposed"):
            assert same_value(record[name], float(row[name]), 1e-6), name
        assert record["both"] == row["both"]
        has_title = not pd.isna(row["title"])
        assert record["title"] == (row["title"] if has_title else None)
        assert record["citation_count"] == (int(row["citation_count"])
                                            if has_title and not pd.isna(row["citation_count"]) else None)
        has_paper_id = not pd.isna(row["paper_id"])
        assert record["paper_id"] == (row["paper_id"] if has_title and has_paper_id else None)
        expected_corpus_id = None if has_title and has_paper_id else int(row["corpus_id"])
        if row["is_seed"]:
            expected_corpus_id = seed
        assert record["corpus_id"] == expected_corpus_id


def test_render_round_trip_statistics(tmp_path):
    original = rendered_scores(78)
    html = render_seed_table(original, ["specter", "proposed"], ["Specter", "Proposed"])
    write(tmp_path, "g/78.html", html)
    result = import_tables(tmp_path)
    row = result.per_seed.iloc[0]
    candidates = original[~original["is_seed"]].dropna(subset=["specter", "proposed"])
    rho = scipy_stats.spearmanr(candidates["specter"].round(6), candidates["proposed"].round(6)).statistic
    assert row["overlap"] == 1
    assert row["jaccard"] == pytest.approx(1 / 7)
    assert row["n_union_both"] == 6
    assert row["spearman_union"] == pytest.approx(rho)


def test_both_with_missing_score_counted(tmp_path):
    rows = standard_rows()
    rows[3][0] = "1"
    rows[3][2] = "-1.000000"
    table = parse_table(write(tmp_path, "23.md", table_html(rows)))
    assert table.anomalies["both_with_missing_score"] == 1
