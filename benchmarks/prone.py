"""Benchmark seedcompare.prone against nodevectors.ProNE (not a test).

Cases (dimension 128 and the ProNE defaults order 10, mu 0.2, theta 0.5 for both):

* ``dblp``: the DBLP co-authorship graph with its 60 labels, scored by node classification
  Micro-F1. One-vs-rest logistic regression trains on 50% of the labelled nodes, on one split
  shared by both implementations, and predicts the top-k labels for a node with k true labels.
* ``powerlaw-200k``: a generated Chung-Lu power-law graph, 200,000 nodes, 2,000,000 edges.
* ``powerlaw-1m``: the same model at 1,000,000 nodes and 10,000,000 edges, ours only.

Each run is a fresh subprocess, so that its peak resident set size (ru_maxrss, which counts
numpy and scipy native allocations that tracemalloc misses) belongs to that run alone. The
child reports the RSS after imports and loading the edges (``base``) and the peak. The time
covers building the graph from the edge arrays and computing the embedding, for both
implementations alike, because nodevectors gets the same scipy CSR adjacency that ours builds.

Run from the repository root with the package and nodevectors, scikit-learn installed::

    python benchmarks/prone.py                      # all cases, ~10 minutes on 2 cores
    python benchmarks/prone.py --cases dblp --repeats 3

Graph data: ``../shared/data/graphs/prone/dblp.{ungraph,cmty}`` beside the repository, or
``--graphs DIR``. Generated graphs and embeddings go to a temporary folder (``--work-dir`` to
keep them).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GRAPHS = REPO_ROOT.parent / "shared" / "data" / "graphs" / "prone"
PARAMETERS = {"dim": 128, "order": 10, "mu": 0.2, "theta": 0.5}

log = logging.getLogger("benchmarks.prone")


def power_law_edges(n_nodes: int, n_edges: int, exponent: float = 2.5, seed: int = 0):
    """Chung-Lu graph: ``n_edges`` distinct undirected edges, every node with degree >= 1.

    Node i has weight (i + 10)^(-1/(exponent - 1)), which gives a degree distribution with
    tail P(k) ~ k^-exponent. Each node first gets one edge to a weight-drawn partner, the
    remaining edges join two weight-drawn endpoints; self-loops and repeats are redrawn.
    Labels are shuffled so that node ids carry no degree order.
    """
    rng = np.random.default_rng(seed)
    weights = (np.arange(n_nodes) + 10.0) ** (-1.0 / (exponent - 1.0))
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]

    def draw(count):
        return np.minimum(np.searchsorted(cdf, rng.random(count)), n_nodes - 1)

    def keys_of(u, v):
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        return (lo * n_nodes + hi)[lo != hi]

    # Every node gets a first edge. A node that draws itself is joined to the next node instead.
    u = np.arange(n_nodes)
    v = draw(n_nodes)
    v = np.where(v == u, (u + 1) % n_nodes, v)
    mandatory = np.unique(keys_of(u, v))
    extra = np.empty(0, dtype=np.int64)
    while mandatory.size + extra.size < n_edges:
        count = int((n_edges - mandatory.size - extra.size) * 1.05) + 1000
        extra = np.union1d(extra, keys_of(draw(count), draw(count)))
        extra = np.setdiff1d(extra, mandatory, assume_unique=True)
    extra = rng.permutation(extra)[: n_edges - mandatory.size]
    lo, hi = np.divmod(np.concatenate([mandatory, extra]), n_nodes)
    labels = rng.permutation(n_nodes)
    return labels[lo], labels[hi]


def read_labels(path: Path, ids: np.ndarray) -> np.ndarray:
    """Read a .cmty file (one line per label, listing its nodes) as a bool ids x labels matrix."""
    columns = []
    for line in path.read_text().splitlines():
        members = np.array(line.split(), dtype=np.int64)
        columns.append(np.isin(ids, members))
    return np.stack(columns, axis=1)


def micro_f1(vectors: np.ndarray, labels: np.ndarray, train_fraction: float = 0.5,
             seed: int = 0) -> float:
    """Score node classification by Micro-F1 (protocol in the module docstring)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier

    labelled = labels.any(axis=1)
    x, y = vectors[labelled], labels[labelled]
    order = np.random.default_rng(seed).permutation(x.shape[0])
    cut = int(round(train_fraction * x.shape[0]))
    train, test = order[:cut], order[cut:]
    with warnings.catch_warnings():
        # A label absent from the training half only yields a constant classifier.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(x[train], y[train])
    scores = model.decision_function(x[test])
    truth = y[test]
    ranked = np.argsort(-scores, axis=1, kind="stable")
    predicted = np.zeros_like(truth)
    for row, count in enumerate(truth.sum(axis=1)):
        predicted[row, ranked[row, :count]] = True
    return float(f1_score(truth, predicted, average="micro"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(arguments) -> None:
    """Run one embedding in this process; print a JSON line with time and memory."""
    import scipy.sparse as sp

    from seedcompare.prone import build_adjacency, prone_embedding

    if arguments.impl == "nodevectors":
        from nodevectors import ProNE
    edges = np.load(arguments.edges)
    citing, cited = edges[0], edges[1]
    base = _rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if arguments.impl == "ours":
        ids, vectors = prone_embedding((citing, cited), dim=arguments.dim, order=arguments.order,
                                       mu=arguments.mu, theta=arguments.theta,
                                       random_seed=arguments.seed)
    else:
        ids, adjacency, _ = build_adjacency(citing, cited)
        np.random.seed(arguments.seed)  # nodevectors draws its SVD sketch from numpy's global state
        model = ProNE(n_components=arguments.dim, step=arguments.order, mu=arguments.mu,
                      theta=arguments.theta, verbose=False)
        vectors = model.fit_transform(sp.csr_matrix(adjacency))
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    np.save(arguments.out, np.asarray(vectors, dtype=np.float32))
    np.save(str(arguments.out).replace(".npy", ".ids.npy"), ids)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "base_rss_mb": base,
                      "peak_rss_mb": peak, "nodes": int(ids.size)}))


