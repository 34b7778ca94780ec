"""Import existing per-seed HTML tables ("legacy tables") into the pipeline's output schemas.

A legacy table is a file ``<seedCorpusId>.md`` or ``<seedCorpusId>.html`` holding the per-seed
table that :func:`seedcompare.render.render_seed_table` writes: a header row ``Both``, one score
column per method, ``Paper``, then one row per paper. Older table writers produced the same
layout with a few differences that this module reads as follows.

* A score of exactly ``-1.000000`` marks a paper without a vector for that method (no real
  cosine in the legacy tables comes near -1), so it is read as missing (NaN) unless
  ``missing_sentinel=None``. ``NA`` is the pipeline's own missing marker and is also NaN.
* The seed row is the first row whose present scores are all 1.0 (within ``SEED_TOLERANCE``),
  with at least one score present. It is normally row 0. Some legacy writers put a near-duplicate
  of the seed (Specter 1.0, another paper id) first, and the seed then opens the second block.
  A table may have no seed row at all.
* Titles were written without HTML escaping, so a title may contain a bare ``&`` or raw markup.
  The title is the text content of the link as an HTML parser reads it.

Statistics of a legacy table (one per_seed row, for the first two score columns):

* The union is the set of non-seed rows, because the table lists exactly the union of the two
  top-k lists. ``overlap`` is the number of non-seed rows with Both = 1 and
  ``jaccard = overlap / n_union``.
* ``spearman_union`` and ``kendall_union`` use :func:`seedcompare.stats.rank_correlation` over
  the non-seed rows with both scores (average ranks for ties, tau-b).
* The candidate pool is not in the table, so ``spearman_pool`` and ``kendall_pool`` are NaN
  with ``pool_reason`` equal to ``POOL_REASON``, and ``n_pool``, ``n_pool_both`` and
  ``missing_<method>`` are NA.
* ``status`` is ``seed_missing`` when the seed row lacks a score, and its statistics are NaN as
  in the pipeline. It is ``failed`` when the table cannot be trusted (see :func:`parse_table`),
  and the rows of a failed table are not imported into the scores table. Otherwise it is ``ok``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from .corpus import InputDataError
from .scoring import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_SEED_MISSING,
    normalize_per_seed_types,
    per_seed_columns,
    score_columns,
)
from .stats import aggregate_per_seed, rank_correlation

log = logging.getLogger(__name__)

# Legacy writers stored "no vector" as this score (a cosine of exactly -1 does not occur).
MISSING_SENTINEL = -1.0
# Scores are written with six decimals, so a seed's 1.0 reads back within 1e-6.
SEED_TOLERANCE = 1e-6
POOL_REASON = "no candidate pool in legacy tables"
TABLE_SUFFIXES = (".md", ".html", ".htm")
# Group of a table directly inside the imported folder (not in a subfolder).
TOP_LEVEL_GROUP = "."
# Group name of the overall rows of aggregate_by_group.
ALL_GROUPS = "all"

# Reasons for skipping a whole file (keys of ImportSummary.files_skipped).
SKIP_SUFFIX = "not an .md or .html file"
SKIP_NAME = "file name is not a seed corpus id"
SKIP_UNREADABLE = "file cannot be read"
SKIP_NO_TABLE = "no HTML table"
SKIP_NOT_PER_SEED = "no per-seed table (header Both, score columns, Paper)"

# Reasons for skipping a row (keys of rows_skipped).
ROW_REPEATED_HEADER = "repeated header row"
ROW_OTHER_HEADER = "header row with other labels"
ROW_CELL_COUNT = "wrong number of cells"
ROW_EMPTY = "row without cells"
ROW_FAILED_TABLE = "table failed"

S2_PAPER_HOSTS = ("www.semanticscholar.org", "semanticscholar.org")
S2_API_HOST = "api.semanticscholar.org"
_HEX_DIGITS = frozenset("0123456789abcdef")
_HTML_SPECIAL = frozenset("&<>\"")


class NotATableError(ValueError):
    """Raised by :func:`parse_table` for a file that contains no per-seed table.

    ``reason`` is one of the ``SKIP_*`` constants and ``detail`` describes what was found.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class ParsedTable:
    """One legacy table as read from its file.

    ``records`` contains one dict per data row kept, in file order, with the keys both, paper_id,
    corpus_id, title, citation_count (None when absent) and one float per method (NaN where the
    score is missing). ``rows`` is the same as a DataFrame. ``anomalies`` counts what was
    unusual (see :func:`parse_table`), ``rows_skipped`` counts the rows left out by reason.
    """

    path: Path
    seed: int
    labels: list[str]
    methods: list[str]
    records: list[dict]
    seed_row: int | None
    status: str
    status_detail: str
    n_rows_read: int
    anomalies: Counter = field(default_factory=Counter)
    rows_skipped: Counter = field(default_factory=Counter)

    @cached_property
    def rows(self) -> pd.DataFrame:
        """The kept rows: table_row (int64, 0-based position among the kept rows), is_seed (bool),
        both (bool), paper_id (string), corpus_id (Int64), title (string), citation_count (Int64)
        and one float64 column per method."""
        n = len(self.records)
        frame = pd.DataFrame({
            "table_row": np.arange(n, dtype=np.int64),
            "is_seed": np.arange(n) == (-1 if self.seed_row is None else self.seed_row),
            "both": np.array([r["both"] for r in self.records], dtype=bool),
            "paper_id": pd.array([r["paper_id"] for r in self.records], dtype="string"),
            "corpus_id": pd.array([r["corpus_id"] for r in self.records], dtype="Int64"),
            "title": pd.array([r["title"] for r in self.records], dtype="string"),
            "citation_count": pd.array([r["citation_count"] for r in self.records], dtype="Int64"),
        })
        for name in self.methods:
            frame[name] = np.array([r[name] for r in self.records], dtype=np.float64)
        return frame

    def scores(self, method: str) -> np.ndarray:
        """Return one method's scores over the kept rows, float64 with NaN where missing."""
        return np.array([r[method] for r in self.records], dtype=np.float64)

    def content_key(self) -> tuple:
        """Return a hashable form of the labels and kept rows (NaN scores compare equal)."""
        return tuple(self.labels), tuple(_record_key(record) for record in self.records)


