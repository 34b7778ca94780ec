"""Render the per-seed HTML tables, the index page and the summary report (Jinja2, autoescaped)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import jinja2
import pandas as pd

from . import plots

log = logging.getLogger(__name__)

S2_PAPER_URL = "https://www.semanticscholar.org/paper/{paper_id}"
# Resolves to the paper page when only the corpus id is known.
S2_CORPUS_ID_URL = "https://api.semanticscholar.org/CorpusID:{corpus_id}"

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("seedcompare", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def format_score(value) -> str:
    """Format a cosine with six decimals, or "NA" for a missing score."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{float(value):.6f}"


def _format_statistic(value, digits: int = 4) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{float(value):.{digits}f}"


def paper_cell(corpus_id: int, paper_id, title, citation_count) -> tuple[str | None, str]:
    """Return (href, text) of the Paper cell.

    Without a title the cell is the plain text ``NA:<corpusId>``. Otherwise the text is
    ``<citation_count>: <title>`` (without the prefix when the count is unknown), linked to the
    paper page by paper_id, or by corpus id when paper_id is unknown.
    """
    if title is None or title is pd.NA or (isinstance(title, float) and math.isnan(title)):
        return None, f"NA:{corpus_id}"
    has_paper_id = isinstance(paper_id, str) and paper_id != ""
    href = (S2_PAPER_URL.format(paper_id=paper_id) if has_paper_id
            else S2_CORPUS_ID_URL.format(corpus_id=corpus_id))
    has_count = citation_count is not None and citation_count is not pd.NA and not (
        isinstance(citation_count, float) and math.isnan(citation_count))
    text = f"{int(citation_count)}: {title}" if has_count else str(title)
    return href, text


def render_seed_table(seed_rows: pd.DataFrame, methods: list[str], labels: list[str]) -> str:
    """Render one seed's rows (scores schema, any order) as the per-seed HTML table.

    Rows appear in ``table_row`` order: the seed, then the first method's top-k, then the rest
    of the union by each following method's score.
    """
    seed_rows = seed_rows.sort_values("table_row")
    rows = []
    for row in seed_rows.itertuples(index=False):
        href, text = paper_cell(row.corpus_id, row.paper_id, row.title, row.citation_count)
        rows.append({
            "both": 1 if row.both else 0,
            "scores": [format_score(getattr(row, name)) for name in methods],
            "href": href,
            "text": text,
        })
    seed = int(seed_rows["seed"].iloc[0])
    return _environment.get_template("seed_table.html.j2").render(seed=seed, labels=labels, rows=rows)


def render_tables(scores, methods: list[str], labels: list[str], tables_dir, manifest_path) -> None:
    """Write ``<tables_dir>/<seed>.html`` for every seed of a scores file or frame, and a manifest TSV."""
    if not isinstance(scores, pd.DataFrame):
        scores = pd.read_parquet(scores)
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for seed, seed_rows in scores.groupby("seed", sort=False):
        path = tables_dir / f"{seed}.html"
        path.write_text(render_seed_table(seed_rows, methods, labels), encoding="utf-8")
        seed_row = seed_rows[seed_rows["is_seed"]].iloc[0]
        manifest.append({"seed": int(seed), "table": path.name,
                         "title": seed_row["title"] if pd.notna(seed_row["title"]) else f"NA:{seed}"})
    Path(manifest_path).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(manifest, columns=["seed", "table", "title"]).to_csv(manifest_path, sep="\t", index=False)
    log.info("tables: %d written to %s", len(manifest), tables_dir)