def run_once(impl: str, edges: Path, out: Path, seed: int) -> dict:
    command = [sys.executable, __file__, "_child", "--impl", impl, "--edges", str(edges),
               "--out", str(out), "--seed", str(seed)]
    for key, value in PARAMETERS.items():
        command += [f"--{key}", str(value)]
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def prepare(case: str, graphs: Path, work: Path) -> Path:
    path = work / f"{case}.edges.npy"
    if path.exists():
        return path
    started = time.perf_counter()
    if case == "dblp":
        from seedcompare.prone import read_edges

        citing, cited = read_edges(graphs / "dblp.ungraph")
    elif case == "powerlaw-200k":
        citing, cited = power_law_edges(200_000, 2_000_000, seed=1)
    elif case == "powerlaw-1m":
        citing, cited = power_law_edges(1_000_000, 10_000_000, seed=2)
    else:
        raise ValueError(f"unknown case {case}")
    np.save(path, np.stack([citing, cited]))
    log.info("prepared %s: %d edges in %.1f s", case, citing.size, time.perf_counter() - started)
    return path


IMPLEMENTATIONS = {"dblp": ("ours", "nodevectors"), "powerlaw-200k": ("ours", "nodevectors"),
                   "powerlaw-1m": ("ours",)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    run_child = sub.add_parser("_child", help=argparse.SUPPRESS)
    run_child.add_argument("--impl", choices=["ours", "nodevectors"], required=True)
    run_child.add_argument("--edges", required=True)
    run_child.add_argument("--out", required=True)
    run_child.add_argument("--seed", type=int, default=0)
    run_child.add_argument("--dim", type=int, default=128)
    run_child.add_argument("--order", type=int, default=10)
    run_child.add_argument("--mu", type=float, default=0.2)
    run_child.add_argument("--theta", type=float, default=0.5)
    parser.add_argument("--cases", default=",".join(IMPLEMENTATIONS),
                        help="comma-separated cases (default: all): " + ", ".join(IMPLEMENTATIONS))
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per case and implementation, alternating (default 1)")
    parser.add_argument("--graphs", type=Path, default=DEFAULT_GRAPHS,
                        help="folder with dblp.ungraph and dblp.cmty")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep generated graphs and embeddings here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write all runs as JSON here")
    arguments = parser.parse_args(argv)
    if arguments.mode == "_child":
        child(arguments)
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="prone-bench-") as temporary:
        work = arguments.work_dir or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for case in arguments.cases.split(","):
            edges = prepare(case, arguments.graphs, work)
            labels = None
            for repeat in range(arguments.repeats):
                for impl in IMPLEMENTATIONS[case]:
                    out = work / f"{case}.{impl}.{repeat}.npy"
                    record = {"case": case, "impl": impl, "repeat": repeat,
                              **run_once(impl, edges, out, seed=repeat)}
                    if case == "dblp":
                        ids = np.load(str(out).replace(".npy", ".ids.npy"))
                        if labels is None:
                            labels = read_labels(arguments.graphs / "dblp.cmty", ids)
                        record["micro_f1"] = micro_f1(np.load(out), labels)
                    log.info("%s", record)
                    results.append(record)
        print(f"\nProNE benchmark, {platform.node()} python {platform.python_version()}, "
              f"dim {PARAMETERS['dim']}, order {PARAMETERS['order']}, mu {PARAMETERS['mu']}, "
              f"theta {PARAMETERS['theta']}\n")
        print("| case | implementation | run | seconds | CPU seconds | peak RSS MB | "
              "RSS before MB | Micro-F1 |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            f1 = f"{r['micro_f1']:.4f}" if "micro_f1" in r else ""
            print(f"| {r['case']} | {r['impl']} | {r['repeat']} | {r['seconds']:.1f} | "
                  f"{r['cpu_seconds']:.1f} | "
                  f"{r['peak_rss_mb']:.0f} | {r['base_rss_mb']:.0f} | {f1} |")
        if arguments.json:
            arguments.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