def method_name(label: str) -> str:
    """Return the method name of a score column label: lowercase, runs of other characters as "_"."""
    return re.sub(r"[^0-9a-z]+", "_", label.strip().lower()).strip("_")


def seed_from_file_name(path) -> int | None:
    """Return the seed corpus id that a table's file name carries, or None."""
    stem = Path(path).stem
    if stem.isascii() and stem.isdigit():
        return int(stem)
    return None


# ---------------------------------------------------------------------------------------------
# Cells


def parse_score(text: str, missing_sentinel: float | None, anomalies: Counter) -> float:
    """Parse a score cell; return NaN for a missing or unreadable score and count why."""
    text = text.strip()
    if text.upper() == "NA":
        anomalies["score_na_marker"] += 1
        return math.nan
    try:
        value = float(text)
    except ValueError:
        anomalies["score_not_a_number"] += 1
        return math.nan
    if not math.isfinite(value):
        anomalies["score_not_a_number"] += 1
        return math.nan
    if missing_sentinel is not None and value == missing_sentinel:
        anomalies["score_missing_sentinel"] += 1
        return math.nan
    if abs(value) > 1.0 + SEED_TOLERANCE:
        anomalies["score_out_of_range"] += 1
    return value


def split_count_and_title(text: str) -> tuple[int | None, str]:
    """Split a link text ``<count>: <title>`` at the first ": ".

    The prefix is a citation count only when it is a non-negative integer written in ASCII
    digits. Otherwise the whole text is the title and the count is None. Titles may contain
    ":" themselves.
    """
    prefix, separator, rest = text.partition(": ")
    if separator and prefix.isascii() and prefix.isdigit():
        return int(prefix), rest
    return None, text


def _paper_ids_from_href(href: str) -> tuple[str | None, int | None]:
    """Return (paper_id, corpus_id) named by a Semantic Scholar link; (None, None) otherwise."""
    parts = urlsplit(href.strip())
    segments = [s for s in parts.path.split("/") if s]
    host = parts.netloc.lower()
    if host in S2_PAPER_HOSTS and len(segments) >= 2 and segments[0] == "paper":
        # Paper pages are /paper/<id> or /paper/<title-slug>/<id>.
        candidate = segments[-1].lower()
        if len(candidate) == 40 and set(candidate) <= _HEX_DIGITS:
            return candidate, None
    if host == S2_API_HOST and len(segments) == 1 and segments[0].startswith("CorpusID:"):
        digits = segments[0][len("CorpusID:"):]
        if digits.isascii() and digits.isdigit():
            return None, int(digits)
    return None, None