def _first_pair(per_seed: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    return per_seed[(per_seed["method_a"] == methods[0]) & (per_seed["method_b"] == methods[1])]


def render_index(per_seed_path, seeds_path, manifest_paths, methods, labels, k: int,
                 tables_subdir: str, out_path, synthetic: bool) -> None:
    """Write the index page: one line per seed with its table link and first-pair statistics."""
    # Imported tables can list a seed in several groups; the index shows its first table.
    per_seed = _first_pair(pd.read_parquet(per_seed_path), methods).drop_duplicates("seed").set_index("seed")
    seeds = pd.read_parquet(seeds_path)
    manifest = pd.concat([pd.read_csv(p, sep="\t", dtype={"title": str}, keep_default_na=False)
                          for p in manifest_paths], ignore_index=True).set_index("seed")
    entries = []
    for seed, input_id, seed_status in zip(seeds["seed"], seeds["input_id"], seeds["status"]):
        if pd.isna(seed):  # an S2 id that did not resolve to a paper
            entry = {"seed": input_id, "table": None, "title": "", "status": seed_status}
            for statistic in ("overlap", "jaccard", "spearman_union", "kendall_union",
                              "spearman_pool", "kendall_pool"):
                entry[statistic] = "NA"
            entries.append(entry)
            continue
        seed = int(seed)
        entry = {"seed": seed, "table": None, "title": "", "status": seed_status}
        if seed in manifest.index:
            entry["table"] = f"{tables_subdir}/{manifest.at[seed, 'table']}"
            entry["title"] = manifest.at[seed, "title"]
        for statistic in ("overlap", "jaccard", "spearman_union", "kendall_union",
                          "spearman_pool", "kendall_pool"):
            value = per_seed.at[seed, statistic] if seed in per_seed.index else float("nan")
            entry[statistic] = _format_statistic(value, 0 if statistic == "overlap" else 4)
        if seed in per_seed.index:
            entry["status"] = per_seed.at[seed, "status"]
        entries.append(entry)
    html = _environment.get_template("index.html.j2").render(
        seeds=entries, label_a=labels[0], label_b=labels[1], k=k, synthetic=synthetic)
    Path(out_path).write_text(html, encoding="utf-8")
    log.info("index: %d seeds written to %s", len(entries), out_path)


def _group_rows(aggregate_by_group_path) -> list[dict]:
    """One row per group: the seeds aggregated and the mean of the main statistics."""
    by_group = pd.read_parquet(aggregate_by_group_path)
    rows = []
    for group, group_rows in by_group.groupby("group", sort=False):
        means = dict(zip(group_rows["statistic"], group_rows["mean"]))
        counts = dict(zip(group_rows["statistic"], group_rows["n"]))
        rows.append({"group": group, "n": int(counts.get("overlap", 0)),
                     **{name: _format_statistic(means.get(name)) for name in
                        ("overlap", "jaccard", "spearman_union", "kendall_union")}})
    return rows


def render_report(per_seed_path, aggregate_path, seeds_path, corpus_path, methods, labels, k: int,
                  confidence_level: float, out_path, synthetic: bool,
                  aggregate_by_group_path=None, import_summary: str | None = None) -> None:
    """Write the summary report: aggregates, plots, the selection-effect note, problem seeds.

    ``corpus_path`` may be None (imported tables have no corpus). ``aggregate_by_group_path``
    and ``import_summary`` add the per-group table and the import's summary line.
    """
    per_seed = pd.read_parquet(per_seed_path)
    aggregate = pd.read_parquet(aggregate_path)
    seeds = pd.read_parquet(seeds_path)
    label_of = dict(zip(methods, labels))

    pairs = []
    for (method_a, method_b), pair_rows in aggregate.groupby(["method_a", "method_b"], sort=False):
        stats_rows = [
            {"statistic": r.statistic, "n": int(r.n), "mean": _format_statistic(r.mean),
             "median": _format_statistic(r.median), "ci_low": _format_statistic(r.ci_low),
             "ci_high": _format_statistic(r.ci_high)}
            for r in pair_rows.itertuples(index=False)
        ]
        ok = per_seed[(per_seed["method_a"] == method_a) & (per_seed["method_b"] == method_b)
                      & (per_seed["status"] == "ok")].drop_duplicates("seed")  # a seed counts once
        title = f"{label_of[method_a]} vs {label_of[method_b]}"
        pairs.append({
            "label_a": label_of[method_a], "label_b": label_of[method_b], "aggregate": stats_rows,
            "overlap_png": plots.overlap_histogram_png(ok["overlap"].to_numpy(float), k, title),
            "correlation_png": plots.correlation_distributions_png(ok, title),
        })

    problems = [{"seed": r.input_id if pd.isna(r.seed) else int(r.seed), "status": r.status,
                 "detail": r.reason}
                for r in seeds[seeds["status"] != "ok"].itertuples(index=False)]
    not_ok = per_seed[per_seed["status"] != "ok"]
    for seed, rows in not_ok.groupby("seed", sort=False):
        problems.append({"seed": int(seed), "status": "; ".join(rows["status"].unique()),
                         "detail": "; ".join(d for d in rows["status_detail"].unique() if d)})
    n_scored = int((seeds["status"] == "ok").sum())
    html = _environment.get_template("report.html.j2").render(
        pairs=pairs, problems=problems, k=k, n_scored=n_scored,
        n_corpus=len(pd.read_parquet(corpus_path, columns=["corpus_id"])) if corpus_path else None,
        groups=_group_rows(aggregate_by_group_path) if aggregate_by_group_path else [],
        import_summary=import_summary,
        n_problem=len({p["seed"] for p in problems}), confidence_level=confidence_level,
        synthetic=synthetic)
    Path(out_path).write_text(html, encoding="utf-8")
    log.info("report written to %s", out_path)
