"""Benchmark exact cosine top-k: seedcompare's blocked search, faiss IndexFlatIP, one query at a time.

Usage:
    python benchmarks/topk.py [--papers 1000000] [--dim 768] [--seeds 1000] [-k 10]
                              [--data-dir /tmp/seedcompare-bench] [--single-sample 5]

The corpus (random unit vectors, float32) is written once to --data-dir as vectors.npy +
ids.npy and reused. Each method runs in its own subprocess, so its peak resident memory
(VmHWM of the child) is its own. The one-query-at-a-time baseline times --single-sample
queries and scales to all seeds. faiss-cpu must be installed for the faiss row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_corpus(data_dir: Path, n_papers: int, dim: int) -> None:
    vectors_path = data_dir / "vectors.npy"
    if vectors_path.exists() and np.load(vectors_path, mmap_mode="r").shape == (n_papers, dim):
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    output = np.lib.format.open_memmap(vectors_path, mode="w+", dtype=np.float32, shape=(n_papers, dim))
    for start in range(0, n_papers, 100_000):
        block = rng.standard_normal((min(100_000, n_papers - start), dim), dtype=np.float32)
        output[start:start + block.shape[0]] = block / np.linalg.norm(block, axis=1, keepdims=True)
    output.flush()
    del output
    np.save(data_dir / "ids.npy", np.arange(n_papers, dtype=np.int64) * 3 + 1000)


def seed_rows(n_papers: int, n_seeds: int) -> np.ndarray:
    return np.random.default_rng(1).choice(n_papers, size=n_seeds, replace=False)


def run_ours(data_dir: Path, n_seeds: int, k: int) -> dict:
    from seedcompare.corpus import read_npy_vectors
    from seedcompare.topk import block_top_k

    ids, vectors = read_npy_vectors(data_dir)
    rows = np.sort(seed_rows(vectors.shape[0], n_seeds))
    started = time.perf_counter()
    queries = np.asarray(vectors[rows], dtype=np.float32)
    result = block_top_k(vectors, ids, queries, k, exclude_rows=rows)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "fallback_queries": result.n_fallback,
            "top": ids[result.rows[:3]].tolist()}


def run_faiss(data_dir: Path, n_seeds: int, k: int) -> dict:
    import faiss

    ids = np.load(data_dir / "ids.npy")
    vectors = np.load(data_dir / "vectors.npy", mmap_mode="r")
    rows = np.sort(seed_rows(vectors.shape[0], n_seeds))
    started = time.perf_counter()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    _, found = index.search(queries, k + 1)  # one extra: the seed finds itself
    seconds = time.perf_counter() - started
    top = [[int(ids[r]) for r in found_row if r != seed][:k] for found_row, seed in zip(found[:3], rows[:3])]
    return {"seconds": seconds, "top": top}


def run_single(data_dir: Path, n_seeds: int, k: int, sample: int) -> dict:
    vectors = np.load(data_dir / "vectors.npy", mmap_mode="r")
    rows = np.sort(seed_rows(vectors.shape[0], n_seeds))[:sample]
    started = time.perf_counter()
    for row in rows:
        scores = vectors @ vectors[row]
        scores[row] = -np.inf
        best = np.argpartition(-scores, k)[:k]
        best[np.argsort(-scores[best])]
    seconds = time.perf_counter() - started
    return {"seconds": seconds * n_seeds / len(rows), "sampled_queries": len(rows)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process since its exec (VmHWM), in MiB.

    ru_maxrss is not used because Linux carries it over from the forking parent.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(arguments) -> None:
    data_dir = Path(arguments.data_dir)
    if arguments.child == "ours":
        result = run_ours(data_dir, arguments.seeds, arguments.k)
    elif arguments.child == "faiss":
        result = run_faiss(data_dir, arguments.seeds, arguments.k)
    else:
        result = run_single(data_dir, arguments.seeds, arguments.k, arguments.single_sample)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--data-dir", default="/tmp/seedcompare-bench")
    parser.add_argument("--single-sample", type=int, default=5)
    parser.add_argument("--child", choices=["ours", "faiss", "single"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return

    data_dir = Path(arguments.data_dir)
    make_corpus(data_dir, arguments.papers, arguments.dim)
    corpus_mb = arguments.papers * arguments.dim * 4 / 2**20
    flops = 2.0 * arguments.seeds * arguments.papers * arguments.dim
    print(f"corpus: {arguments.papers} x {arguments.dim} float32 ({corpus_mb:.0f} MiB on disk), "
          f"{arguments.seeds} seeds, k={arguments.k}")
    results = {}
    for name in ("ours", "faiss", "single"):
        command = [sys.executable, __file__, "--child", name, "--papers", str(arguments.papers),
                   "--dim", str(arguments.dim), "--seeds", str(arguments.seeds), "-k", str(arguments.k),
                   "--data-dir", str(data_dir), "--single-sample", str(arguments.single_sample)]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            print(f"{name}: failed\n{completed.stderr[-2000:]}")
            continue
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])
        result = results[name]
        print(f"{name:7s} {result['seconds']:9.2f} s  {flops / result['seconds'] / 1e9:7.1f} GFLOP/s  "
              f"peak RSS {result['peak_rss_mb']:7.0f} MiB")
    if "ours" in results and "faiss" in results:
        print(f"faiss / ours time ratio: {results['faiss']['seconds'] / results['ours']['seconds']:.2f}")
        same = results["ours"]["top"] == results["faiss"]["top"]
        print(f"first three top-k lists identical to faiss: {same}")
    if "ours" in results and "single" in results:
        print(f"one-query-at-a-time / ours time ratio: "
              f"{results['single']['seconds'] / results['ours']['seconds']:.1f}")


if __name__ == "__main__":
    main()