def parse_paper_cell(cell: Tag, anomalies: Counter) -> dict:
    """Parse a Paper cell into paper_id, corpus_id, title and citation_count (None when absent).

    The cell is a link ``<count>: <title>`` to a paper page (paper_id) or to a CorpusID page
    (corpus_id), or the plain text ``NA:<corpusId>``. An empty cell gives no ids and no title.
    """
    result = {"paper_id": None, "corpus_id": None, "title": None, "citation_count": None}
    links = [node for node in cell.descendants if isinstance(node, Tag) and node.name == "a"]
    if not links:
        text = cell.get_text().strip()
        if not text:
            anomalies["empty_paper_cell"] += 1
            return result
        digits = text[3:] if text.startswith("NA:") else ""
        if digits.isascii() and digits.isdigit():
            anomalies["na_corpus_id_cell"] += 1
            result["corpus_id"] = int(digits)
            return result
        anomalies["paper_cell_without_link"] += 1
        result["citation_count"], result["title"] = split_count_and_title(text)
        _count_title_anomalies(result, anomalies)
        return result

    if len(links) > 1:
        anomalies["several_links_in_paper_cell"] += 1
    link = links[0]
    # Identity, not ==, because Tag equality compares whole subtrees.
    outside = "".join(node for node in cell.descendants if isinstance(node, NavigableString)
                      and not any(parent is link for parent in node.parents))
    if outside.strip():
        anomalies["text_outside_link"] += 1
    if any(isinstance(node, Tag) for node in link.descendants):
        anomalies["markup_in_title"] += 1

    paper_id, corpus_id = _paper_ids_from_href(link.get("href", ""))
    if paper_id is None and corpus_id is None:
        anomalies["unrecognised_link"] += 1
    elif corpus_id is not None:
        anomalies["corpus_id_link"] += 1
    result["paper_id"], result["corpus_id"] = paper_id, corpus_id
    result["citation_count"], result["title"] = split_count_and_title(link.get_text())
    _count_title_anomalies(result, anomalies)
    return result


def _count_title_anomalies(paper: dict, anomalies: Counter) -> None:
    title = paper["title"]
    if paper["citation_count"] is None:
        anomalies["no_citation_count"] += 1
    if ":" in title:
        anomalies["title_with_colon"] += 1
    if not title.isascii():
        anomalies["title_non_ascii"] += 1
    if _HTML_SPECIAL & set(title):
        anomalies["title_with_html_special_characters"] += 1


# ---------------------------------------------------------------------------------------------
# Tables


def _row_cells(row: Tag) -> list[Tag]:
    return [node for node in row.children if isinstance(node, Tag) and node.name in ("td", "th")]


def _header_labels(table: Tag) -> list[str] | None:
    """Return the header labels of a per-seed table, or None when the table is another kind."""
    first = table.find("tr")
    if first is None:
        return None
    labels = [cell.get_text().strip() for cell in _row_cells(first)]
    if (len(labels) >= 4 and labels[0].casefold() == "both"
            and labels[-1].casefold() == "paper"):
        return labels
    return None


def _stray_text(soup: BeautifulSoup) -> str | None:
    """Return the first line of text that sits outside every element but html and body.

    Legacy writers sometimes printed error messages into the file before the table.
    Comments, doctypes and text inside head, headings or paragraphs do not count.
    """
    pending = [soup]
    while pending:
        for node in pending.pop(0).children:
            if isinstance(node, Tag):
                if node.name in ("html", "body"):
                    pending.append(node)
            elif not isinstance(node, PreformattedString) and node.strip():
                return node.strip().splitlines()[0][:120]
    return None


def _read_rows(table: Tag, labels: list[str], methods: list[str],
               missing_sentinel: float | None, anomalies: Counter, rows_skipped: Counter):
    """Return the data rows of a per-seed table as a list of dicts, and the rows read."""
    records = []
    rows = table.find_all("tr")[1:]
    for row in rows:
        cells = _row_cells(row)
        texts = [cell.get_text().strip() for cell in cells]
        if not cells:
            rows_skipped[ROW_EMPTY] += 1
            continue
        if texts == labels:
            anomalies["repeated_header_row"] += 1
            rows_skipped[ROW_REPEATED_HEADER] += 1
            continue
        if all(cell.name == "th" for cell in cells):
            anomalies["header_row_with_other_labels"] += 1
            rows_skipped[ROW_OTHER_HEADER] += 1
            continue
        if len(cells) != len(labels):
            anomalies["row_with_wrong_cell_count"] += 1
            rows_skipped[ROW_CELL_COUNT] += 1
            continue

        if texts[0] not in ("0", "1"):
            anomalies["both_not_0_or_1"] += 1
        record = {"both": texts[0] == "1"}
        for name, text in zip(methods, texts[1:-1]):
            record[name] = parse_score(text, missing_sentinel, anomalies)
        record.update(parse_paper_cell(cells[-1], anomalies))
        records.append(record)
    return records, len(rows)


def _record_key(record: dict) -> tuple:
    # repr makes NaN scores compare equal.
    return tuple((key, repr(value) if isinstance(value, float) else value)
                 for key, value in record.items())


