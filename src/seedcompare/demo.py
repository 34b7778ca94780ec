"""Generate the built-in synthetic demo corpus.

Everything here is synthetic. Papers belong to topics and each paper has a latent position
near its topic centre. Citations go preferentially to earlier papers close in that latent
space (mostly of the same topic) and to already well-cited papers. The text-like embedding
("specter") is a noisy linear image of the latent position. The default config computes the
"proposed" embedding with ProNE from the citation edges, so the two embeddings partly agree;
a precomputed citation-like embedding (the paper's latent position mixed with its citation
neighbours') is written too, as a JSALT dump.

Some papers are deliberately incomplete, so that every missing-data path of the pipeline runs:
a few text vectors are all zeros, papers without citations are absent from the citation
embedding, and some papers have no metadata, no paper_id or no citation count.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

LATENT_DIM = 32
TEXT_DIM = 768
GRAPH_DIM = 64
FIRST_CORPUS_ID = 200_000_000

_ADJECTIVES = ["Robust", "Efficient", "Neural", "Sparse", "Scalable", "Unsupervised", "Bayesian",
               "Multilingual", "Low-resource", "Interpretable", "Contrastive", "Graph-based"]
_NOUNS = ["models", "methods", "representations", "benchmarks", "estimators", "embeddings",
          "algorithms", "evaluation", "pretraining", "retrieval"]
_TOPIC_WORDS = ["machine translation", "parsing", "speech recognition", "information retrieval",
                "citation analysis", "question answering", "summarization", "morphology",
                "named entities", "dialogue", "topic models", "word embeddings", "sentiment",
                "knowledge graphs", "code search", "protein function"]
# Titles that exercise escaping and non-ASCII text in every output.
_SPECIAL_TITLES = ['Quoting "Attention" & <script>alert(1)</script> in titles',
                   "Traducción automática para el quechua: un estudio",
                   "Zero-shot ranking: what cosine similarity hides"]


def _paper_id(corpus_id: int) -> str:
    return hashlib.sha1(f"seedcompare-demo-{corpus_id}".encode()).hexdigest()


# Strength of the pull of citations towards papers close in the latent space: the weight of a
# cited paper is exp(CITATION_SHARPNESS x cosine of the two latent positions). 8 makes ProNE on the citation
# graph agree partly with the text embedding (mean top-10 overlap about 0.5, pool Spearman
# about 0.27 on the default demo).
CITATION_SHARPNESS = 8.0


def _citations(rng, latent, n_papers, mean_references):
    """Return (citing, cited) row arrays; paper i only cites papers j < i."""
    unit = latent / np.linalg.norm(latent, axis=1, keepdims=True)
    in_degree = np.zeros(n_papers)
    citing, cited = [], []
    for i in range(1, n_papers):
        n_refs = min(i, rng.poisson(mean_references))
        if n_refs == 0:
            continue
        weight = (1.0 + in_degree[:i]) * np.exp(CITATION_SHARPNESS * (unit[:i] @ unit[i]))
        targets = rng.choice(i, size=n_refs, replace=False, p=weight / weight.sum())
        citing.extend([i] * n_refs)
        cited.extend(targets.tolist())
        in_degree[targets] += 1
    return np.asarray(citing, dtype=np.int64), np.asarray(cited, dtype=np.int64)


def generate_demo(out_dir: str | Path, n_papers: int = 3000, n_topics: int = 12,
                  n_seeds: int = 200, random_seed: int = 7) -> dict[str, Path]:
    """Write the demo corpus into ``out_dir`` and return the paths written.

    Files: papers.parquet (papers table), specter/vectors.npy + specter/ids.npy (768-d),
    proposed.vec.gz (JSALT dump, 64-d, rowIndex -1 for papers without citations),
    edges.parquet (citing, cited corpus ids), seeds.tsv (``seed`` column) and README.txt.
    The output depends only on the arguments.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(random_seed)
    log.info("generating synthetic demo corpus: %d papers, %d topics, seed %d",
             n_papers, n_topics, random_seed)

    corpus_ids = FIRST_CORPUS_ID + np.cumsum(rng.integers(1, 5000, size=n_papers)).astype(np.int64)
    topics = rng.integers(0, n_topics, size=n_papers)
    years = np.sort(rng.integers(1990, 2025, size=n_papers))
    centres = rng.normal(size=(n_topics, LATENT_DIM))
    latent = centres[topics] + 0.7 * rng.normal(size=(n_papers, LATENT_DIM))

    # A few papers receive none of the expected references, so they have no edges at all.
    citing, cited = _citations(rng, latent, n_papers, mean_references=6.0)
    neighbour_sum = np.zeros_like(latent)
    degree = np.zeros(n_papers)
    np.add.at(neighbour_sum, citing, latent[cited])
    np.add.at(neighbour_sum, cited, latent[citing])
    np.add.at(degree, citing, 1)
    np.add.at(degree, cited, 1)

    text = latent @ rng.normal(size=(LATENT_DIM, TEXT_DIM)) + 2.0 * rng.normal(size=(n_papers, TEXT_DIM))
    text = text.astype(np.float32)
    text_missing = rng.random(n_papers) < 0.01
    text[text_missing] = 0.0  # a zero vector: the pipeline must treat it as missing

    with np.errstate(invalid="ignore", divide="ignore"):
        neighbour_mean = neighbour_sum / degree[:, None]
    graph_latent = 0.4 * latent + 0.6 * neighbour_mean
    graph = graph_latent @ rng.normal(size=(LATENT_DIM, GRAPH_DIM)) + 0.8 * rng.normal(size=(n_papers, GRAPH_DIM))
    graph_absent = degree == 0

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "specter").mkdir(exist_ok=True)
    np.save(out_dir / "specter" / "vectors.npy", text)
    np.save(out_dir / "specter" / "ids.npy", corpus_ids)

    with gzip.open(out_dir / "proposed.vec.gz", "wt", encoding="utf-8") as handle:
        for row, corpus_id in enumerate(corpus_ids):
            if graph_absent[row]:
                values, row_index = np.zeros(GRAPH_DIM), -1
            else:
                values, row_index = graph[row], row
            handle.write(f"{corpus_id} {row_index} " + " ".join(f"{v:.6f}" for v in values) + "\n")

    citation_count = np.bincount(cited, minlength=n_papers) + rng.poisson(3.0, size=n_papers)
    titles = [
        f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_NOUNS[rng.integers(len(_NOUNS))]} "
        f"for {_TOPIC_WORDS[topic % len(_TOPIC_WORDS)]}, demo paper {i}"
        for i, topic in enumerate(topics)
    ]
    for i, title in enumerate(_SPECIAL_TITLES):
        titles[(i + 1) * n_papers // (len(_SPECIAL_TITLES) + 1)] = title
    papers = pd.DataFrame({
        "corpus_id": corpus_ids,
        "paper_id": pd.array([_paper_id(int(c)) for c in corpus_ids], dtype="string"),
        "title": pd.array(titles, dtype="string"),
        "year": pd.array(years, dtype="Int64"),
        "citation_count": pd.array(citation_count, dtype="Int64"),
    })
    draw = rng.random(n_papers)
    papers.loc[(draw >= 0.03) & (draw < 0.05), "paper_id"] = pd.NA
    papers.loc[(draw >= 0.05) & (draw < 0.07), "citation_count"] = pd.NA
    papers = papers[draw >= 0.03]  # 3% of the papers have no metadata row at all
    papers.to_parquet(out_dir / "papers.parquet", index=False)

    pd.DataFrame({"citing": corpus_ids[citing], "cited": corpus_ids[cited]}).to_parquet(
        out_dir / "edges.parquet", index=False)

    seed_rows = rng.choice(np.flatnonzero(~graph_absent & ~text_missing), size=min(n_seeds, n_papers),
                           replace=False)
    absent_rows = np.flatnonzero(graph_absent & ~text_missing)
    if absent_rows.size and n_seeds > 1:
        seed_rows[-1] = absent_rows[0]  # shows the "seed missing in a method" status
    pd.DataFrame({"seed": corpus_ids[np.sort(seed_rows)]}).to_csv(out_dir / "seeds.tsv", sep="\t", index=False)

    (out_dir / "README.txt").write_text(
        "SYNTHETIC DEMO DATA generated by seedcompare (seedcompare.demo.generate_demo).\n"
        "No real paper, title, citation or embedding is in this folder.\n", encoding="utf-8")
    log.info("demo corpus written to %s: %d papers, %d citation edges, %d seeds, "
             "%d zero text vectors, %d papers without citations",
             out_dir, n_papers, citing.size, len(seed_rows), int(text_missing.sum()), int(graph_absent.sum()))
    return {name: out_dir / name for name in
            ("papers.parquet", "specter", "proposed.vec.gz", "edges.parquet", "seeds.tsv")}