def _same_records(first: list[dict], second: list[dict]) -> bool:
    return [_record_key(r) for r in first] == [_record_key(r) for r in second]


def find_seed_row(scores: np.ndarray) -> int | None:
    """Return the position of the seed row, or None.

    Parameters
    ----------
    scores : float array, shape (n_rows, n_methods); NaN marks a missing score.

    Returns
    -------
    The first row whose present scores are all 1.0 within ``SEED_TOLERANCE`` and which has at
    least one present score; None when no row qualifies.
    """
    for position, row in enumerate(np.asarray(scores, dtype=float)):
        present = row[~np.isnan(row)]
        if present.size and np.all(np.abs(present - 1.0) <= SEED_TOLERANCE):
            return position
    return None


def parse_table(path, missing_sentinel: float | None = MISSING_SENTINEL) -> ParsedTable:
    """Read one legacy per-seed table.

    Parameters
    ----------
    path : a file ``<seedCorpusId>.md``, ``.html`` or ``.htm`` (any name whose stem is the seed
        corpus id), UTF-8; invalid bytes are replaced and counted as ``invalid_utf8``.
    missing_sentinel : score value read as missing (NaN); None keeps every number.

    Returns
    -------
    ParsedTable. The first table whose header is ``Both``, score columns, ``Paper`` is read.
    Rows whose cells do not fit the header, repeated header rows and empty rows are left out and
    counted in ``rows_skipped``. Scores that are not numbers are NaN and counted. ``status`` is
    ``failed`` when text outside the table shows that the writer reported an error, when the file
    contains another per-seed table with different rows, or when no row besides the seed row is
    left; ``seed_missing`` when the seed row lacks a score; ``ok`` otherwise.

    Raises
    ------
    NotATableError
        When the file name is not a seed corpus id, the file cannot be read, or it contains no
        per-seed table.
    """
    path = Path(path)
    seed = seed_from_file_name(path)
    if seed is None:
        raise NotATableError(SKIP_NAME, path.name)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise NotATableError(SKIP_UNREADABLE, str(error)) from error

    anomalies: Counter = Counter()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        anomalies["invalid_utf8"] += 1
        text = raw.decode("utf-8-sig", errors="replace")

    soup = BeautifulSoup(text, "html.parser")
    tables = soup.find_all("table")
    if not tables:
        raise NotATableError(SKIP_NO_TABLE)
    per_seed_tables = [(t, labels) for t in tables if (labels := _header_labels(t)) is not None]
    if not per_seed_tables:
        first = tables[0].find("tr")
        found = [c.get_text().strip() for c in _row_cells(first)] if first is not None else []
        raise NotATableError(SKIP_NOT_PER_SEED, "header " + " | ".join(found))

    table, labels = per_seed_tables[0]
    score_labels = labels[1:-1]
    methods = [method_name(label) for label in score_labels]
    if "" in methods or len(set(methods)) != len(methods):
        raise NotATableError(SKIP_NOT_PER_SEED, "score column labels " + " | ".join(score_labels))

    rows_skipped: Counter = Counter()
    records, n_rows_read = _read_rows(table, labels, methods, missing_sentinel, anomalies, rows_skipped)
    scores = np.array([[r[m] for m in methods] for r in records], dtype=float)
    scores = scores.reshape(len(records), len(methods))
    seed_row = find_seed_row(scores)

    # Compare further tables before the seed row's corpus id is filled in below.
    conflicting = False
    for other, other_labels in per_seed_tables[1:]:
        other_records, _ = _read_rows(other, other_labels, methods, missing_sentinel,
                                      Counter(), Counter())
        if other_labels == labels and _same_records(other_records, records):
            anomalies["duplicate_table"] += 1
        else:
            anomalies["conflicting_extra_table"] += 1
            conflicting = True

    both_and_missing = sum(1 for i, r in enumerate(records) if i != seed_row and r["both"]
                           and any(math.isnan(r[m]) for m in methods))
    if both_and_missing:
        anomalies["both_with_missing_score"] += both_and_missing

    status, detail = STATUS_OK, ""
    if seed_row is None:
        anomalies["no_seed_row"] += 1
    else:
        if seed_row > 0:
            anomalies["seed_row_not_first"] += 1
        seed_record = records[seed_row]
        if seed_record["corpus_id"] is None:
            seed_record["corpus_id"] = seed
        elif seed_record["corpus_id"] != seed:
            anomalies["seed_row_corpus_id_differs"] += 1
        lacking = [m for m in methods if math.isnan(seed_record[m])]
        if lacking:
            anomalies["seed_row_missing_score"] += 1
            status = STATUS_SEED_MISSING
            detail = "seed has no usable vector in: " + ", ".join(lacking)

    if conflicting:
        status, detail = STATUS_FAILED, "the file contains per-seed tables with different rows"
    stray = _stray_text(soup)
    if stray is not None:
        anomalies["text_outside_table"] += 1
        status, detail = STATUS_FAILED, f"text outside the table: {stray!r}"
    n_candidates = len(records) - (seed_row is not None)
    if n_candidates == 0 and status != STATUS_FAILED:
        anomalies["no_candidate_rows"] += 1
        status, detail = STATUS_FAILED, "no rows besides the seed row"

    return ParsedTable(path=path, seed=seed, labels=score_labels, methods=methods, records=records,
                       seed_row=seed_row, status=status, status_detail=detail,
                       n_rows_read=n_rows_read, anomalies=anomalies, rows_skipped=rows_skipped)


# ---------------------------------------------------------------------------------------------
# Statistics and the scores schema


def table_statistics(table: ParsedTable) -> dict:
    """Return the per_seed row of a table for its first two score columns.

    The union is the set of non-seed rows. ``overlap`` counts non-seed rows with Both = 1,
    ``jaccard = overlap / n_union`` (NaN when n_union is 0). The union correlations are
    Spearman's rho and Kendall's tau-b over non-seed rows with both scores
    (:func:`seedcompare.stats.rank_correlation`: NaN with fewer than 3 rows or a constant side,
    and ``union_reason`` gives the cause). Pool statistics are NaN and pool counts NA. Every
    statistic is NaN when the status is not ok, and ``union_reason`` repeats the status detail.
    """
    method_a, method_b = table.methods[:2]
    candidate = np.ones(len(table.records), dtype=bool)
    if table.seed_row is not None:
        candidate[table.seed_row] = False
    scores_a, scores_b = table.scores(method_a)[candidate], table.scores(method_b)[candidate]
    n_union = int(candidate.sum())
    row = {
        "seed": table.seed, "method_a": method_a, "method_b": method_b,
        "status": table.status, "status_detail": table.status_detail,
        "n_union": n_union,
        "spearman_pool": math.nan, "kendall_pool": math.nan, "pool_reason": POOL_REASON,
    }
    if table.status != STATUS_OK:
        n_both = int((~np.isnan(scores_a) & ~np.isnan(scores_b)).sum())
        row.update({"overlap": math.nan, "jaccard": math.nan, "n_union_both": n_both,
                    "spearman_union": math.nan, "kendall_union": math.nan,
                    "union_reason": table.status_detail})
        return row

    both = np.array([r["both"] for r in table.records], dtype=bool)
    overlap = int(both[candidate].sum())
    correlation = rank_correlation(scores_a, scores_b)
    row.update({
        "overlap": float(overlap),
        "jaccard": overlap / n_union if n_union else math.nan,
        "n_union_both": correlation.n,
        "spearman_union": correlation.spearman,
        "kendall_union": correlation.kendall,
        "union_reason": correlation.reason or "",
    })
    return row


def table_scores(table: ParsedTable, group: str) -> pd.DataFrame:
    """Return a table's rows in the scores schema plus a ``group`` column.

    Use :func:`import_tables` for many tables: it builds one frame for all of them.

    Differences from pipeline scores (docs/outputs.md): ``table_row`` is the position among the
    kept rows, so the seed row is not always 0. ``corpus_id`` is nullable Int64 because
    most legacy rows name only a paper_id (the seed row gets the seed id); ``year`` is NA;
    ``rank_<method>`` is NA because a rank in the whole pool cannot be recovered from the table;
    ``top_<method>`` is nullable boolean: True when Both = 1, False on the seed row and where the
    method's score is missing, True for the only method with a score (a union row is in at least
    one top-k list), NA otherwise.
    """
    return _normalize_scores_types(pd.DataFrame(_scores_columns(table, group)), table.methods)


def _scores_columns(table: ParsedTable, group: str) -> dict[str, list]:
    """Return a table's scores rows as column lists (None for NA); see :func:`table_scores`."""
    records, methods = table.records, table.methods
    n = len(records)
    columns = {
        "seed": [table.seed] * n,
        "corpus_id": [r["corpus_id"] for r in records],
        "is_seed": [i == table.seed_row for i in range(n)],
        "table_row": list(range(n)),
        "paper_id": [r["paper_id"] for r in records],
        "title": [r["title"] for r in records],
        "year": [None] * n,
        "citation_count": [r["citation_count"] for r in records],
    }
    for name in methods:
        columns[name] = [r[name] for r in records]
    for name in methods:
        columns[f"rank_{name}"] = [None] * n
    for name in methods:
        columns[f"top_{name}"] = []
    for i, record in enumerate(records):
        present = [not math.isnan(record[name]) for name in methods]
        if i == table.seed_row:
            tops = [False] * len(methods)
        elif record["both"]:
            tops = list(present)
        elif sum(present) == 1:
            # A union row is in at least one top-k list, and only a scored method can list it.
            tops = list(present)
        else:
            tops = [None if has_score else False for has_score in present]
        for name, top in zip(methods, tops):
            columns[f"top_{name}"].append(top)
    columns["both"] = [r["both"] for r in records]
    columns["group"] = [group] * n
    return columns


def _normalize_scores_types(scores: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    dtypes = {"seed": "int64", "corpus_id": "Int64", "is_seed": bool, "table_row": "int64",
              "paper_id": "string", "title": "string", "year": "Int64",
              "citation_count": "Int64", "both": bool, "group": "string"}
    for name in methods:
        dtypes[name] = "float64"
        dtypes[f"rank_{name}"] = "Int64"
        dtypes[f"top_{name}"] = "boolean"
    scores = scores.reindex(columns=score_columns(methods) + ["group"])
    return scores.astype(dtypes)


def _concat_scores(tables: list[dict[str, list]], methods: list[str]) -> pd.DataFrame:
    """Join the column lists of many tables into one typed scores frame.

    A method that a table lacks gets NaN scores and NA ranks and top-k flags there.
    """
    names = score_columns(methods) + ["group"]
    joined: dict[str, list] = {name: [] for name in names}
    for columns in tables:
        n = len(columns["seed"])
        for name in names:
            if name in columns:
                joined[name].extend(columns[name])
            else:
                joined[name].extend([math.nan if name in methods else None] * n)
    return _normalize_scores_types(pd.DataFrame(joined, columns=names), methods)


# ---------------------------------------------------------------------------------------------
# Import of a folder


@dataclass
class ImportSummary:
    """Counts of one import.

    ``files_skipped`` and ``rows_skipped`` map a reason to a count. ``anomalies`` maps an
    anomaly name to its occurrences, which are cells, rows or tables as the name indicates.
    ``anomaly_files`` maps it to the number of files that show it. ``tables_by_status`` counts the
    imported tables by per_seed status.
    """

    directory: str
    files_seen: int = 0
    files_read: int = 0
    files_skipped: Counter = field(default_factory=Counter)
    skipped_examples: dict = field(default_factory=dict)
    tables_by_status: Counter = field(default_factory=Counter)
    failed_tables: list = field(default_factory=list)
    rows_read: int = 0
    rows_imported: int = 0
    rows_skipped: Counter = field(default_factory=Counter)
    anomalies: Counter = field(default_factory=Counter)
    anomaly_files: Counter = field(default_factory=Counter)
    groups: int = 0
    distinct_seeds: int = 0

    def to_dict(self) -> dict:
        """Return the summary as plain JSON-ready values, counters sorted by count."""
        def ordered(counter):
            return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))
        return {
            "directory": self.directory,
            "files_seen": self.files_seen,
            "files_read": self.files_read,
            "files_skipped": ordered(self.files_skipped),
            "skipped_examples": self.skipped_examples,
            "tables_by_status": ordered(self.tables_by_status),
            "failed_tables": self.failed_tables,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_skipped": ordered(self.rows_skipped),
            "anomalies": ordered(self.anomalies),
            "anomaly_files": ordered(self.anomaly_files),
            "groups": self.groups,
            "distinct_seeds": self.distinct_seeds,
            "summary": self.line,
        }

    @property
    def line(self) -> str:
        """One-line human summary of the import."""
        statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(self.tables_by_status.items()))
        skipped = sum(self.files_skipped.values())
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in self.files_skipped.most_common())
        common = ", ".join(f"{name} ({n:,} files)" for name, n in self.anomaly_files.most_common(3))
        text = (f"imported {self.files_read:,} table(s) ({statuses or 'none'}) of {self.files_seen:,} "
                f"files in {self.directory}, {self.groups:,} groups, {self.distinct_seeds:,} distinct seeds; "
                f"skipped {skipped:,} files" + (f" ({reasons})" if skipped else "")
                + f"; {self.rows_imported:,} of {self.rows_read:,} rows imported")
        if self.anomaly_files:
            text += f"; {len(self.anomaly_files)} kinds of anomaly, most files: {common}"
        return text


@dataclass
class ImportResult:
    """Everything an import produces.

    scores : DataFrame in the scores schema plus ``group`` (see :func:`table_scores`).
    per_seed : DataFrame in the per_seed schema plus ``group`` and ``source`` (the table's path
        relative to the imported folder), one row per table in path order.
    files : DataFrame, one row per file seen: path, group, seed (Int64), outcome
        ("imported" or "skipped"), status, detail, n_rows.
    summary : ImportSummary.
    methods : method names of all score columns, in order of first appearance.
    """

    scores: pd.DataFrame
    per_seed: pd.DataFrame
    files: pd.DataFrame
    summary: ImportSummary
    methods: list[str]


def group_of(relative: Path) -> str:
    """Return the group of a table: the first folder of its path, or ``TOP_LEVEL_GROUP``."""
    return relative.parts[0] if len(relative.parts) > 1 else TOP_LEVEL_GROUP


def import_tables(directory, missing_sentinel: float | None = MISSING_SENTINEL,
                  max_examples: int = 20) -> ImportResult:
    """Import every per-seed table found under a folder.

    Parameters
    ----------
    directory : folder searched recursively. Files ending in .md, .html or .htm whose stem is a
        corpus id are read with :func:`parse_table`; every other file is skipped with a reason.
        The first folder under ``directory`` names a table's group (an author in the legacy
        layout ``<Author>/both/<seed>.md``).
    missing_sentinel : passed to :func:`parse_table`.
    max_examples : paths kept per skip reason in ``summary.skipped_examples``.

    Returns
    -------
    ImportResult. Tables are read in path order. A seed found in several files keeps one
    per_seed row per file. The anomaly ``seed_in_several_files`` counts the extra files, and
    ``seed_tables_differ`` counts those whose rows differ from the seed's first file.

    Raises
    ------
    InputDataError
        When ``directory`` is not a folder.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputDataError(f"{directory}: folder not found; give the folder that contains the tables")
    summary = ImportSummary(directory=str(directory))
    score_tables, stat_rows, file_rows = [], [], []
    methods: list[str] = []
    first_content_of_seed: dict[int, tuple] = {}

    paths = sorted((p for p in directory.rglob("*") if p.is_file()),
                   key=lambda p: p.relative_to(directory).as_posix())
    for path in paths:
        relative = path.relative_to(directory)
        group = group_of(relative)
        summary.files_seen += 1
        file_row = {"path": relative.as_posix(), "group": group, "seed": seed_from_file_name(path),
                    "outcome": "skipped", "status": "", "detail": "", "n_rows": 0}
        file_rows.append(file_row)
        try:
            if path.suffix.lower() not in TABLE_SUFFIXES:
                raise NotATableError(SKIP_SUFFIX, path.suffix or "no suffix")
            table = parse_table(path, missing_sentinel)
        except NotATableError as error:
            summary.files_skipped[error.reason] += 1
            summary.skipped_examples.setdefault(error.reason, [])
            if len(summary.skipped_examples[error.reason]) < max_examples:
                summary.skipped_examples[error.reason].append(relative.as_posix())
            file_row["detail"] = error.detail or error.reason
            log.debug("skipped %s: %s", relative, error)
            continue

        for name in table.methods:
            if name not in methods:
                methods.append(name)
        previous = first_content_of_seed.get(table.seed)
        if previous is None:
            first_content_of_seed[table.seed] = table.content_key()
        else:
            table.anomalies["seed_in_several_files"] += 1
            if previous != table.content_key():
                table.anomalies["seed_tables_differ"] += 1

        stats_row = table_statistics(table)
        stats_row.update({"group": group, "source": relative.as_posix()})
        stat_rows.append(stats_row)
        status = stats_row["status"]
        if status == STATUS_FAILED:
            table.rows_skipped[ROW_FAILED_TABLE] += len(table.records)
            summary.failed_tables.append({"path": relative.as_posix(), "detail": stats_row["status_detail"]})
            log.warning("table %s failed: %s", relative, stats_row["status_detail"])
        else:
            score_tables.append(_scores_columns(table, group))
            summary.rows_imported += len(table.records)
        if status == STATUS_OK and stats_row["union_reason"]:
            reason = stats_row["union_reason"]
            table.anomalies["union_correlation_constant" if reason.startswith("constant")
                            else "union_correlation_too_few_rows"] += 1

        summary.files_read += 1
        summary.tables_by_status[status] += 1
        summary.rows_read += table.n_rows_read
        summary.rows_skipped.update(table.rows_skipped)
        summary.anomalies.update(table.anomalies)
        summary.anomaly_files.update(table.anomalies.keys())
        file_row.update({"outcome": "imported", "status": status,
                         "detail": stats_row["status_detail"], "n_rows": len(table.records)})

    scores = _concat_scores(score_tables, methods)
    per_seed = pd.DataFrame(stat_rows).reindex(columns=per_seed_columns(methods) + ["group", "source"])
    per_seed = normalize_per_seed_types(per_seed, methods)
    per_seed["group"] = per_seed["group"].astype("string")
    per_seed["source"] = per_seed["source"].astype("string")
    files = pd.DataFrame(file_rows, columns=["path", "group", "seed", "outcome", "status", "detail",
                                             "n_rows"])
    files = files.astype({"path": "string", "group": "string", "seed": "Int64", "outcome": "string",
                          "status": "string", "detail": "string", "n_rows": "int64"})
    summary.groups = int(per_seed["group"].nunique())
    summary.distinct_seeds = len(first_content_of_seed)
    log.info("import-tables: %s", summary.line)
    return ImportResult(scores=scores, per_seed=per_seed, files=files, summary=summary, methods=methods)


# ---------------------------------------------------------------------------------------------
# Aggregation and output


def first_per_seed(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each (seed, method_a, method_b), so a seed found in several files counts once."""
    return per_seed.drop_duplicates(subset=["seed", "method_a", "method_b"], keep="first")


def aggregate_by_group(per_seed: pd.DataFrame, n_resamples: int = 9999,
                       confidence_level: float = 0.95, random_seed: int = 0) -> pd.DataFrame:
    """Aggregate per-seed statistics per group and over all groups.

    Parameters
    ----------
    per_seed : per_seed frame with a ``group`` column (as :func:`import_tables` returns).
    n_resamples, confidence_level, random_seed : passed to
        :func:`seedcompare.stats.aggregate_per_seed`.

    Returns
    -------
    DataFrame with the columns of ``aggregate_per_seed`` after a leading ``group`` column. It has
    one row per (group, method pair, statistic) for every group in sorted order, then the rows
    of group ``ALL_GROUPS`` over all groups. There a seed found in several groups counts once
    (:func:`first_per_seed`). Only rows with status ok enter the statistics, and NaN values are
    dropped per statistic.
    """
    columns = ["group", "method_a", "method_b", "statistic", "n", "mean", "median",
               "ci_low", "ci_high", "confidence_level"]
    frames = []
    parts = [(group, rows) for group, rows in per_seed.groupby("group", sort=True)]
    parts.append((ALL_GROUPS, first_per_seed(per_seed)))
    for group, rows in parts:
        if rows.empty:
            continue
        aggregate = aggregate_per_seed(rows, n_resamples, confidence_level, random_seed)
        aggregate.insert(0, "group", group)
        frames.append(aggregate)
    if not frames:
        return pd.DataFrame(columns=columns)
    result = pd.concat(frames, ignore_index=True)[columns]
    return result.astype({"group": "string", "method_a": "string", "method_b": "string",
                          "statistic": "string"})


def write_import(result: ImportResult, out_dir, n_resamples: int = 9999,
                 confidence_level: float = 0.95, random_seed: int = 0) -> dict[str, Path]:
    """Write an import's outputs under ``out_dir`` and return their paths by name.

    Writes scores/legacy.parquet, summary/per_seed.parquet, summary/aggregate.parquet (over
    distinct seeds, :func:`seedcompare.stats.aggregate_per_seed`),
    summary/aggregate_by_group.parquet (:func:`aggregate_by_group`),
    summary/import_files.parquet (``result.files``) and summary/import_report.json
    (``result.summary``).
    """
    out_dir = Path(out_dir)
    paths = {
        "scores": out_dir / "scores" / "legacy.parquet",
        "per_seed": out_dir / "summary" / "per_seed.parquet",
        "aggregate": out_dir / "summary" / "aggregate.parquet",
        "aggregate_by_group": out_dir / "summary" / "aggregate_by_group.parquet",
        "files": out_dir / "summary" / "import_files.parquet",
        "report": out_dir / "summary" / "import_report.json",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)

    result.scores.to_parquet(paths["scores"], index=False)
    result.per_seed.to_parquet(paths["per_seed"], index=False)
    distinct = first_per_seed(result.per_seed)
    if distinct.empty:
        aggregate = pd.DataFrame(columns=["method_a", "method_b", "statistic", "n", "mean", "median",
                                          "ci_low", "ci_high", "confidence_level"])
    else:
        aggregate = aggregate_per_seed(distinct, n_resamples, confidence_level, random_seed)
    aggregate.to_parquet(paths["aggregate"], index=False)
    aggregate_by_group(result.per_seed, n_resamples, confidence_level, random_seed).to_parquet(
        paths["aggregate_by_group"], index=False)
    result.files.to_parquet(paths["files"], index=False)
    paths["report"].write_text(json.dumps(result.summary.to_dict(), indent=2, ensure_ascii=False) + "\n",
                               encoding="utf-8")
    log.info("import-tables: outputs written to %s", out_dir)
    return paths
